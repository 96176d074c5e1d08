"""Showing a person's e-mail and phone to an operator: the values are opened with the environment's
keys, and every opening is recorded (``pii_decrypted``: the purpose, how many values, who; never a
value), so the audit trail answers "who looked at this person, and why"."""

from __future__ import annotations

import getpass

import psycopg

from orchestration.db import store
from orchestration.privacy.pii import Sealer


def open_lead_card(conn: psycopg.Connection, sealer: Sealer, fields: dict, owners: list[tuple], *,
                   purpose: str, stage: str) -> tuple[dict, list[tuple], int]:
    """A lead card (``store.lead_card``) with its own and its previous owners' e-mails and phones
    opened, and the opening recorded in the same transaction: (fields, owners, values opened)."""
    fields = dict(fields)
    opened = 0
    for channel in ("email", "phone"):
        if fields.get(channel):
            fields[channel] = sealer.open(channel, fields[channel])
            opened += 1
    owners = [(first, last, sealer.open("email", email), sealer.open("phone", phone), until)
              for first, last, email, phone, until in owners]
    opened += sum(1 for o in owners for v in o[2:4] if v)
    if opened:
        store.record_event(conn, "pii_decrypted", stage=stage, row_count=opened,
                           details={"purpose": purpose, "lead_id": str(fields["id"]), "values": opened,
                                    "by": getpass.getuser()})
    return fields, owners, opened
