"""Landing and validating rows straight into the work tables, and the merge around them (merge, identity, housekeeping tests)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import psycopg

from orchestration.core.landing import Landing
from orchestration.ingest import pipeline, signing
from orchestration.ingest.receipt import Receiver
from orchestration.privacy import pii
from tests.support.stack import ACTIVE_KEYS, opened, signing_key


COLS = "mak,apn,property_address,property_city,property_state,property_zip,owner_first_name,owner_age," \
       "email_1,email_1_status,phone_1,phone_1_status,phone_2,phone_2_status\n"


def land_and_validate(db, body: bytes) -> tuple[pipeline.Context, str]:
    """Receive, stage and validate a signed upload; the merge is left to the caller."""
    receiver = Receiver(Landing(os.environ["EC_LANDING_DIR"]), signing.parse_keys(ACTIVE_KEYS), db)
    r = receiver.start(signing.sign(body, source="batchdata", key=signing_key()), received_at=datetime.now(UTC))
    r.feed(body)
    outcome = r.finish()
    assert outcome.accepted, outcome
    ctx = pipeline.Context(database_url=db, landing=Landing(os.environ["EC_LANDING_DIR"]), log=lambda m: None,
                            sealer=pii.environment_sealer())
    pipeline.check_landed(ctx, outcome.upload_id)
    pipeline.stage(ctx, outcome.upload_id)
    pipeline.validate_upload(ctx, outcome.upload_id)
    return ctx, outcome.upload_id


def ingest(db, rows: list[str]) -> dict:
    ctx, uid = land_and_validate(db, (COLS + "\n".join(rows) + "\n").encode())
    return pipeline.merge(ctx, uid).counts


def lead(db, where="true"):
    """Leads as someone holding the keys reads them (e-mails and phones opened)."""
    with psycopg.connect(db) as conn:
        conn.row_factory = psycopg.rows.dict_row
        return [opened(r) for r in conn.execute(f"SELECT * FROM leads WHERE {where}").fetchall()]
