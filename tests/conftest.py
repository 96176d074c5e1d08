"""Shared fixtures: a real PostgreSQL (the embedded one, and PostgreSQL 15 where installed), a
fresh migrated warehouse database and Dagster database per test session, and a clean slate per test.

Nothing is mocked: tests talk to the running server, run real Dagster runs and real dbt.
"""

from __future__ import annotations

import os

import psycopg
import pytest

# The support modules assert too (helpers that check what they read): rewrite them like tests.
pytest.register_assert_rewrite("tests.support")

from orchestration.db import migrate, runtime  # noqa: E402 - after the rewrite hook
from tests.support.stack import ACTIVE_KEYS, Server  # noqa: E402

# The fixtures every integration test may ask for, as plugins: the servers, the session's stack
# and a clean database per test (stack), the consent and event doors (apps).
pytest_plugins = ["tests.support.stack", "tests.support.apps"]


def pytest_addoption(parser):
    parser.addoption("--drop-policy", default=None,
                     help="drop this RLS policy after migrating (to check that some test then fails)")


@pytest.fixture(scope="session")
def migrated_url(server: Server, request) -> str:
    """A freshly migrated database on each server (schema tests; shared within the session)."""
    db = server.fresh_database("ec_schema")
    url = server.url(db)
    migrate.upgrade(url)
    dropped = request.config.getoption("--drop-policy")
    if dropped:
        with psycopg.connect(url, autocommit=True) as conn:
            table = conn.execute("SELECT tablename FROM pg_policies WHERE policyname = %s", (dropped,)).fetchone()[0]
            conn.execute(f'DROP POLICY "{dropped}" ON "{table}"')
    yield url
    runtime.drop_database(server.rt, db)


@pytest.fixture
def endpoint(db):
    """The real HTTP upload endpoint on loopback (uvicorn thread), 64 KiB size limit."""
    from orchestration.core.landing import Landing
    from orchestration.ingest import signing
    from orchestration.ingest.receipt import Receiver
    from orchestration.runs.local_runs import EndpointThread
    from orchestration.web.app import create_app

    receiver = Receiver(Landing(os.environ["EC_LANDING_DIR"]), signing.parse_keys(ACTIVE_KEYS), db,
                        max_bytes=64 * 1024)
    with EndpointThread(create_app(receiver)) as ep:
        ep.receiver = receiver
        yield ep


@pytest.fixture
def door(db):
    """The upload endpoint with a limit large enough for the one large-field case (8 MiB)."""
    from orchestration.core.landing import Landing
    from orchestration.ingest import signing
    from orchestration.ingest.receipt import Receiver
    from orchestration.runs.local_runs import EndpointThread
    from orchestration.web.app import create_app

    receiver = Receiver(Landing(os.environ["EC_LANDING_DIR"]), signing.parse_keys(ACTIVE_KEYS), db,
                        max_bytes=8 << 20)
    with EndpointThread(create_app(receiver)) as ep:
        yield ep


