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
    equity keys init | list | rotate | reencrypt | retire ID   key files; the data keys e-mails and phones are sealed with
    equity report NAME [--days N] [--json | --csv]   funnel, uploads, brokers, verification, errors, scores, vendors
    equity feed DATE                           run the campaign feed of one date, as the UI does
    equity refresh                             run the contactable refresh (scores, the view)
    equity campaign status | pause --reason R | resume --reason R [--list UPLOAD_ID]   the sender's health
"""

from __future__ import annotations

import argparse
import logging
import sys

from orchestration.cli import campaign, privacy, reports, system, uploads
from orchestration.cli.common import ShowDefaults


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="equity", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--version", action="version", version=f"equity {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    _add = sub.add_parser

    def add_parser(name: str, **kwargs):
        # Every subcommand shows its help as its description and its defaults in --help.
        kwargs.setdefault("description", kwargs.get("help"))
        return _add(name, formatter_class=ShowDefaults, **kwargs)

    sub.add_parser = add_parser
    for group in (system, uploads, campaign, privacy, reports):
        group.register(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("equity-connect")
    except PackageNotFoundError:    # run from a checkout that was never installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    from orchestration import settings

    settings.load_env_file()    # the repository's .env fills what the environment leaves unset
    parser = build_parser()
    if argv[:1] == ["test"] and not set(argv[1:2]) & {"-h", "--help"}:
        # Everything after `test` is pytest's, options first included (`equity test -x -k name`):
        # argparse's REMAINDER would refuse a leading option as one of equity's own.
        args = parser.parse_args(["test"])
        args.pytest_args = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    else:
        args = parser.parse_args(argv)
    try:
        if getattr(args, "json", False):
            from orchestration.cli.common import JsonStdout

            with JsonStdout():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except Exception as exc:
        reason = _one_line_reason(exc)
        if reason is None:
            raise
        print(f"equity {args.command}: {reason}", file=sys.stderr)
        return 1


def _one_line_reason(exc: Exception) -> str | None:
    """What a person can act on, in one line, for the failures that are the environment's rather
    than a bug (the database unreachable, a key file unreadable); None for anything else."""
    import psycopg

    from orchestration import settings
    from orchestration.ops import keyfiles
    from orchestration.privacy import pii

    if isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"cannot reach the database ({settings.scrub_urls(first)}); check "
                "DATABASE_URL, or run `equity setup` to start the embedded one")
    if isinstance(exc, keyfiles.KeysNotReady):
        return str(exc)
    if isinstance(exc, pii.KeyRingError):
        return f"{exc} (see EC_PII_KEYS_FILE and EC_INDEX_KEY_FILE)"
    return None


if __name__ == "__main__":
    sys.exit(main())
