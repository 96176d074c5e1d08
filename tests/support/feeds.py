"""Seeding contactable leads and reading what a feed did (feeder, consent, events, push, DLQ tests)."""

from __future__ import annotations

import uuid

import psycopg

from orchestration.privacy import pii
from tests.support.stack import run_job


FRIDAY = "2026-03-06"


def seed(db, n: int, *, broker_cap: int = 100_000, extra_sql: str = "") -> uuid.UUID:
    """An active CA broker and n contactable leads with varied scoring factors (their e-mails
    sealed, as the pipeline stores them: 'lead<g>@example.com'). Every one is eligible for a
    reverse mortgage (62 or older, occupancy yes or unknown), so every one is contactable."""
    broker = uuid.uuid4()
    emails = pii.environment_sealer().seal_many("email", [f"lead{g}@example.com" for g in range(1, n + 1)])
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO brokers (id, company_name, license_states, territory_zip_codes, max_leads_per_week)"
                     " VALUES (%s, 'Broker A', '{CA}', '{90001}', %s)", (broker, broker_cap))
        conn.execute(
            "INSERT INTO leads (first_name, email, email_verified, phone_verified, property_address, property_city,"
            " property_state, property_zip, age, estimated_equity, property_value, owner_occupied,"
            " assigned_broker_id, addr_hash)"
            " SELECT 'Lead' || g, (%s::text[])[g], true, g %% 2 = 0, g || ' MAIN ST', 'LA', 'CA',"
            "  '90001', 62 + g %% 30, (g %% 40) * 10000, 500000, CASE WHEN g %% 3 <> 0 THEN true END, %s,"
            "  md5(g::text) || md5(g::text)"
            " FROM generate_series(1, %s) g", (emails, broker, n))
        if extra_sql:
            conn.execute(extra_sql, (broker,))
    return broker


def refresh(defs, instance):
    """The real refresh job (dbt build: scores, view, tests). Tests about what the feeder does with
    the contactable set use conftest.refresh_view, which refreshes the view the session's first
    build made without a dbt process per test."""
    assert run_job(defs, instance, "contactable_refresh_job").success


def fed_ids(db, day=None) -> list:
    with psycopg.connect(db) as conn:
        q = "SELECT lead_id FROM campaign_batch_leads" + (" WHERE feed_date = %s" if day else "")
        return [r[0] for r in conn.execute(q, (day,) if day else ())]


def feed_meta(result) -> dict:
    mats = result.asset_materializations_for_node("campaign_feed")
    return {k: v.value for k, v in mats[0].metadata.items()}
