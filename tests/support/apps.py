"""The consent and event doors as fixtures (a pytest plugin: tests/conftest.py registers it)."""

from __future__ import annotations

import pytest

from orchestration.campaign.consent_desk import ConsentDesk, RateLimit
from orchestration.events import webhooks
from orchestration.events.receiver import EventReceiver, KeysFile
from orchestration.privacy import pii


@pytest.fixture
def app(db, tmp_path):
    from orchestration.core.landing import Landing
    from orchestration.ingest.receipt import Receiver
    from orchestration.runs.local_runs import EndpointThread
    from orchestration.web.app import create_app

    desk = ConsentDesk(db, rate=RateLimit(limit=15, window_s=60), ip_key=pii.environment_sealer().index.key)
    with EndpointThread(create_app(Receiver(Landing(tmp_path / "landing"), [], db), desk=desk)) as ep:
        yield ep


SECRET = webhooks.new_secret()


@pytest.fixture
def events(db, tmp_path):
    from orchestration.core.landing import Landing
    from orchestration.ingest.receipt import Receiver
    from orchestration.runs.local_runs import EndpointThread
    from orchestration.web.app import create_app

    keys = tmp_path / "event_keys"
    keys.write_text(f"# senders\ninstantly:{SECRET}\n")
    receiver = EventReceiver(KeysFile(keys), db, max_bytes=4096, sealer=pii.environment_sealer())
    with EndpointThread(create_app(Receiver(Landing(tmp_path / "landing"), [], db), receiver)) as ep:
        ep.keys = keys
        yield ep
