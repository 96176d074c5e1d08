"""Only seniors a reverse mortgage can help reach the contactable view: dbt's unit tests pin every
boundary of int_lead_eligibility (run here with the real dbt against this worker's database), and
a real upload of the people a vendor list holds — too young, not living there, a commercial
property, deceased, under water, vacant, in probate — is merged, judged by the real refresh, held
back with its reasons (and shown as such by the funnel and `equity lead show`), while the deceased
owner is suppressed as a person on every lead."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import dagster as dg
import psycopg

from orchestration import cli, settings
from tests.support import hostile
from tests.support.stack import run_job
from tests.support.uploads import ingest

HEADER = ["address", "city", "state", "zip", "first_name", "last_name", "email", "email_status", "phone",
          "Owner Age", "Owner Occupied", "Property Type", "Estimated Value", "Open Mortgage Balance",
          "Owner Deceased", "Vacant", "Probate"]
# street -> (age, occupied, type, value, balance, deceased, vacant, probate), and the reasons it is held back for
PEOPLE = {
    "1 ELIGIBLE ST": (("74", "Yes", "Single Family Residential", "$500,000", "$120,000", "No", "No", "No"), []),
    "2 YOUNG ST": (("58", "Yes", "Single Family Residential", "$500,000", "", "", "", ""), ["under_62"]),
    "3 JUST62 ST": (("62", "Yes", "Condominium", "$400,000", "", "", "", ""), []),
    "4 RENTED ST": (("70", "No", "Single Family Residential", "$500,000", "", "", "", ""), ["not_owner_occupied"]),
    "5 SHOP ST": (("70", "Yes", "Commercial", "$900,000", "", "", "", ""), ["property_commercial"]),
    "6 LATE ST": (("88", "Yes", "Single Family Residential", "$500,000", "", "Yes", "", ""), ["owner_deceased"]),
    "7 UNDERWATER ST": (("70", "Yes", "Single Family Residential", "$500,000", "$900,000", "", "", ""),
                        ["mortgage_exceeds_limit"]),
    "8 EMPTY ST": (("70", "Yes", "Single Family Residential", "$500,000", "", "", "Yes", ""), ["vacant"]),
    "9 ESTATE ST": (("80", "Yes", "Duplex", "$500,000", "", "", "", "Yes"), ["probate"]),
    "10 UNKNOWN ST": (("", "", "", "", "", "", "", ""), []),
    "11 FIVEPLEX ST": (("70", "Yes", "Multi-Family 5+ Units", "$2,000,000", "", "", "", ""),
                       ["property_multi_family_5_plus"]),
}
DECEASED_EMAIL = "late.owner@example.com"


def _rows() -> list[list[str]]:
    rows = []
    for i, (street, (facts, _)) in enumerate(PEOPLE.items()):
        email = DECEASED_EMAIL if street == "6 LATE ST" else f"person{i}@example.com"
        rows.append([street, "Springfield", "IL", "62704", "Pat", f"Owner{chr(65 + i)}", email, "valid",
                     f"(217) 555-01{i:02d}", *facts])
    # the deceased owner's e-mail on another property of theirs, eligible in itself: suppressed as a person
    rows.append(["12 OTHER HOME ST", "Springfield", "IL", "62704", "Pat", "OwnerF", DECEASED_EMAIL, "valid",
                 "", "88", "Yes", "Single Family Residential", "$300,000", "", "", "", ""])
    # eligible seniors whose only e-mail is risky to send to: a role mailbox, a throw-away domain
    for street, email in RISKY.items():
        rows.append([street, "Springfield", "IL", "62704", "Pat", "Risky", email, "valid", "", "70", "Yes",
                     "Single Family Residential", "$300,000", "", "", "", ""])
    return rows


RISKY = {"13 ROLE ST": "Office@SmithFamily.example.com", "14 TEMP ST": "pat@mailinator.com"}


def _broker(db) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO brokers (company_name, license_states, territory_zip_codes, max_leads_per_week)"
                     " VALUES ('Broker IL', '{IL}', '{62704}', 1000)")


def test_an_upload_of_ineligible_seniors_is_held_back_with_its_reasons(db, door, instance, defs, monkeypatch, capsys):
    _broker(db)
    uid, result = ingest(db, door, instance, defs, hostile.to_csv(_rows(), header=HEADER).encode())
    assert result.success
    assert run_job(defs, instance, "contactable_refresh_job").success
    with psycopg.connect(db) as conn:
        reasons = dict(conn.execute("SELECT property_address, ineligible_reasons FROM leads").fetchall())
        contactable = {r[0] for r in conn.execute(
            "SELECT property_address FROM analytics.mv_contactable_leads")}
        suppressed = conn.execute("SELECT channel, count(*) FROM suppressions WHERE reason = 'deceased'"
                                  " GROUP BY 1 ORDER BY 1").fetchall()
    for street, (_, why) in PEOPLE.items():
        assert reasons[street] == why, street
    # every eligible lead is contactable, except the deceased owner's other home (the person is
    # suppressed) and the two whose e-mail is risky (eligible, but their mailboxes are not sent to)
    assert contactable == {s for s, (_, why) in PEOPLE.items() if not why}
    assert all(reasons[s] == [] for s in RISKY)
    assert reasons["12 OTHER HOME ST"] == [] and "12 OTHER HOME ST" not in contactable
    assert suppressed == [("email", 1), ("phone", 1)]
    # held back, not lost: the funnel and the lead card say why
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    capsys.readouterr()
    held = sum(1 for _, why in PEOPLE.values() if why)
    assert cli.main(["report", "funnel"]) == 0
    out = capsys.readouterr().out
    assert f"held back as not eligible: {held} leads" in out and "under_62 1" in out
    assert cli.main(["lead", "show", "--upload", uid, "--row", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lead"]["ineligible_reasons"] == ["property_commercial"]
    # the refresh's write-back asset reports the held-back leads, by reason, as metadata
    meta = instance.get_latest_materialization_event(dg.AssetKey(["lead_scores"])).asset_materialization.metadata
    assert meta["leads_held_back"].value == held and meta["held_back/owner_deceased"].value == 1
    assert (meta["risky_emails/role"].value, meta["risky_emails/disposable"].value) == (1, 1)
    with psycopg.connect(db) as conn:
        validated = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'validated'"
                                 " AND upload_id = %s", (uid,)).fetchone()[0]
    assert (validated["email_risk_role"], validated["email_risk_disposable"]) == (1, 1)


def _dbt(*args: str, target: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(settings.dbt_executable()), *args, "--project-dir", str(settings.DBT_PROJECT_DIR),
                           "--profiles-dir", str(settings.DBT_PROJECT_DIR), "--target-path", target],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_dbt_unit_tests_pin_every_eligibility_boundary(db):
    """The real dbt runs the model's unit tests (YAML next to the model) against this database
    (its input, stg_leads, must exist there: dbt reads its column types)."""
    target = f"target/unit-{uuid.uuid4().hex[:8]}"
    built = _dbt("run", "--select", "stg_leads", target=target)
    assert built.returncode == 0, built.stdout[-3000:]
    out = _dbt("test", "--select", "int_lead_eligibility,test_type:unit", target=target)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "4 unit tests" in out.stdout and "ERROR=0" in out.stdout and "FAIL" not in out.stdout, out.stdout[-2000:]

