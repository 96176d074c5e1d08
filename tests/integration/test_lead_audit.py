"""`equity lead audit`: one person's complete record after the whole loop ran for real — uploaded
through the signed door, merged, judged by the refresh, fed, consented through the one-time link,
replied — and again after they were erased (identifiers only). Another person's data never
appears in it, and opening the person's values is recorded."""

from __future__ import annotations

import csv
import json

import httpx
import psycopg
import pytest

from orchestration import cli
from tests.support import hostile
from tests.support.feeds import FRIDAY, feed_meta
from tests.support.stack import run_job, scalar
from tests.integration.test_events import event, post
from tests.support.uploads import ingest

HEADER = ["address", "city", "state", "zip", "first_name", "last_name", "email", "email_status", "phone", "owner_age",
          "xxTrustedFormCertUrl"]
CERT = "https://cert.trustedform.com/0123456789abcdef0123456789abcdef01234567"
MARY = ["1 Audit St", "Springfield", "IL", "62704", "Mary", "Audited", "mary.audited@example.com", "valid",
        "(217) 555-0181", "71", CERT]
BOB = ["2 Other St", "Springfield", "IL", "62704", "Bob", "Bystander", "bob.bystander@example.com", "valid",
       "(217) 555-0182", "75", ""]


@pytest.fixture
def audit(db, monkeypatch, capsys):
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])

    def run(*args: str, code: int = 0):
        capsys.readouterr()
        assert cli.main(list(args)) == code
        out = capsys.readouterr().out
        return json.loads(out) if "--json" in args else out
    return run


def test_the_audit_of_a_fed_consented_replied_person_and_of_them_erased(db, door, instance, defs, app, events, audit):
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO brokers (company_name, nmls_number, license_states, territory_zip_codes,"
                     " max_leads_per_week) VALUES ('Broker IL', '654321', '{IL}', '{62704}', 1000)")
    uid, result = ingest(db, door, instance, defs, hostile.to_csv([MARY, BOB], header=HEADER).encode())
    assert result.success
    assert run_job(defs, instance, "contactable_refresh_job").success
    meta = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    with open(meta["export"], newline="") as fh:
        rows = {r["email"]: r for r in csv.DictReader(fh)}
    link = rows["mary.audited@example.com"]["consent_url"]
    url = app.url + link[link.index("/consent/"):]
    assert httpx.post(url, data={"agree": "yes"}, headers={"User-Agent": "audit-browser/2"}, timeout=10).status_code == 200
    assert post(events, event("reply", "mary.audited@example.com", data={"text": "tell me more"})).status_code == 200

    doc = audit("lead", "audit", "--email", " Mary.Audited@Example.com", "--json")
    [lead] = doc["leads"]
    assert doc["person"]["leads"] == [lead["id"]] and lead["holds_now"] and not doc["person"]["erased"]
    assert (lead["email"], lead["phone"], lead["first_name"]) == ("mary.audited@example.com", "+12175550181", "Mary")
    assert lead["campaign_status"] == "replied" and lead["consent"] is True
    assert lead["consent_certificate"] == CERT                 # the vendor's TrustedForm certificate, kept
    assert lead["eligibility"] == {"judged": True, "eligible": True, "reasons": []}
    assert lead["in_contactable_view"] is True        # the view as the morning's refresh built it (she was fed)
    [source] = lead["sources"]
    assert (source["upload_id"], source["row_number"], source["vendor"]) == (uid, 1, "generic")
    [proof] = lead["consent_evidence"]
    assert proof["user_agent"] == "audit-browser/2" and proof["feed_date"] == FRIDAY and proof["page_sha256"]
    assert "Broker IL (NMLS #654321)" in proof["agreed_text"] and proof["ip_hash"].startswith("hmac-sha256:")
    [fed] = lead["feeds"]
    assert fed["feed_date"] == FRIDAY and fed["batch_id"] == proof["batch_id"]
    assert [e["type"] for e in lead["events"]] == ["reply"]
    assert {"consent_recorded"} <= {e["event_type"] for e in lead["pipeline_events"]}
    text = json.dumps(doc)
    assert "bob" not in text.lower() and "5550182" not in text            # nobody else's data
    # opening her values is recorded: purpose, how many, which leads — never the values
    with psycopg.connect(db) as conn:
        [(details,)] = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'pii_decrypted'"
                                    " AND details ->> 'purpose' = 'audit'").fetchall()
    assert details["values"] == 2 and details["lead_ids"] == [lead["id"]] and "mary" not in json.dumps(details)
    # the same record by phone and by lead id; the text form says what an operator needs
    assert audit("lead", "audit", "--phone", "217-555-0181", "--json")["person"]["leads"] == [lead["id"]]
    shown = audit("lead", "audit", "--lead", lead["id"])
    assert "eligibility eligible" in shown and f"upload {uid} row 1" in shown and "reply from" in shown

    assert cli.main(["erase", "--email", "mary.audited@example.com"]) == 0
    gone = audit("lead", "audit", "--email", "mary.audited@example.com", "--json")
    [erased] = gone["leads"]
    assert gone["person"]["erased"] and erased["id"] == lead["id"] and erased["erased_at"]
    assert (erased["email"], erased["phone"], erased["first_name"]) == (None, None, None)
    assert erased["property_address"] == "1 AUDIT ST" and erased["sources"] and erased["feeds"]
    assert erased["consent_evidence"], "the consent evidence outlives the erasure"
    assert {("email", "erasure"), ("phone", "erasure")} <= {(s["channel"], s["reason"]) for s in gone["suppressions"]}
    assert "mary" not in json.dumps(gone).lower()
    assert any(e["event_type"] == "erasure" for e in gone["erasures"])


def test_an_audit_of_nobody_says_so(db, audit):
    out = audit("lead", "audit", "--email", "nobody@example.com", code=1)
    assert out == ""
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'pii_decrypted'") == 0
    audit("lead", "audit", "--email", "not-an-email", code=2)
    audit("lead", "audit", "--lead", "not-a-uuid", code=2)
