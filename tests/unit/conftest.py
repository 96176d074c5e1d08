"""The pure-logic layer: no database, no Dagster instance, no network. Every test here runs with
the database stopped; a test that reaches for a connection fails loudly instead of hanging."""

import pytest



@pytest.fixture(autouse=True)
def _no_database(monkeypatch):
    import psycopg

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test opened a database connection: move it out of tests/unit/")

    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(lambda cls, *a, **k: refuse()))




