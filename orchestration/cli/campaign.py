"""The campaign from a terminal: run one feed date or the refresh as the UI does, and see, pause or
resume the sender (whole, or one vendor list) — every pause and resume with a reason."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

from orchestration import constants, settings
from orchestration.cli.common import add_json_flag, console, emit_json
from orchestration.cli.system import prepared
from orchestration.ops import keyfiles


def _breaker_settings():
    from orchestration.campaign.breaker import BreakerSettings

    try:
        return BreakerSettings(int(settings.value("EC_BREAKER_WINDOW_DAYS")),
                               int(settings.value("EC_BREAKER_MIN_SENDS")),
                               float(settings.value("EC_BREAKER_MAX_HARD_BOUNCE_PERCENT")) / 100,
                               float(settings.value("EC_BREAKER_MAX_COMPLAINT_PERCENT")) / 100)
    except ValueError as exc:
        raise SystemExit(f"equity campaign: the EC_BREAKER_* settings are not valid ({exc})") from None


def _today() -> date:
    return datetime.now(ZoneInfo(constants.TIMEZONE)).date()


def _run(job: str, *, partition_key: str | None, launched_by: str, con, timeout_s: float):
    """Launch ``job`` through the instance's run queue (the UI lists the run and can re-execute
    it), wait for it; returns (run id, status, failure message)."""
    from dagster import DagsterInstance

    from orchestration.runs import launch

    with DagsterInstance.get() as instance:
        with con.status(f"launching {job}" + (f" for {partition_key}" if partition_key else "")) as status:
            # The run's own log stays in the UI; this terminal gets the outcome and the failure's
            # first line (a paused sender's blocking check would otherwise print as a traceback).
            run_id = launch.launch(instance, job, partition_key=partition_key, tags={"equity/launched_by": launched_by},
                                   slot_timeout_s=timeout_s, console_level="CRITICAL",
                                   on_wait=lambda full: status.update(f"waiting for the run queue ({'; '.join(full)})"))
        con.print(f"launched run {run_id}")
        with con.status(f"run {run_id} in progress") as status:
            run = launch.wait(instance, run_id, timeout_s=timeout_s, on_poll=lambda _: status.update(
                f"run {run_id}: {launch.latest_message(instance, run_id)}"))
        meta = launch.materialization_metadata(instance, run_id, "campaign_feed") if job == "campaign_feed_job" else {}
        failure = launch.failure_message(instance, run_id)
        # the first line names the problem; the rest (a query, a trace) is in the run's log in the UI
        return run_id, run.status.value, failure.strip().splitlines()[0] if failure else None, meta


def cmd_feed(args) -> int:
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print(f"equity feed: {args.date!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    if day.weekday() >= 5:
        print(f"equity feed: {day} is a {day:%A}: feed dates are weekdays (the 06:00 Monday-Friday feed)",
              file=sys.stderr)
        return 2
    from orchestration.defs.campaign.feed import feed_partitions

    if not feed_partitions.has_partition_key(day.isoformat()):
        print(f"equity feed: {day} is outside the feed's dates today ({feed_partitions.start:%Y-%m-%d} to "
              f"{feed_partitions.get_last_partition_key()}: the next morning can be prepared, later ones not yet)",
              file=sys.stderr)
        return 2
    prepared(keyfiles.RUNS)
    con = console(stderr=args.json)
    try:
        run_id, status, failure, meta = _run("campaign_feed_job", partition_key=day.isoformat(),
                                             launched_by="equity feed", con=con, timeout_s=args.wait_timeout)
    except TimeoutError as exc:
        print(f"equity feed: {exc}", file=sys.stderr)
        return 1
    from orchestration.db import store

    with store.connect(os.environ[settings.WAREHOUSE_URL_VAR]) as conn:
        exports = store.date_exports(conn, day)
    paused = bool(meta.get("paused"))
    # A paused sender feeds nobody by design: its blocking check stops the run, and that is the
    # pause working, not a failure to act on (the pause has its own alert and `equity campaign`).
    ok = status == "SUCCESS" or (paused and failure is not None and failure.startswith("check sender_health"))
    doc = {"feed_date": day.isoformat(), "run_id": run_id, "status": status, "paused": paused,
           "fed": meta.get("fed", 0), "fed_for_date": meta.get("fed_for_date", 0),
           "daily_cap": meta.get("daily_cap"), "shortfall_reason": meta.get("shortfall_reason") or meta.get("skipped"),
           "export": meta.get("export"), "exports_for_date": exports, "by_mailbox": meta.get("by_mailbox"),
           "failure": None if ok else (failure or "see the run in the UI")}
    if args.json:
        emit_json(doc)
        return 0 if ok else 1
    con.print(f"run {run_id}: {status}" + (" (stopped by the sender_health check: the sender is paused)"
                                           if paused and status != "SUCCESS" else ""))
    if not ok:
        con.print(f"[red]feed for {day} failed: {doc['failure']}[/]")
        return 1
    con.print(f"fed {doc['fed']} for {day} ({doc['fed_for_date']} of {doc['daily_cap']} for the date)")
    if doc["shortfall_reason"] and doc["shortfall_reason"] != "none":
        con.print(f"shortfall: {doc['shortfall_reason']}")
    if doc["export"]:
        con.print(f"export: {doc['export']}")
    elif exports:
        con.print(f"exports of the date (written earlier): {', '.join(exports)}")
    if paused:
        con.print("resume with: equity campaign resume --reason \"...\"")
    return 0


def cmd_refresh(args) -> int:
    from orchestration.db import store

    prepared(keyfiles.RUNS)
    con = console(stderr=args.json)
    try:
        run_id, status, failure, _ = _run("contactable_refresh_job", partition_key=None, launched_by="equity refresh",
                                          con=con, timeout_s=args.wait_timeout)
    except TimeoutError as exc:
        print(f"equity refresh: {exc}", file=sys.stderr)
        return 1
    with store.connect(os.environ[settings.WAREHOUSE_URL_VAR]) as conn:
        totals = store.lead_totals(conn)
    doc = {"run_id": run_id, "status": status, **totals, "failure": failure if status != "SUCCESS" else None}
    if args.json:
        emit_json(doc)
    else:
        con.print(f"run {run_id}: {status}")
        if status == "SUCCESS":
            con.print(f"leads {totals['leads']:,}, with a verified channel {totals['verified']:,}, contactable "
                      f"(mv_contactable_leads) {totals['contactable']:,}")
        else:
            con.print(f"[red]refresh failed: {failure or 'see the run in the UI'}[/]")
    return 0 if status == "SUCCESS" else 1


def _status_doc(conn, day: date) -> dict:
    from orchestration.campaign import breaker, health, mailboxes
    from orchestration.db import store

    rules = _breaker_settings()
    seen = health.status(conn, day, rules)
    held = {p["upload_id"]: p for p in seen.held}
    boxes = mailboxes.parse(settings.value("EC_MAILBOXES"))
    used = store.mailbox_use(conn, day)

    def pause_doc(p):
        return None if p is None else {k: p[k] for k in ("id", "upload_id", "paused_at", "paused_by", "reason",
                                                         "figures", "resumed_at", "resumed_by", "resume_reason")}

    return {
        "date": day.isoformat(),
        "state": "paused" if seen.paused else ("lists held back" if seen.held else "feeding"),
        "pause": pause_doc(seen.paused),
        "overall": seen.overall.as_dict(),
        "judgement": breaker.summary(seen.overall, rules),
        "limits": {"window_days": rules.window_days, "min_sends": rules.min_sends,
                   "max_hard_bounce_rate": rules.max_hard_bounce_rate, "max_complaint_rate": rules.max_complaint_rate},
        "lists": [f.as_dict() | {"held": f.upload_id in held, "hold_reason": held.get(f.upload_id, {}).get("reason")}
                  for f in seen.figures[1:]] + [
            {"upload_id": u, "sends": 0, "held": True, "hold_reason": p["reason"]} for u, p in held.items()
            if u not in {f.upload_id for f in seen.figures[1:]}],
        "mailboxes": [{"address": b.address, "capacity_today": b.capacity(day), "fed_today": used.get(b.address, 0),
                       "ceiling": b.cap} for b in boxes],
        "recent_pauses": [pause_doc(p) for p in store.recent_pauses(conn, 5)],
    }


def cmd_campaign(args) -> int:
    from orchestration.campaign import health
    from orchestration.db import store

    prepared()
    url = os.environ[settings.WAREHOUSE_URL_VAR]
    by = args.by or getpass.getuser()
    with store.connect(url, role="pipeline_writer") as conn:
        if args.action in ("pause", "resume"):
            if not args.reason or not args.reason.strip():
                print(f"equity campaign {args.action}: --reason is required (it is recorded with the "
                      f"{args.action})", file=sys.stderr)
                return 2
            act = health.pause if args.action == "pause" else health.resume
            try:
                with conn.transaction():
                    row = act(conn, reason=args.reason, by=by, upload_id=args.list)
            except health.PauseRefused as exc:
                print(f"equity campaign {args.action}: {exc}", file=sys.stderr)
                return 1
            scope = "the sender" if args.list is None else f"list {args.list}"
            if args.action == "pause":
                print(f"paused {scope} (pause {row['id']}, by {by}): {row['reason']}")
            else:
                print(f"resumed {scope} (pause {row['id']}, by {by}): {args.reason.strip()}\n"
                      f"  it was paused {row['paused_at']:%Y-%m-%d %H:%M %Z} by {row['paused_by']}: {row['reason']}\n"
                      "  the breaker now counts only sends fed from here on")
            return 0
        # judged as the next feed will judge it: the window ends at the latest date already fed
        # (the next morning's batch may be fed ahead of time), else today
        try:
            doc = _status_doc(conn, max(_today(), store.latest_feed_date(conn) or _today()))
        except ValueError as exc:     # a malformed EC_MAILBOXES names the mailbox and the expected form
            print(f"equity campaign status: {exc}", file=sys.stderr)
            return 2
    if args.json:
        emit_json(doc)
        return 0
    print(_status_text(doc))
    return 0


def _status_text(doc: dict) -> str:
    lim = doc["limits"]
    lines = [f"sender: {doc['state'].upper()}  ({doc['date']})"]
    if doc["pause"]:
        p = doc["pause"]
        lines.append(f"  paused {p['paused_at']:%Y-%m-%d %H:%M %Z} by {p['paused_by']}: {p['reason']}")
        lines.append("  resume with: equity campaign resume --reason \"...\"")
    lines.append(f"  {doc['judgement']}")
    lines.append(f"  limits: {lim['max_hard_bounce_rate'] * 100:.1f} % hard bounces, "
                 f"{lim['max_complaint_rate'] * 100:.2f} % complaints, at least {lim['min_sends']} sends over the "
                 f"feed dates of the last {lim['window_days']} days")
    if doc["lists"]:
        lines.append("")
        lines.append(f"  {'list (upload)':<28} {'sends':>6} {'hard':>5} {'compl':>5} {'bounce %':>8}  state")
        for r in doc["lists"]:
            rate = f"{r.get('hard_bounce_rate', 0) * 100:.1f}"
            state = f"HELD: {r['hold_reason']}" if r["held"] else "feeding"
            lines.append(f"  {r['upload_id']:<28} {r['sends']:>6} {r.get('hard_bounces', 0):>5} "
                         f"{r.get('complaints', 0):>5} {rate:>8}  {state}")
    if doc["mailboxes"]:
        lines.append("")
        lines.append(f"  {'mailbox':<32} {'today':>5} {'fed':>4} {'ceiling':>7}")
        for b in doc["mailboxes"]:
            lines.append(f"  {b['address']:<32} {b['capacity_today']:>5} {b['fed_today']:>4} {b['ceiling']:>7}")
    else:
        lines.append("  mailboxes: none configured (EC_MAILBOXES): the daily cap alone limits the feed")
    past = [p for p in doc["recent_pauses"] if p["resumed_at"] is not None]
    if past:
        lines.append("")
        lines.append("  recent resumes:")
        for p in past[:3]:
            scope = "sender" if p["upload_id"] is None else f"list {p['upload_id']}"
            lines.append(f"    {scope}: paused {p['paused_at']:%Y-%m-%d %H:%M} ({p['reason'][:60]}), resumed "
                         f"{p['resumed_at']:%Y-%m-%d %H:%M} by {p['resumed_by']}: {p['resume_reason']}")
    return "\n".join(lines)


def register(sub) -> None:
    """Add this group's subcommands to ``equity``'s subparsers."""
    f = sub.add_parser("feed", help="run the campaign feed for one date, as the UI launches it",
                       description="Launch the campaign_feed partition of DATE (a run the UI lists and can "
                                   "re-execute), wait, print what was fed, the shortfall reason and the export. "
                                   "Exit 0 when the run succeeds, or when the sender is paused (nobody fed, the "
                                   "reason printed); 1 when it fails.")
    f.add_argument("date", help="the feed date, YYYY-MM-DD (a weekday)")
    f.add_argument("--wait-timeout", type=float, default=3600.0, help="seconds to wait for the run")
    add_json_flag(f)
    f.set_defaults(func=cmd_feed)
    r = sub.add_parser("refresh", help="run the contactable refresh (scores, mv_contactable_leads), as the UI does",
                       description="Launch contactable_refresh_job (dbt build: scores, eligibility, the contactable "
                                   "view, the funnel), wait, print the counts. Exit 1 when the run fails.")
    r.add_argument("--wait-timeout", type=float, default=3600.0, help="seconds to wait for the run")
    add_json_flag(r)
    r.set_defaults(func=cmd_refresh)
    c = sub.add_parser("campaign", help="the sender's health: status, pause --reason R, resume --reason R",
                       description="status: paused or feeding, why, the breaker's figures overall and per vendor "
                                   "list, the mailboxes today. pause / resume: the whole sender, or one list with "
                                   "--list UPLOAD_ID; a reason is required and recorded. After a resume the "
                                   "breaker counts only sends fed from then on.")
    c.add_argument("action", choices=["status", "pause", "resume"], help="what to do")
    c.add_argument("--reason", help="why (required for pause and resume)")
    c.add_argument("--list", metavar="UPLOAD_ID", help="pause or resume one vendor list instead of the sender")
    c.add_argument("--by", help="who does it (default: this user)")
    add_json_flag(c)
    c.set_defaults(func=cmd_campaign)
