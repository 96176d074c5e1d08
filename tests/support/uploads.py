"""Sending hostile files through the real door and ingesting them (hostile-file, alert, erasure, retry tests)."""

from __future__ import annotations

import httpx

from orchestration.ingest import signing
from tests.support.stack import run_ingest, signing_key, temporary_trigger


def send(door, body: bytes) -> httpx.Response:
    headers = {**signing.sign(body, source="generic", key=signing_key()), "Content-Type": "text/csv"}
    return httpx.post(door.url + "/uploads", content=body, headers=headers, timeout=60)


def miscounting_merge(url: str):
    """The merge's event claims one lead fewer than it inserted (a simulated miscount)."""
    return temporary_trigger(
        url, "pg_temp_miscount", "pipeline_events",
        "NEW.details := jsonb_set(NEW.details, '{inserted}', to_jsonb((NEW.details->>'inserted')::int - 1));"
        " RETURN NEW;", when="NEW.event_type = 'merged'")


def ingest(db, door, instance, defs, body: bytes, *, raise_on_error: bool = True):
    resp = send(door, body)
    assert resp.status_code == 202, resp.text
    uid = resp.json()["upload_id"]
    instance.add_dynamic_partitions("uploads", [uid])
    return uid, run_ingest(defs, instance, uid, raise_on_error=raise_on_error)
