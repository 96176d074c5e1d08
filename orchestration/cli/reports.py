"""Reading the warehouse: reports and the SQL functions as the database holds them."""

from __future__ import annotations

import sys

from orchestration import settings
from orchestration.cli.common import database_runtime, emit_json, warehouse_url


def cmd_report(args) -> int:
    import psycopg

    from orchestration.campaign import dashboards, funnel
    from orchestration.db import store

    report = dashboards.REPORTS[args.what]
    rt = database_runtime()
    try:
        with store.connect(rt.warehouse_url) as conn:
            rows = dashboards.rows_for(conn, args.what, args.days)
            held = funnel.held_back(conn) if args.what == "funnel" else None
    except psycopg.errors.UndefinedTable:
        print(f"equity report {args.what}: analytics.{report.mart} is not built yet: run the refresh (`equity "
              "refresh`, `equity demo`, or contactable_refresh_job in the UI)", file=sys.stderr)
        return 2
    if args.json:
        emit_json([{k: dashboards.plain(v) for k, v in r.items()} for r in rows])
        return 0
    if args.csv:
        sys.stdout.write(dashboards.as_csv(rows))
        return 0
    if args.what == "funnel":
        if not rows:
            print(f"no funnel activity in the last {args.days} days")
        else:
            print(funnel.table(rows))
        print(funnel.held_back_text(held))
        return 0
    print(dashboards.as_text(report, rows))
    return 0


def cmd_sql(args) -> int:
    import psycopg

    from orchestration.db import sqlfiles, store

    if args.action == "show" and not args.name:
        print("equity sql show NAME: name a function (see `equity sql list`)", file=sys.stderr)
        return 2
    with psycopg.connect(warehouse_url()) as conn:
        def live(obj) -> str | None:
            return store.function_definition(conn, obj.schema, obj.function_name)

        if args.action == "list":
            for obj in sqlfiles.objects():
                text = live(obj)
                state = "missing" if text is None else ("matches its file" if text == obj.function_definition
                                                        else "DIFFERS from its file")
                print(f"{obj.name:<28} {obj.path.relative_to(settings.REPO_ROOT)}  {state}")
            return 0
        try:
            obj = sqlfiles.get(args.name)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        text = live(obj)
        if text is None:
            print(f"{args.name} is not in the database: run `equity migrate`", file=sys.stderr)
            return 1
        print(text.rstrip("\n"))
        if text != obj.function_definition:
            print(f"-- note: differs from {obj.path.relative_to(settings.REPO_ROOT)}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add this group's subcommands to ``equity``'s subparsers."""
    q = sub.add_parser("sql", help="the database's functions: list them, or show one's live definition",
                       description="Every function and trigger has one file under orchestration/db/sql/. "
                                   "`list` shows each with whether the live database matches its file; "
                                   "`show NAME` prints the live definition (pg_get_functiondef).")
    q.add_argument("action", choices=["list", "show"], help="list every function, or show one")
    q.add_argument("name", nargs="?", help="function name, e.g. merge_validated_leads or auth.uid")
    q.set_defaults(func=cmd_sql)
    from orchestration.campaign.dashboards import REPORTS

    rp = sub.add_parser("report", help="print a report: " + ", ".join(REPORTS),
                        description="The dashboards' figures from their dbt marts (built by the daily refresh and "
                                    "after each ingest): " + "; ".join(f"{r.name} ({r.mart})" for r in
                                                                       REPORTS.values())
                                    + ". Text by default; --json prints the rows as a list of objects, --csv as CSV.")
    rp.add_argument("what", choices=list(REPORTS), help="which report")
    rp.add_argument("--days", type=int, default=14, help="how many days back (funnel, uploads, brokers, errors)")
    fmt = rp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the rows as a JSON list of objects on stdout")
    fmt.add_argument("--csv", action="store_true", help="the rows as CSV on stdout (for a spreadsheet)")
    rp.set_defaults(func=cmd_report)
