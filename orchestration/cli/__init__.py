"""``equity``: set up, run and inspect the pipeline from a terminal.

    equity setup            start/attach the database, migrate, prepare dbt, create dev key + landing dir
    equity status           what runs where (database, migrations, landing, keys)
    equity stop             stop the embedded PostgreSQL
    equity env              print the environment the other parts read (export lines)
    equity migrate [up|down] [REV]
    equity demo             the main job on bundled sample data, with a summary
    equity test [PYTEST ARGS]  run the test suite (fails when no test ran)
    equity ui               Dagster UI (database first; Ctrl-C / SIGTERM stop it cleanly)
    equity code-server | webserver | daemon    production: the three Dagster processes, separately
    equity serve            the HTTP app: POST /uploads, POST /events, GET/POST /consent/<token>
    equity upload FILE --source S [--url U]   sign and POST a CSV (what a vendor script runs)
    equity sign FILE --source S                write FILE.sig.json for an SFTP-style drop
    equity ingest UPLOAD_ID | --latest         run the ingest job for one upload, print its counts
    equity brokers FILE                        load/update brokers (upsert by NMLS number)
    equity sql list | show NAME                the database's functions, live, against their files
    equity suppress import FILE --reason R | add | remove | list   the suppression list (DNC files, opt-outs)
    equity erase --email E | --phone P | --lead ID   erase a person on request
    equity keys list | rotate | reencrypt | retire ID   the data keys e-mails and phones are sealed with
    equity report funnel [--days N]            the funnel by day (uploaded ... fed, replied, booked)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from orchestration import constants
from orchestration.cli.privacy import cmd_erase, cmd_keys, cmd_lead, cmd_suppress
from orchestration.cli.reports import cmd_report, cmd_sql
from orchestration.cli.system import (
    cmd_code_server,
    cmd_daemon,
    cmd_demo,
    cmd_env,
    cmd_migrate,
    cmd_setup,
    cmd_status,
    cmd_stop,
    cmd_test,
    cmd_ui,
    cmd_webserver,
)
from orchestration.cli.uploads import cmd_brokers, cmd_ingest, cmd_serve, cmd_sign, cmd_upload


class _ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.required or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="equity", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _add = sub.add_parser

    def add_parser(name: str, **kwargs):
        # Every subcommand shows its help as its description and its defaults in --help.
        kwargs.setdefault("description", kwargs.get("help"))
        return _add(name, formatter_class=_ShowDefaults, **kwargs)

    sub.add_parser = add_parser
    s = sub.add_parser("setup", help="start the database, migrate, prepare dbt")
    s.add_argument("--skip-dbt", action="store_true", help="do not prepare the dbt manifest")
    s.set_defaults(func=cmd_setup)
    sub.add_parser("status", help="show database, schema and landing status").set_defaults(func=cmd_status)
    sub.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_stop)
    e = sub.add_parser("env", help="print export lines for Dagster/dbt/psql")
    e.add_argument("--example", action="store_true", help="print .env.example instead: every setting, its "
                                                          "default and meaning (from orchestration/settings.py)")
    e.set_defaults(func=cmd_env)
    m = sub.add_parser("migrate", help="alembic upgrade/downgrade")
    m.add_argument("direction", nargs="?", choices=["up", "down"], default="up", help="migrate up or down")
    m.add_argument("revision", nargs="?", help="target revision (default head / base)")
    m.set_defaults(func=cmd_migrate)
    q = sub.add_parser("sql", help="the database's functions: list them, or show one's live definition",
                       description="Every function and trigger has one file under orchestration/db/sql/. "
                                   "`list` shows each with whether the live database matches its file; "
                                   "`show NAME` prints the live definition (pg_get_functiondef).")
    q.add_argument("action", choices=["list", "show"], help="list every function, or show one")
    q.add_argument("name", nargs="?", help="function name, e.g. merge_validated_leads or auth.uid")
    q.set_defaults(func=cmd_sql)
    b = sub.add_parser("brokers", help="load/update brokers from a CSV (company_name, nmls_number, "
                       "license_states, territory_zip_codes as ';' lists, max_leads_per_week)")
    b.add_argument("file", help="brokers CSV (see orchestration/sample_data/brokers.csv)")
    b.set_defaults(func=cmd_brokers)
    sp = sub.add_parser("suppress", help="the suppression list: import a Do-Not-Call file, add, remove, list",
                        description="Everyone on the list is excluded from the contactable view and the feed, "
                                    "on every lead that shares the e-mail, phone or address (Do-Not-Call "
                                    "entries only bar calls: the phone leaves exports). Unsubscribes, "
                                    "complaints, litigators and erasures cannot be removed.")
    spa = sp.add_subparsers(dest="action", required=True)
    si = spa.add_parser("import", help="load a phone list, one number per line (the federal registry's format)",
                        description="Load a phone list, one number per line (the federal registry's format), "
                                    "set-based: lines that are not 10-digit US numbers are counted and skipped.",
                        formatter_class=_ShowDefaults)
    si.add_argument("file", help="the list (10-digit numbers, one per line; millions of lines are fine)")
    si.add_argument("--reason", required=True, choices=["dnc_federal", "dnc_internal"], help="which list it is")
    for name, text in (("add", "put one e-mail, phone or address on the list"),
                       ("remove", "take one entry off the list (DNC and bounce entries only)")):
        sa = spa.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                            formatter_class=_ShowDefaults)
        one = sa.add_mutually_exclusive_group(required=True)
        one.add_argument("--email", help="an e-mail address")
        one.add_argument("--phone", help="a US phone number")
        one.add_argument("--addr-hash", help="a lead's addr_hash (the property)")
        sa.add_argument("--reason", required=True, choices=["unsubscribe", "bounce", "complaint", "dnc_internal",
                                                            "dnc_federal", "litigator", "erasure"],
                        help="why nobody may contact it")
    sl = spa.add_parser("list", help="counts by channel and reason, then the newest entries",
                        description="Counts by channel and reason, then the newest entries.",
                        formatter_class=_ShowDefaults)
    sl.add_argument("--channel", choices=["email", "phone", "address"], help="only this channel")
    sl.add_argument("--reason", help="only this reason")
    sl.add_argument("--limit", type=int, default=20, help="newest entries to show")
    sp.set_defaults(func=cmd_suppress)
    er = sub.add_parser("erase", help="erase a person on request (GDPR/CCPA-style): PII removed everywhere",
                        description="Erase a person: their leads keep only ids and property keys (set "
                                    "do_not_contact), their values leave previous-owner rows, work rows, DLQ "
                                    "payloads, inbound events, exports and landed files; "
                                    "erasure suppressions by blind index (no value stored) keep a later upload "
                                    "from bringing them back. Prints what it removed; running it again removes "
                                    "nothing.")
    who = er.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's e-mail address")
    who.add_argument("--phone", help="the person's phone number (any US format)")
    who.add_argument("--lead", help="a lead id: the person who holds it now")
    er.set_defaults(func=cmd_erase)
    ks = sub.add_parser("keys", help="the PII data keys: list, rotate, reencrypt, retire",
                        description="E-mails and phones are sealed (AES-256-GCM) under the data keys of "
                                    "EC_PII_KEYS_FILE; the last key seals, the others only open. Rotation: "
                                    "`rotate`, then `reencrypt` (resumable, while the pipeline runs), then "
                                    "`retire OLD` (refused while anything is sealed under it).")
    ksa = ks.add_subparsers(dest="action", required=True)

    def key_action(name: str, text: str):
        return ksa.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    key_action("list", "each key of the ring: its fingerprint (never the key), active or not, and how many "
                       "values in the warehouse it seals")
    kr = key_action("rotate", "add a new data key to the ring: it seals from the next run on, the others "
                              "only open")
    kr.add_argument("--id", help="the new key's id (letters, digits, '-', '_'; when omitted: k<UTC timestamp>)")
    ke = key_action("reencrypt", "re-seal every value not under the active key (and seal plain values an older "
                                 "version stored), in batches that each commit: resumable, safe while the "
                                 "pipeline runs")
    ke.add_argument("--batch", type=int, default=2000, help="rows per batch, each its own transaction "
                                                            "(default: %(default)s)")
    kt = key_action("retire", "remove a data key from the ring; refused for the active key and while any value "
                              "is sealed under it")
    kt.add_argument("id", help="the key id to retire")
    ks.set_defaults(func=cmd_keys)
    ld = sub.add_parser("lead", help="show a lead with where it came from (its upload rows)",
                        description="Show one lead: its fields, its keys, every upload row that became or "
                                    "merged into it, and its previous owners. Name the lead by id, or by an "
                                    "upload row (--upload ID --row N: which lead did that row become?).")
    lsub = ld.add_subparsers(dest="action", required=True)
    lshow = lsub.add_parser("show", help="print a lead and its sources",
                            description="Print a lead and its sources, by id or by upload row.")
    lshow.add_argument("id", nargs="?", help="the lead's id (a UUID)")
    lshow.add_argument("--upload", help="an upload id (with --row): the lead that row became")
    lshow.add_argument("--row", type=int, help="the row number in that upload (1 = the first data row)")
    ld.set_defaults(func=cmd_lead)
    rp = sub.add_parser("report", help="print a report: the funnel by day",
                        description="The funnel by day from funnel_daily (built by the daily refresh): rows "
                                    "uploaded, new leads, contactable, fed, replied, consented, booked, "
                                    "unsubscribed, bounced, and the reply and booking rates.")
    rp.add_argument("what", choices=["funnel"], help="which report")
    rp.add_argument("--days", type=int, default=14, help="how many days back")
    rp.set_defaults(func=cmd_report)
    d = sub.add_parser("demo", help="run the main job on bundled sample data and print a summary")
    d.add_argument("--rows", type=int, default=0, help="generate this many rows instead of the bundled file")
    d.set_defaults(func=cmd_demo)
    t = sub.add_parser("test", help="set up and run pytest (no tests collected = failure)")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest as they are")
    t.set_defaults(func=cmd_test)
    u = sub.add_parser("ui", help="open the Dagster UI (dagster dev)")
    u.add_argument("--host", default="127.0.0.1", help="interface the UI listens on")
    u.add_argument("--port", type=int, default=3000, help="port of the UI")
    u.set_defaults(func=cmd_ui)
    cs = sub.add_parser("code-server", help="production: the code location as its own gRPC process")
    cs.add_argument("--host", default="127.0.0.1", help="interface the code server listens on")
    cs.add_argument("--port", type=int, default=4266, help="port of the code server")
    cs.set_defaults(func=cmd_code_server)
    ws = sub.add_parser("webserver", help="production: the Dagster UI alone, code from the code server")
    ws.add_argument("--host", default="127.0.0.1", help="interface the UI listens on")
    ws.add_argument("--port", type=int, default=3000, help="port of the UI")
    ws.add_argument("--code-server", default="127.0.0.1:4266", help="host:port of `equity code-server`")
    ws.set_defaults(func=cmd_webserver)
    dm = sub.add_parser("daemon", help="production: the Dagster daemon alone (schedules, sensors, run queue)")
    dm.add_argument("--code-server", default="127.0.0.1:4266", help="host:port of `equity code-server`")
    dm.set_defaults(func=cmd_daemon)
    sv = sub.add_parser("serve", help="run the HTTP app: uploads, signed events, consent links")
    sv.add_argument("--host", default="127.0.0.1", help="interface the endpoint listens on")
    sv.add_argument("--port", type=int, default=8080, help="port of the endpoint")
    sv.add_argument("--max-bytes", type=int, default=constants.MAX_UPLOAD_BYTES,
                    help="largest body accepted (bytes); larger uploads get 413")
    sv.add_argument("--body-timeout", type=float, default=constants.BODY_IDLE_TIMEOUT_S,
                    help="seconds a body may send nothing before it is refused (408)")
    sv.add_argument("--max-uploads-per-key", type=int, default=constants.MAX_UPLOADS_PER_KEY,
                    help="bodies one key may stream at once; more get 429")
    sv.set_defaults(func=cmd_serve)
    up = sub.add_parser("upload", help="sign a CSV and POST it to the upload endpoint")
    up.add_argument("file", help="the CSV to send")
    up.add_argument("--source", required=True, choices=constants.SOURCES, help="the file's column profile")
    up.add_argument("--url", default=os.environ.get("EC_UPLOAD_URL", "http://127.0.0.1:8080"),
                    help="the upload endpoint (EC_UPLOAD_URL); the key comes from EC_UPLOAD_KEY or the local key file")
    up.set_defaults(func=cmd_upload)
    ig = sub.add_parser("ingest", help="run the ingest job for one upload and print its counts",
                        description="Runs ingest_upload for the upload's partition — the job the sensor "
                                    "launches — as a run recorded in the Dagster instance (the UI shows it "
                                    "and can re-execute it). Exits 1 when the run fails.")
    which = ig.add_mutually_exclusive_group(required=True)
    which.add_argument("upload_id", nargs="?", help="an accepted upload id (as `equity upload` printed it)")
    which.add_argument("--latest", action="store_true", help="the newest accepted upload")
    ig.add_argument("--wait-timeout", type=float, default=3600.0, metavar="SECONDS",
                    help="give up waiting (for the run queue's slot, then for the run) after this long; "
                         "a run already started goes on")
    ig.set_defaults(func=cmd_ingest)
    sg = sub.add_parser("sign", help="write FILE.sig.json for a signed drop into the landing directory")
    sg.add_argument("file", help="the CSV to sign")
    sg.add_argument("--source", required=True, choices=constants.SOURCES, help="the file's column profile")
    sg.set_defaults(func=cmd_sign)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
