"""Erasure on request: `equity erase` removes a person's values from every place the pipeline
keeps them, keeps the rows audit needs with identifiers only, records blind-index suppressions
(no value stored), is idempotent, and a later upload naming the person never brings them back."""

import json
import os
import re
from pathlib import Path

import psycopg
import pytest

from orchestration import cli
from orchestration.privacy import pii
from tests.support import hostile
from tests.support.stack import refresh_view
from tests.support.uploads import ingest

HEADER = [*hostile.HEADER, "email_status"]
ANN = ["12 Erase Ln", "Springfield", "IL", "62704", "Annabel", "Forgetme", "annabel.forgetme@example.com",
       "(217) 555-0142", "valid"]
BOB = ["14 Keep Ln", "Springfield", "IL", "62704", "Bob", "Staysput", "bob.staysput@example.com",
       "(217) 555-0177", "valid"]
# Ann again, rejected (no address): her row lands in the DLQ payload
ANN_REJECT = ["", "", "", "", "Annabel", "Forgetme", "annabel.forgetme@example.com", "(217) 555-0142", "valid"]
ANN_VALUES = ("annabel.forgetme@example.com", "Forgetme", "5550142", "555-0142")
OTHERS = [[*hostile.good_row("er", i), "valid"] for i in range(6)]   # keeps the reject rate low


def every_text(db) -> str:
    """Every row of every table of the warehouse, as text (what a dump would show)."""
    with psycopg.connect(db) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables"
            " WHERE schemaname IN ('public', 'analytics')")]
        return "\n".join(conn.execute(f"SELECT coalesce(string_agg(t::text, '\n'), '') FROM {t} t").fetchone()[0]
                         for t in tables)


TOKEN = re.compile(r"enc1\.[0-9a-f]{32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_=-]+")
RECORD = re.compile(r"encb1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_=-]+")


def opened_text(db) -> str:
    """every_text with each sealed value and record opened: what someone holding the keys reads.
    A value absent from it is in the warehouse neither in plain text nor as ciphertext."""
    sealer = pii.environment_sealer()

    def open_token(m) -> str:
        for channel in ("email", "phone"):
            try:
                return sealer.open(channel, m.group(0))
            except Exception:
                continue
        raise AssertionError("a token that opens as neither an e-mail nor a phone")
    return RECORD.sub(lambda m: sealer.open_record(m.group(0)), TOKEN.sub(open_token, every_text(db)))


def blind(channel: str, value: str) -> str:
    return pii.environment_sealer().blind(channel, value)


def every_file(*roots: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for root in roots if root.exists()
                     for p in root.rglob("*") if p.is_file())


def digits_only(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c == "\n")


@pytest.fixture
def erase(db, monkeypatch, capsys):
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])

    def run(*args: str) -> str:
        capsys.readouterr()
        assert cli.main(["erase", *args]) == 0
        return capsys.readouterr().out
    return run


def test_erasing_a_person_removes_them_everywhere_and_keeps_them_erased(db, door, instance, defs, erase):
    uid, _ = ingest(db, door, instance, defs, hostile.to_csv([ANN, BOB, ANN_REJECT, *OTHERS], header=HEADER).encode())
    outbox = Path(os.environ["EC_OUTBOX_DIR"])
    (outbox / "2026-03-06").mkdir(parents=True, exist_ok=True)
    (outbox / "2026-03-06" / "batch-1.csv").write_text(
        "lead_id,email,phone\n1,annabel.forgetme@example.com,+12175550142\n2,bob.staysput@example.com,+12175550177\n")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES ('email', %s, 'unsubscribe',"
                     " 'test')", (blind("email", "annabel.forgetme@example.com"),))
        ann_id = conn.execute("SELECT id FROM leads WHERE pii_index(email) = %s",
                              (blind("email", "annabel.forgetme@example.com"),)).fetchone()[0]
        conn.execute("INSERT INTO campaign_batches (id, feed_date, lead_ids) VALUES (1, '2026-03-06', ARRAY[%s]::uuid[])",
                     (ann_id,))
        conn.execute("INSERT INTO campaign_batch_leads (lead_id, batch_id, feed_date) VALUES (%s, 1, '2026-03-06')",
                     (ann_id,))
    assert "Forgetme" in every_text(db) and "annabel.forgetme@example.com" in opened_text(db)
    assert "annabel.forgetme@example.com" not in every_text(db)       # sealed

    out = erase("--email", "Annabel.Forgetme@Example.com ")
    assert out.startswith("erased") and f"lead {ann_id}" in out and "leads: 1" in out
    text = opened_text(db)
    landing = Path(os.environ["EC_LANDING_DIR"])
    files = every_file(outbox, landing)
    for value in ANN_VALUES:
        assert value.lower() not in text.lower(), value
        assert value.lower() not in files.lower(), value
    assert "5550142" not in digits_only(text)
    assert "bob.staysput@example.com" in text and "bob.staysput@example.com" in files   # nobody else
    # her blind index is left only where it must be: the erasure suppression (and the unsubscribe)
    raw = every_text(db)
    assert raw.count(blind("email", "annabel.forgetme@example.com")) == 2
    assert raw.count(blind("phone", "+12175550142")) == 1
    with psycopg.connect(db) as conn:
        lead = conn.execute("SELECT campaign_status, erased_at IS NOT NULL, addr_hash IS NOT NULL FROM leads"
                            " WHERE id = %s", (ann_id,)).fetchone()
        kept_feed = conn.execute("SELECT count(*) FROM campaign_batch_leads WHERE lead_id = %s", (ann_id,)).fetchone()[0]
        erasures = conn.execute("SELECT channel, length(value) FROM suppressions WHERE reason = 'erasure'"
                                " ORDER BY 1").fetchall()
        manifest = json.loads(landing.joinpath("uploads", f"{uid}.json").read_text())
    assert lead == ("do_not_contact", True, True) and kept_feed == 1
    assert erasures == [("email", 32), ("owner", 32), ("phone", 32)]
    assert manifest["redacted_lines"] == 2                # her two rows left the landed file

    again = erase("--email", "annabel.forgetme@example.com")
    assert again.startswith("nothing left to remove")

    # A later list naming her again (her e-mail at a new address; her phone elsewhere; the same
    # owner at the same property with nothing else): no lead of hers comes back.
    later = [["99 Elsewhere Rd", "Peoria", "IL", "61602", "Annabel", "Forgetme", "annabel.forgetme@example.com",
              "", "valid"],
             ["5 Other St", "Peoria", "IL", "61602", "A", "Nother", "a.nother@example.com", "(217) 555-0142", "valid"],
             ["12 Erase Lane", "Springfield", "IL", "62704", "Annabel", "Forgetme", "", "", ""],
             BOB]
    uid2, result = ingest(db, door, instance, defs, hostile.to_csv(later, header=HEADER).encode())
    assert result.success
    with psycopg.connect(db) as conn:
        merged = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'merged' AND upload_id = %s",
                              (uid2,)).fetchone()[0]
    assert merged["erased_rows"] == 3
    text = opened_text(db).lower()
    assert "annabel.forgetme@example.com" not in text and "forgetme" not in text
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM leads WHERE pii_index(phone) = %s",
                            (blind("phone", "+12175550142"),)).fetchone()[0] == 0
        # the row that gave her phone keeps its property, not its person (the conservative reading)
        assert conn.execute("SELECT count(*) FROM leads WHERE property_address = '5 OTHER ST'"
                            " AND email IS NULL AND phone IS NULL").fetchone()[0] == 1
    assert "5550142" not in digits_only(opened_text(db))


def test_the_same_file_again_after_an_erasure_brings_no_contactable_lead_back(db, door, instance, defs, erase):
    """Erase Ann, then the vendor sends the same list again (byte for byte but its line ends, which
    the replay guard would otherwise refuse): she has no contactable lead, and her e-mail is in the
    warehouse neither in plain text nor as a token that opens to it."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO brokers (company_name, license_states, territory_zip_codes, max_leads_per_week)"
                     " VALUES ('Broker IL', '{IL}', '{62704}', 100)")
    rows = [ANN, BOB, *OTHERS]
    ingest(db, door, instance, defs, hostile.to_csv(rows, header=HEADER).encode())
    refresh_view(db, defs, instance)
    ann = blind("email", "annabel.forgetme@example.com")
    contactable = ("SELECT count(*) FROM analytics.mv_contactable_leads c JOIN leads l ON l.id = c.lead_id"
                   " WHERE pii_index(l.email) = %s")
    with psycopg.connect(db) as conn:
        assert conn.execute(contactable, (ann,)).fetchone()[0] == 1
    erase("--email", "annabel.forgetme@example.com")
    _, again = ingest(db, door, instance, defs, hostile.to_csv(rows, header=HEADER, newline="\r\n").encode())
    assert again.success
    refresh_view(db, defs, instance)
    with psycopg.connect(db) as conn:
        assert conn.execute(contactable, (ann,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM leads WHERE pii_index(email) = %s", (ann,)).fetchone()[0] == 0
        bob = conn.execute(contactable, (blind("email", "bob.staysput@example.com"),)).fetchone()[0]
    assert bob == 1                                                   # nobody else lost
    text = opened_text(db).lower()
    assert "annabel.forgetme@example.com" not in text and "forgetme" not in text and "5550142" not in digits_only(text)


@pytest.mark.parametrize("how", ["phone", "lead"])
def test_erase_by_phone_or_lead_id(db, door, instance, defs, erase, how):
    ingest(db, door, instance, defs, hostile.to_csv([ANN, BOB], header=HEADER).encode())
    with psycopg.connect(db) as conn:
        ann_id = conn.execute("SELECT id FROM leads WHERE pii_index(email) = %s",
                              (blind("email", "annabel.forgetme@example.com"),)).fetchone()[0]
    out = erase("--phone", "217.555.0142") if how == "phone" else erase("--lead", str(ann_id))
    assert "leads: 1" in out
    text = opened_text(db).lower()
    assert "annabel.forgetme@example.com" not in text and "forgetme" not in text
    assert "bob.staysput@example.com" in text


def test_erase_refuses_what_names_nobody(db, monkeypatch, capsys):
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    assert cli.main(["erase", "--email", "not-an-email"]) == 2
    assert "is not an e-mail address" in capsys.readouterr().err
    assert cli.main(["erase", "--phone", "555"]) == 2
    assert cli.main(["erase", "--lead", "not-a-uuid"]) == 2
    assert "is not a lead id" in capsys.readouterr().err


def test_a_property_whose_owner_was_erased_takes_its_next_owner(db, door, instance, defs, erase):
    ingest(db, door, instance, defs, hostile.to_csv([ANN, BOB], header=HEADER).encode())
    erase("--email", "annabel.forgetme@example.com")
    sold = [["12 Erase Ln", "Springfield", "IL", "62704", "Carla", "Newowner", "carla.newowner@example.com",
             "(217) 555-0188", "valid"]]
    ingest(db, door, instance, defs, hostile.to_csv(sold, header=HEADER).encode())
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT first_name, email, campaign_status, erased_at FROM leads"
                           " WHERE property_address = '12 ERASE LN'").fetchall()
        changed = conn.execute("SELECT count(*) FROM pipeline_events WHERE event_type = 'owner_changed'").fetchone()[0]
    assert [(r[0], pii.environment_sealer().open("email", r[1]), *r[2:]) for r in row] == [
        ("Carla", "carla.newowner@example.com", "new", None)] and changed == 1
    assert "forgetme" not in opened_text(db).lower()


def test_a_merge_refuses_to_run_without_the_index_key_once_anyone_was_erased(db):
    from orchestration.ingest import pipeline
    from tests.support.merges import COLS, land_and_validate

    ctx, uid = land_and_validate(db, (COLS + "M1,,1 Main St,Town,CA,90210,Ann,70,,,,,,\n").encode())
    ctx.sealer = None                                               # the key files went missing since
    ctx.keep_work_rows_hours = 1                                    # (so the merge can run twice)
    assert ctx.index_key is None
    assert pipeline.merge(ctx, uid).counts["erased_rows"] == 0      # no erasure yet: no key needed
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES ('email', %s, 'erasure', 't')",
                     ("0" * 32,))
    with pytest.raises(pipeline.StageFailed, match="no index key is configured"):
        pipeline.merge(ctx, uid)
