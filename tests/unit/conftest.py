"""The pure-logic layer: no database, no Dagster instance, no network. Every test here runs with
the database stopped; a test that reaches for a connection fails loudly instead of hanging."""

import pytest

from orchestration.ingest import profiles


@pytest.fixture(autouse=True)
def _no_database(monkeypatch):
    import psycopg

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test opened a database connection: move it out of tests/unit/")

    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(lambda cls, *a, **k: refuse()))


def staged(*rows: dict):
    """A staged slice (every canonical column, pyarrow strings) from partial row dicts."""
    import pandas as pd

    cols = ["row_number", *profiles.CANONICAL_FIELDS]
    data = {c: [r.get(c) for r in rows] for c in cols}
    frame = pd.DataFrame(data).astype("string[pyarrow]")
    frame["row_number"] = [r.get("row_number", i + 1) for i, r in enumerate(rows)]
    return frame


CODES = {("phone", "connected"): True, ("phone", "disconnected"): False,
         ("email", "valid"): True, ("email", "invalid"): False, ("email", "unknown"): False}
