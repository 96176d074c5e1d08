"""The people in the data: data keys, suppressions, erasure, one lead's card."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from orchestration import settings
from orchestration.cli.common import ShowDefaults, add_json_flag, database_runtime, emit_json
from orchestration.privacy import pii


def cmd_keys(args) -> int:
    from orchestration.db import store
    from orchestration.privacy import keys

    path = settings.pii_keys_file()
    if args.action == "init":
        return _keys_init()
    try:
        if args.action == "rotate":
            ring = keys.rotate(path, args.id or f"k{datetime.now(UTC):%Y%m%d%H%M%S}")
            print(f"{ring.active_id} is the active key of {path} now (keys: {', '.join(ring.keys)}). Processes "
                  "read the ring when a run or request starts; next: `equity keys reencrypt`")
            return 0
        sealer = pii.environment_sealer()
        rt = database_runtime()
        with store.connect(rt.warehouse_url, autocommit=True) as conn:
            if args.action == "reencrypt":
                print(f"re-sealing under {sealer.ring.active_id} in batches of {args.batch:,} (each commits; "
                      "interrupt and run again at any time)")
                done = keys.reencrypt(conn, sealer, batch=args.batch)
                for p in done:
                    print(f"{p.place:38} {p.resealed:>10,} re-sealed" + (f", {p.skipped:,} changed meanwhile "
                                                                          "(run again)" if p.skipped else ""))
                left = {k: n for k, n in keys.usage(conn).items() if k != sealer.ring.active_id}
                print("everything is sealed under the active key" if not left else
                      f"still under other keys: {left} (written meanwhile by a run that started before the "
                      "rotation: run `equity keys reencrypt` again)")
            elif args.action == "retire":
                ring = keys.retire(path, args.id, keys.usage(conn))
                print(f"{args.id} retired; {path} holds {', '.join(ring.keys)} (active {ring.active_id})")
            elif args.json:
                used = keys.usage(conn)
                ring = [{"key_id": kid, "fingerprint": pii.sha_of_key(key), "in_ring": True,
                         "active": kid == sealer.ring.active_id, "values": used.get(kid, 0)}
                        for kid, key in sealer.ring.keys.items()]
                ring += [{"key_id": kid, "fingerprint": None, "in_ring": False, "active": False, "values": used[kid]}
                         for kid in sorted(set(used) - set(sealer.ring.keys) - {"(plain)"})]
                emit_json({"ring_file": str(path), "keys": ring, "not_sealed": used.get("(plain)", 0)})
            else:
                used = keys.usage(conn)
                for kid, key in sealer.ring.keys.items():
                    mark = "active" if kid == sealer.ring.active_id else "opens only"
                    print(f"{kid:24} {pii.sha_of_key(key)}  {mark:10} {used.get(kid, 0):>12,} values")
                for kid in sorted(set(used) - set(sealer.ring.keys) - {"(plain)"}):
                    print(f"{kid:24} {'(not in the ring: cannot be opened!)':34} {used[kid]:>12,} values")
                if used.get("(plain)"):
                    print(f"{'(not sealed)':24} {'run `equity keys reencrypt`':34} {used['(plain)']:>12,} values")
    except (pii.KeyRingError, ValueError, OSError) as exc:
        print(f"equity keys: {exc}", file=sys.stderr)
        return 2
    return 0


def _keys_init() -> int:
    """Create each key file that does not exist (never one that does), then say where each is."""
    from orchestration.ops import keyfiles

    rt = database_runtime()
    try:
        created = {kf.variable for kf in keyfiles.create_missing(rt.warehouse_url)}
    except keyfiles.KeysNotReady as exc:
        print(f"equity keys init: {exc}", file=sys.stderr)
        return 2
    for kf in keyfiles.KEY_FILES:
        state = "created" if kf.variable in created else "present"
        print(f"{state:8} {kf.variable:20} {kf.path}  ({kf.what})")
    if created:
        print("Back up the new files with the other keys, apart from the database's backups; give each sender "
              "its upload key and each event sender its secret.")
    return 0


def cmd_suppress(args) -> int:
    import getpass

    from orchestration.db import store
    from orchestration.privacy import blind_index, suppression

    rt = database_runtime()
    try:
        index = blind_index.load(settings.index_key_file())
    except (OSError, ValueError) as exc:
        print(f"equity suppress: e-mails and phones are listed by their blind index, and the index key "
              f"({settings.index_key_file()}, EC_INDEX_KEY_FILE) cannot be read ({exc}): restore it, or create keys once with `equity keys init`",
              file=sys.stderr)
        return 2
    with store.connect(rt.warehouse_url) as conn:
        try:
            if args.action == "import" and args.hashed:
                from orchestration.privacy import deletion_list

                sealer = pii.environment_sealer()
                with open(args.file, encoding="utf-8", errors="replace") as fh:
                    r = deletion_list.import_hashes(conn, fh, source=f"deletion_list:{Path(args.file).name}",
                                                    sealer=sealer)
                kinds = ", ".join(f"{n:,} {k if k != 'any' else 'either'}" for k, n in r.by_channel.items() if n)
                print(f"{r.lines:,} lines: {r.hashes:,} SHA-256 hashes ({kinds}), {r.not_hashes:,} not hashes; "
                      f"{r.added:,} new deletion requests held; {r.matched.values_opened:,} e-mails and phones "
                      f"checked, {r.matched.values_matched:,} matched: {r.matched.suppressions_added:,} "
                      f"suppressions added ({deletion_list.REASON}), {r.leads_matched:,} leads no longer "
                      f"contactable; {r.seconds:.1f} s. Later uploads are matched before their merge.")
            elif args.action == "import":
                if args.reason is None:
                    raise suppression.SuppressionError("a phone list needs --reason dnc_federal or dnc_internal "
                                                       "(or --hashed sha256 for a hashed deletion list)")
                with open(args.file, encoding="utf-8", errors="replace") as fh:
                    r = suppression.import_phones(conn, fh, args.reason, source=f"file:{Path(args.file).name}",
                                                  index=index)
                print(f"{r.lines:,} lines: {r.numbers:,} numbers, {r.not_numbers:,} not phone numbers; "
                      f"{r.added:,} added to the list ({args.reason}), {r.leads_unverified:,} leads' phones "
                      f"no longer verified; {r.seconds:.1f} s")
            elif args.action in ("add", "remove"):
                channel, value = next((c, v) for c, v in (("email", args.email), ("phone", args.phone),
                                                          ("address", args.addr_hash)) if v)
                if args.action == "add":
                    done = suppression.add(conn, channel, value, args.reason, source=f"operator:{getpass.getuser()}",
                                           index=index)
                    print("added" if done else "already on the list")
                else:
                    done = suppression.remove(conn, channel, value, args.reason, who=getpass.getuser(), index=index)
                    print("removed" if done else "not on the list")
            elif args.json:
                cols = ("channel", "value", "reason", "source", "created_at")
                emit_json({"counts": [{"channel": c, "reason": r, "entries": n}
                                      for c, r, n in store.suppression_counts(conn)],
                           "newest": [dict(zip(cols, row)) for row in
                                      store.latest_suppressions(conn, args.channel, args.reason, args.limit)]})
            else:
                for channel, reason, n in store.suppression_counts(conn):
                    print(f"{channel:8} {reason:13} {n:>12,}")
                for row in store.latest_suppressions(conn, args.channel, args.reason, args.limit):
                    print("  ".join(str(x) for x in row))
        except (suppression.SuppressionError, StopIteration, ValueError) as exc:
            print(f"equity suppress: {exc or 'name one of --email, --phone, --addr-hash'}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"equity suppress: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
    return 0


def cmd_erase(args) -> int:
    import psycopg

    from orchestration.core.landing import Landing
    from orchestration.db import store
    from orchestration.identity import normalize
    from orchestration.privacy import erasure

    email = phone = None
    if args.email is not None:
        email = normalize.one(normalize.email, args.email)
        if email is None:
            print(f"equity erase: {args.email!r} is not an e-mail address", file=sys.stderr)
            return 2
    if args.phone is not None:
        phone = normalize.one(normalize.phone_e164, args.phone)
        if phone is None:
            print(f"equity erase: {args.phone!r} is not a valid US phone number", file=sys.stderr)
            return 2
    try:
        sealer = pii.environment_sealer()
    except (pii.KeyRingError, ValueError) as exc:
        print(f"equity erase: {exc}", file=sys.stderr)
        return 2
    rt = database_runtime()
    try:
        with store.connect(rt.warehouse_url) as conn:
            report = erasure.erase(conn, sealer, Landing(settings.landing_dir()),
                                   settings.outbox_dir(), email=email, phone=phone, lead_id=args.lead,
                                   before_removal=None if args.skip_campaign_tool else _block_in_campaign_tool(
                                       conn, sealer))
    except psycopg.errors.InvalidTextRepresentation:
        print(f"equity erase: {args.lead!r} is not a lead id (a UUID)", file=sys.stderr)
        return 2
    except BlocklistError as exc:
        print(f"equity erase: {exc}; nothing was erased. Try again, or erase now with --skip-campaign-tool and "
              "add the address to Instantly's block list by hand", file=sys.stderr)
        return 1
    print(erasure.summary_text(report))
    for lead_id in report.lead_ids:
        print(f"  lead {lead_id}")
    return 0


class BlocklistError(RuntimeError):
    pass


def _block_in_campaign_tool(conn, sealer):
    """When Instantly is configured: push the person's e-mails to its block list before their
    values are removed, and record them as pushed (the nightly sync can no longer name them)."""
    import httpx

    from orchestration.campaign import blocklist
    from orchestration.db import store

    config = blocklist.BlocklistSettings(settings.value("EC_INSTANTLY_BASE_URL"), settings.value("EC_INSTANTLY_API_KEY"))
    if not config.enabled:
        return None

    def push(emails: list[str]) -> None:
        try:
            with httpx.Client(timeout=30.0) as client:
                created = blocklist.push_values(client, config, emails)
        except blocklist.BlocklistError as exc:
            raise BlocklistError(str(exc)) from None
        store.record_block_sync(conn, "pushed", [(sealer.blind("email", e), created.get(e)) for e in emails])
        print(f"pushed {len(emails)} e-mail(s) to Instantly's block list before erasing")

    return push


def cmd_lead_audit(args) -> int:
    from orchestration.db import store
    from orchestration.identity import normalize
    from orchestration.privacy import blind_index, lead_audit

    email = phone = None
    if args.email is not None and (email := normalize.one(normalize.email, args.email)) is None:
        print(f"equity lead audit: {args.email!r} is not an e-mail address", file=sys.stderr)
        return 2
    if args.phone is not None and (phone := normalize.one(normalize.phone_e164, args.phone)) is None:
        print(f"equity lead audit: {args.phone!r} is not a valid US phone number", file=sys.stderr)
        return 2
    # The record is the person's: their values are opened (and that recorded) when the keys can be read.
    try:
        sealer = pii.environment_sealer()
        index = sealer.index
    except (pii.KeyRingError, ValueError, OSError) as exc:
        sealer = None
        print(f"(e-mails and phones stay sealed: {exc})", file=sys.stderr)
        try:
            index = blind_index.load(settings.index_key_file())
        except (OSError, ValueError):
            index = None
    rt = database_runtime()
    try:
        with store.connect(rt.warehouse_url) as conn:
            doc = lead_audit.audit(conn, sealer, index, email=email, phone=phone, lead_id=args.lead)
    except (lead_audit.AuditError, ValueError) as exc:
        print(f"equity lead audit: {exc}", file=sys.stderr)
        return 2
    if not doc["leads"] and not doc["suppressions"] and not doc["events_without_lead"]:
        print("equity lead audit: nothing is held about this person (no lead, event or suppression)", file=sys.stderr)
        if args.json:
            emit_json(doc)
        return 1
    if args.json:
        emit_json(doc)
    else:
        print(lead_audit.text(doc))
    return 0


def cmd_lead(args) -> int:

    from orchestration.db import store

    if args.action == "audit":
        return cmd_lead_audit(args)

    if (args.id is None) == (args.upload is None) or (args.upload is not None and args.row is None):
        print("equity lead show: name a lead id, or --upload ID --row N", file=sys.stderr)
        return 2
    rt = database_runtime()
    with store.connect(rt.warehouse_url) as conn:
        if args.upload is not None:
            lead_id = store.lead_for_row(conn, args.upload, args.row)
            if lead_id is None:
                print(f"equity lead: row {args.row} of upload {args.upload} became no lead (rejected, "
                      "not merged yet, or not an upload of this database)", file=sys.stderr)
                return 1
        else:
            lead_id = args.id
        try:
            shown = store.lead_card(conn, lead_id)
        except ValueError:
            print(f"equity lead: {lead_id!r} is not a lead id (a UUID)", file=sys.stderr)
            return 2
    if shown is None:
        print(f"equity lead: no lead {lead_id}", file=sys.stderr)
        return 1
    fields, sources, owners = shown
    # An operator's look at a person: their e-mail and phone are opened, and that is recorded.
    try:
        sealer = pii.environment_sealer()
    except (pii.KeyRingError, ValueError) as exc:
        sealer = None
        print(f"(e-mails and phones stay sealed: {exc})", file=sys.stderr)
    if sealer is not None:
        from orchestration.privacy.disclosure import open_lead_card

        with store.connect(rt.warehouse_url) as conn, conn.transaction():
            fields, owners, _ = open_lead_card(conn, sealer, fields, owners, purpose="equity lead show",
                                               stage="lead_show")
    if args.json:
        emit_json({"lead": fields,
                   "sources": [{"upload_id": u, "row_number": n, "received_at": at} for u, n, at in sources],
                   "previous_owners": [{"first_name": f, "last_name": la, "email": e, "phone": ph, "owned_until": t}
                                       for f, la, e, ph, t in owners],
                   "sealed": sealer is None})
        return 0
    width = max(len(k) for k in fields)
    for k, v in fields.items():
        print(f"{k:<{width}}  {'' if v is None else v}")
    print(f"\nsources ({len(sources)}): upload, row, received")
    for upload_id, row_number, received_at in sources:
        print(f"  {upload_id}  row {row_number}  {received_at:%Y-%m-%d %H:%M:%S %Z}")
    if owners:
        print(f"\nprevious owners ({len(owners)}): name, e-mail, phone, owned until")
        for first, last, email, phone, until in owners:
            print(f"  {first or ''} {last or ''}  {email or '-'}  {phone or '-'}  {until:%Y-%m-%d}")
    return 0


def register(sub) -> None:
    """Add this group's subcommands to ``equity``'s subparsers."""
    sp = sub.add_parser("suppress", help="the suppression list: import a Do-Not-Call file, add, remove, list",
                        description="Everyone on the list is excluded from the contactable view and the feed, "
                                    "on every lead that shares the e-mail, phone or address (Do-Not-Call "
                                    "entries only bar calls: the phone leaves exports). Unsubscribes, "
                                    "complaints, litigators and erasures cannot be removed.")
    spa = sp.add_subparsers(dest="action", required=True)
    si = spa.add_parser("import", help="load a phone list (one number per line) or a hashed deletion list",
                        description="Load a phone list, one number per line (the federal registry's format), "
                                    "set-based: lines that are not 10-digit US numbers are counted and skipped. "
                                    "With --hashed sha256: a deletion list of SHA-256 hashes of normalised "
                                    "e-mails (trimmed, lower-case) and phones (10 digits, or +1 and 10 digits), "
                                    "one per line, optionally with 'email' or 'phone' beside it; every lead and "
                                    "every later upload holding a matching value is suppressed "
                                    "(deletion_request). Importing a file again adds nothing.",
                        formatter_class=ShowDefaults)
    si.add_argument("file", help="the list (millions of lines are fine)")
    si.add_argument("--reason", choices=["dnc_federal", "dnc_internal"], help="which phone list it is")
    si.add_argument("--hashed", choices=["sha256"], help="the file is a hashed deletion list (California's Delete "
                                                         "Act requests and the like)")
    for name, text in (("add", "put one e-mail, phone or address on the list"),
                       ("remove", "take one entry off the list (DNC and bounce entries only)")):
        sa = spa.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                            formatter_class=ShowDefaults)
        one = sa.add_mutually_exclusive_group(required=True)
        one.add_argument("--email", help="an e-mail address")
        one.add_argument("--phone", help="a US phone number")
        one.add_argument("--addr-hash", help="a lead's addr_hash (the property)")
        sa.add_argument("--reason", required=True, choices=["unsubscribe", "bounce", "complaint", "dnc_internal",
                                                            "dnc_federal", "litigator", "erasure", "deceased",
                                                            "revoked", "deletion_request"],
                        help="why nobody may contact it")
    sl = spa.add_parser("list", help="counts by channel and reason, then the newest entries",
                        description="Counts by channel and reason, then the newest entries.",
                        formatter_class=ShowDefaults)
    sl.add_argument("--channel", choices=["email", "phone", "address"], help="only this channel")
    sl.add_argument("--reason", help="only this reason")
    sl.add_argument("--limit", type=int, default=20, help="newest entries to show")
    add_json_flag(sl)
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
    er.add_argument("--skip-campaign-tool", action="store_true",
                    help="erase even though Instantly's block list cannot be told (when Instantly is configured, "
                         "the person's e-mails are pushed to it first, and a failed push erases nothing)")
    er.set_defaults(func=cmd_erase)
    ks = sub.add_parser("keys", help="the key files and the PII data keys: init, list, rotate, reencrypt, retire",
                        description="E-mails and phones are sealed (AES-256-GCM) under the data keys of "
                                    "EC_PII_KEYS_FILE; the last key seals, the others only open. Rotation: "
                                    "`rotate`, then `reencrypt` (resumable, while the pipeline runs), then "
                                    "`retire OLD` (refused while anything is sealed under it).")
    ksa = ks.add_subparsers(dest="action", required=True)

    def key_action(name: str, text: str):
        return ksa.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    key_action("init", "create every key file that does not exist yet (upload keys, event senders, form "
                       "secret, PII data keys, blind-index key); never replaces one. The only way keys are made "
                       "for a deployment: no running process creates a key")
    add_json_flag(key_action("list", "each key of the ring: its fingerprint (never the key), active or not, and "
                                     "how many values in the warehouse it seals"))
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
    ld = sub.add_parser("lead", help="show a lead with where it came from; audit one person's whole record",
                        description="Show one lead: its fields, its keys, every upload row that became or "
                                    "merged into it, and its previous owners. Name the lead by id, or by an "
                                    "upload row (--upload ID --row N: which lead did that row become?).")
    lsub = ld.add_subparsers(dest="action", required=True)
    lshow = lsub.add_parser("show", help="print a lead and its sources",
                            description="Print a lead and its sources, by id or by upload row.")
    lshow.add_argument("id", nargs="?", help="the lead's id (a UUID)")
    lshow.add_argument("--upload", help="an upload id (with --row): the lead that row became")
    lshow.add_argument("--row", type=int, help="the row number in that upload (1 = the first data row)")
    add_json_flag(lshow)
    laudit = lsub.add_parser(
        "audit", help="one person's complete record: leads, sources, eligibility, consent, feeds, events, "
                      "suppressions, decryptions, erasure",
        description="Print everything held about one person and why: their leads (and leads they held before a "
                    "sale: property only), each source row (upload, row, vendor, received), owner history, "
                    "eligibility and its reasons, consent evidence, every feed, inbound events, suppressions, "
                    "every opening of their values and any erasure. Opening their e-mail and phone is recorded "
                    "(pii_decrypted, purpose audit). Works after an erasure (identifiers only).",
        formatter_class=ShowDefaults)
    who_a = laudit.add_mutually_exclusive_group(required=True)
    who_a.add_argument("--email", help="the person's e-mail address")
    who_a.add_argument("--phone", help="the person's phone number (any US format)")
    who_a.add_argument("--lead", help="a lead id: the person who holds it now")
    add_json_flag(laudit)
    ld.set_defaults(func=cmd_lead)
