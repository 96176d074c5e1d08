"""The database's functions and triggers, one ``.sql`` file each under ``orchestration/db/sql/``.

The file *is* the object's current definition, written in the form PostgreSQL itself prints
(``pg_get_functiondef``), so ``equity sql show NAME`` and a test can compare it with the live
database character for character. A file holds, after its leading ``--`` comment (why the object
exists): the ``CREATE OR REPLACE FUNCTION`` statement, then the statements that belong to the
object — its grants, the triggers that call it.

Migrations apply files (``apply``) where an object first appears, and a later revision re-applies
a file whenever its definition changes (revisions stay append-only: a deployed database learns of a
change only through a new revision). Because every revision applies the *current* file, an object's
definition must stay creatable at the first revision that applies it — the migration round-trip
test checks this. PL/pgSQL bodies are checked only when they run, so they may name tables and
functions of later revisions; a ``LANGUAGE sql`` body may not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"

# Objects of the auth shim: created only where the database has no auth schema of its own
# (Supabase's is left alone).
AUTH_SHIM = ("auth.jwt", "auth.uid", "auth.role")
# The comment on an auth schema this project created (so downgrades and re-applies know it is ours).
AUTH_SHIM_MARK = "equity-connect auth shim (no Supabase auth schema was present)"


@dataclass(frozen=True)
class SqlObject:
    name: str          # file stem: function name, schema-qualified outside public ("auth.uid")
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def schema(self) -> str:
        return self.name.split(".")[0] if "." in self.name else "public"

    @property
    def function_name(self) -> str:
        return self.name.split(".")[-1]

    def _split(self) -> tuple[str, str]:
        """(the function statement up to its closing $function$, what follows it)."""
        body = _strip_comment(self.text)
        end = body.index("$function$", body.index("$function$") + 1) + len("$function$")
        return body[:end], body[end:]

    @property
    def function_definition(self) -> str:
        """The CREATE OR REPLACE FUNCTION statement, without its ';' — as pg_get_functiondef prints it."""
        return self._split()[0] + "\n"

    @property
    def trailing_statements(self) -> list[str]:
        """Statements after the function (grants, triggers), without their ';' or trailing comments."""
        rest = self._split()[1].lstrip(";\n")
        statements = (re.sub(r"--[^\n]*", "", s).strip() for s in rest.split(";"))
        return [s for s in statements if s]

    @property
    def triggers(self) -> list[str]:
        return [s for s in self.trailing_statements if s.upper().startswith("CREATE OR REPLACE TRIGGER")]


def _strip_comment(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "".join(lines)


# Objects first created by a revision after 0011, which re-applies every file that existed then:
# a LANGUAGE sql body naming a table of its own revision cannot be created before that table.
INTRODUCED_AFTER_0011 = frozenset({"lead_is_suppressed", "status_rank", "apply_lead_event", "suppress_from_upload",
                                   "refuse_change",
                                   "unverify_suppressed_phones"})


def objects() -> list[SqlObject]:
    return [SqlObject(p.stem, p) for p in sorted(SQL_DIR.glob("*.sql"))]


def get(name: str) -> SqlObject:
    """The object of that name; only names of files in SQL_DIR (never a path) are accepted."""
    known = {o.name: o for o in objects()}
    if name not in known:
        raise KeyError(f"no SQL object {name!r} in {SQL_DIR} (known: {', '.join(known)})")
    return known[name]


def apply(*names: str) -> None:
    """Run each named file inside the current alembic migration."""
    from alembic import op

    for name in names:
        op.execute(_escape_for_sqlalchemy(get(name).text))


def apply_text(text: str) -> None:
    """Run a definition given as text (a downgrade restoring an earlier form of a file's object)."""
    from alembic import op

    op.execute(_escape_for_sqlalchemy(text))


# Changes a revision made to a file's object, as (new, old) text pairs, where an earlier revision's
# downgrade rebuilds that object from its current file: that downgrade takes these back as well.
REVISION_CHANGES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "unverify_suppressed_phones": {
        "0023": ((
            "  -- phone IS NOT NULL lets the lookup use leads' index of phone indexes (a partial index): without\n"
            "  -- it the planner cannot tell and scans every lead, a cost that grew with the warehouse\n"
            "  WHERE pii_index(l.phone) = sp.idx AND l.phone IS NOT NULL AND l.phone_verified;",
            "  WHERE pii_index(l.phone) = sp.idx AND l.phone_verified;"),),
    },
    "merge_validated_leads": {
        "0021": ((
            "  v_owner_cols text[] := ARRAY['first_name', 'last_name', 'age', 'owner_occupied', 'owner_birth_date',\n"
            "                               'owner_deceased', 'probate', 'consent_certificate'];\n",
            "  v_owner_cols text[] := ARRAY['first_name', 'last_name', 'age', 'owner_occupied'];\n"),),
        "0020": ((
            "        -- the state is filled when empty, unless it would move the lead's APN into a scope another\n"
            "        -- lead holds (a parcel row that named only its county made the lead)\n"
            "        CASE WHEN l.property_state IS NOT NULL OR s.property_state IS NULL THEN l.property_state\n"
            "             WHEN l.apn IS NULL OR NOT EXISTS (SELECT 1 FROM leads o WHERE o.apn = l.apn AND o.id <> l.id\n"
            "                                                 AND o.property_state = s.property_state\n"
            "                                                 AND coalesce(o.property_county, '') = "
            "coalesce(l.property_county, ''))\n"
            "             THEN s.property_state END AS property_state,\n",
            "        coalesce(l.property_state, s.property_state) AS property_state,\n"),),
    },
    "apply_lead_event": {
        "0021": (
            ("  v_status campaign_status;\n"
             "  v_revoked boolean := p_type = 'reply' AND coalesce(p_data ->> 'revoked', '') <> '';\n",
             "  v_status campaign_status;\n"),
            ("  IF v_revoked THEN\n"
             "    INSERT INTO suppressions (channel, value, reason, source)\n"
             "    SELECT DISTINCT c.channel, pii_index(c.value), 'revoked', p_source\n"
             "    FROM (SELECT 'email', v_email\n"
             "          UNION ALL SELECT 'phone', v_phone\n"
             "          UNION ALL SELECT 'email', l.email FROM leads l WHERE l.id = ANY (v_leads)\n"
             "          UNION ALL SELECT 'phone', l.phone FROM leads l WHERE l.id = ANY (v_leads)) AS c (channel, value)\n"
             "    WHERE pii_index(c.value) IS NOT NULL\n"
             "    ON CONFLICT DO NOTHING;\n"
             "  END IF;\n\n", ""),
            ("v_status := CASE WHEN v_revoked THEN 'unsubscribed' ELSE CASE p_type", "v_status := CASE p_type"),
            ("ELSE 'bounced' END END END;", "ELSE 'bounced' END END;"),
            ("                           ELSE l.last_reply_at END,\n"
             "      consent = l.consent AND NOT v_revoked\n",
             "                           ELSE l.last_reply_at END\n"),
        ),
    },
    "suppress_from_upload": {
        "0021": ((
            "    UNION\n"
            "    SELECT c.channel, pii_index(c.value), 'deceased'\n"
            "    FROM leads_validated v\n"
            "    CROSS JOIN LATERAL (\n"
            "      SELECT 'phone', p ->> 'number' FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'phones', '[]')) AS p\n"
            "      UNION ALL\n"
            "      SELECT 'email', e ->> 'address' FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'emails', '[]')) AS e\n"
            "      UNION ALL\n"
            "      SELECT 'phone', v.phone\n"
            "      UNION ALL\n"
            "      SELECT 'email', v.email\n"
            "    ) AS c (channel, value)\n"
            "    WHERE v.upload_id = p_upload_id AND v.owner_deceased\n"
            "      AND pii_index(c.value) IS NOT NULL\n", ""),),
    },
    "feed_campaign": {
        "0022": (
            ("-- under another lead within p_email_gap_days of a feed date that carried it. Each fed lead records\n"
             "-- the vendor list that supplied it (its newest upload): the sender-health breaker judges lists by\n"
             "-- their own bounces, and a list paused in campaign_pauses feeds nobody until a person resumes it.\n",
             "-- under another lead within p_email_gap_days of a feed date that carried it.\n"),
            ("owner_since timestamptz,\n                               upload_id text) ON COMMIT DROP;",
             "owner_since timestamptz) ON COMMIT DROP;"),
            ("l.addr_hash, l.owner_since, src.upload_id\n", "l.addr_hash, l.owner_since\n"),
            ("      LEFT JOIN LATERAL (SELECT s.upload_id FROM lead_sources s WHERE s.lead_id = l.id\n"
             "                         ORDER BY s.received_at DESC, s.upload_id DESC LIMIT 1) src ON true\n", ""),
            ("        AND NOT EXISTS (SELECT 1 FROM campaign_pauses p WHERE p.resumed_at IS NULL "
             "AND p.upload_id = src.upload_id)\n", ""),
            ("r.owner_since, r.upload_id FROM ranked r", "r.owner_since FROM ranked r"),
            ("lead_score, owner_since, upload_id)\n", "lead_score, owner_since)\n"),
            ("p.owner_since, p.upload_id FROM _feed_pick p;", "p.owner_since FROM _feed_pick p;"),
        ),
        "0018": (
            ("PARTITION BY pii_index(cd.email) ORDER", "PARTITION BY cd.email ORDER"),
            ("lead_is_suppressed(pii_index(cd.email), pii_index(cd.phone), cd.addr_hash)",
             "lead_is_suppressed(cd.email, cd.phone, cd.addr_hash)"),
            ("WHERE pii_index(o.email) = pii_index(cd.email) AND", "WHERE o.email = cd.email AND"),
        ),
    },
}


def as_before(name: str, *changes: tuple[str, str], revision: str) -> str:
    """The definition of a file's object before ``revision`` (for its downgrade): the current file
    with the changes recorded in REVISION_CHANGES for this revision and every later one, and then
    ``changes``, taken back. Each (new, old) pair must still be found in the text."""
    text = get(name).text
    later = [pairs for rev, pairs in sorted(REVISION_CHANGES.get(name, {}).items(), reverse=True) if rev >= revision]
    for new, old in [pair for pairs in later for pair in pairs] + list(changes):
        if new not in text:
            raise RuntimeError(f"{name}: cannot take back {new!r}; update the downgrade that needs it")
        text = text.replace(new, old)
    return text


def _escape_for_sqlalchemy(text: str) -> str:
    # op.execute() wraps a string in SQLAlchemy text(), where ':name' is a bind parameter; a
    # backslash-escaped colon is a literal one. '::' casts are left alone by SQLAlchemy already.
    return re.sub(r"(?<![:\\]):(?=[A-Za-z_])", r"\\:", text)
