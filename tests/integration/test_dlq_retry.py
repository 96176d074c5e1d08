"""The DLQ retry job against a real campaign endpoint: a push that fails at feed time is retried by
dlq_retry_job until the endpoint takes it (attempts recorded, resolved); a refusal that retrying
cannot fix is left open for a person with a clear status."""

from __future__ import annotations

import psycopg
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from orchestration.runs.local_runs import QUIET, EndpointThread
from tests.support.feeds import FRIDAY, feed_meta, refresh, seed


def endpoint(answers: list[int]):
    """A campaign endpoint answering the given statuses in turn (the last one from then on)."""
    seen: list[int] = []

    async def receive(request):
        await request.body()
        status = answers[min(len(seen), len(answers) - 1)]
        seen.append(status)
        return Response(status_code=status)

    return Starlette(routes=[Route("/import", receive, methods=["POST"])]), seen


def config(url: str) -> dict:
    return {**QUIET, "resources": {"feeder_settings": {"config": {
        "outbox_dir": {"env": "EC_OUTBOX_DIR"}, "form_secret_file": {"env": "EC_FORM_SECRET_FILE"},
        "pii_keys_file": {"env": "EC_PII_KEYS_FILE"}, "index_key_file": {"env": "EC_INDEX_KEY_FILE"},
        "endpoint_url": url, "post_attempts": 1, "post_backoff_s": 0.0,
        "dlq_retry_base_s": 0.0, "dlq_retry_max_attempts": 5}}}}


def run(defs, instance, job: str, url: str, partition_key: str | None = None):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition_key,
                                                        run_config=config(url))


def dlq_row(db):
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT attempts, resolved_at IS NOT NULL, retry_after IS NOT NULL, payload->>'status',"
                            " payload->>'last_retry' FROM pipeline_dlq WHERE source = 'campaign_feed'").fetchone()


def test_a_failed_push_is_retried_until_delivered(db, instance, defs):
    seed(db, 12)
    refresh(defs, instance)
    # The feed's own POST gets 503; the retries get 503, 502, then 200.
    app, seen = endpoint([503, 503, 502, 200])
    with EndpointThread(app) as ep:
        url = ep.url + "/import"
        feed = run(defs, instance, "campaign_feed_job", url, FRIDAY)
        assert feed.success and feed_meta(feed)["post_statuses"] == [503]
        assert dlq_row(db)[:4] == (0, False, True, None)
        outcomes = []
        for _ in range(3):
            result = run(defs, instance, "dlq_retry_job", url)
            assert result.success
            outcomes.append(dlq_row(db)[:4])
        after = run(defs, instance, "dlq_retry_job", url)       # nothing due any more
    assert seen == [503, 503, 502, 200]
    assert outcomes == [(1, False, True, "retrying"), (2, False, True, "retrying"), (3, True, False, "resolved")]
    meta = next(e for e in after.all_events if e.event_type_value == "STEP_OUTPUT").step_output_data.metadata
    assert meta["due"].value == 0
    with psycopg.connect(db) as conn:
        event = conn.execute("SELECT http_status, details FROM pipeline_events WHERE event_type = 'dlq_resolved'"
                             ).fetchone()
    assert event[0] == 200 and event[1]["attempts"] == 3


def open_push(db, tmp_path) -> None:
    """A DLQ row as a failed feed push leaves it (the feed path itself is the test above)."""
    export = tmp_path / "campaign_2026-03-06_batch1.csv"
    export.write_text("email\nx@example.com\n")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO pipeline_dlq (source, reason, payload, retry_after) VALUES ('campaign_feed',"
                     " 'POST of batch 1 failed: HTTP 503', jsonb_build_object('batch_id', 1, 'export', %s::text),"
                     " now())", (str(export),))


def test_a_refusal_is_left_for_a_person(db, instance, defs, tmp_path):
    open_push(db, tmp_path)
    app, seen = endpoint([400])
    with EndpointThread(app) as ep:
        url = ep.url + "/import"
        assert run(defs, instance, "dlq_retry_job", url).success
        assert run(defs, instance, "dlq_retry_job", url).success     # not due again: no retry time
    assert seen == [400]
    attempts, resolved, due, status, note = dlq_row(db)
    assert (attempts, resolved, due, status) == (1, False, False, "permanent")
    assert note == "the endpoint refused the export (HTTP 400)"


def test_retries_give_up_after_the_limit(db, instance, defs, tmp_path):
    open_push(db, tmp_path)
    app, seen = endpoint([503])
    with EndpointThread(app) as ep:
        url = ep.url + "/import"
        for _ in range(6):
            assert run(defs, instance, "dlq_retry_job", url).success
    assert len(seen) == 5                                    # five retries, then left alone
    attempts, resolved, due, status, note = dlq_row(db)
    assert (attempts, resolved, due, status) == (5, False, False, "gave_up")
    assert note.startswith("5 attempts failed; last: HTTP 503")


def test_a_missing_export_is_permanent(db, instance, defs, tmp_path):
    open_push(db, tmp_path)
    (tmp_path / "campaign_2026-03-06_batch1.csv").unlink()
    app, seen = endpoint([200])
    with EndpointThread(app) as ep:
        assert run(defs, instance, "dlq_retry_job", ep.url + "/import").success
    assert seen == [] and dlq_row(db)[3] == "permanent" and "is gone" in dlq_row(db)[4]
