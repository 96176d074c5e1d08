"""Reading the warehouse: reports and the SQL functions as the database holds them."""

from __future__ import annotations

import sys

from orchestration import settings
from orchestration.cli.common import add_json_flag, database_runtime, emit_json, warehouse_url


def cmd_report(args) -> int:
    import psycopg

    from orchestration.campaign import funnel
    from orchestration.db import store

    rt = database_runtime()
    try:
        with store.connect(rt.warehouse_url) as conn:
            rows = funnel.by_day(conn, args.days)
            held = funnel.held_back(conn)
    except psycopg.errors.UndefinedTable:
        print("equity report funnel: funnel_daily is not built yet: run the refresh (`equity demo`, or "
              "contactable_refresh_job in the UI)", file=sys.stderr)
        return 2
    if args.json:
        emit_json({"report": "funnel", "days": args.days, "rows": rows, **held})
        return 0
    if not rows:
        print(f"no funnel activity in the last {args.days} days")
        return 0
    print(funnel.table(rows))
    print(funnel.held_back_text(held))
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
    rp = sub.add_parser("report", help="print a report: the funnel by day",
                        description="The funnel by day from funnel_daily (built by the daily refresh): rows "
                                    "uploaded, new leads, contactable, fed, replied, consented, booked, "
                                    "unsubscribed, bounced, and the reply and booking rates.")
    rp.add_argument("what", choices=["funnel"], help="which report")
    rp.add_argument("--days", type=int, default=14, help="how many days back")
    add_json_flag(rp)
    rp.set_defaults(func=cmd_report)
