"""Connections: the role, the time zone and the session settings every stage uses; catalogue reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from orchestration import constants


@contextmanager
def connect(url: str, *, role: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection acting as ``role`` (RLS applies) with the scheduled-job time zone."""
    with psycopg.connect(url, autocommit=autocommit) as conn:
        if role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("SET TIME ZONE {}").format(sql.Literal(constants.TIMEZONE)))
        # Bulk stages stage through temp tables: let them live in memory (allocated only when used).
        conn.execute("SET temp_buffers = '256MB'")
        if not autocommit:
            conn.commit()  # session settings survive; callers start clean transactions
        yield conn


def set_lock_timeout(conn: psycopg.Connection, seconds: float) -> None:
    """This transaction waits at most ``seconds`` for any lock (advisory job locks included), then
    fails with LockNotAvailable (55P03)."""
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(seconds * 1000)}ms",))


def function_definition(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    """A function's live definition as PostgreSQL prints it (pg_get_functiondef), or None."""
    row = conn.execute(
        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %s AND p.proname = %s", (schema, name)).fetchone()
    return row[0] if row else None


def relation_row_count(conn: psycopg.Connection, schema: str, name: str) -> int:
    """Rows in a table, view or materialized view (what the UI plots per materialisation)."""
    return conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
                        ).fetchone()[0]
