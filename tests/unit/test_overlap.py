"""The prefetching reader and background writer that overlap ingest I/O with normalisation."""

import threading
import time

import pytest

from orchestration.ingest.overlap import Background, Prefetch


def test_prefetch_yields_every_item_in_order():
    with Prefetch(iter(range(50)), depth=2) as items:
        assert list(items) == list(range(50))


def test_prefetch_reraises_the_source_error_in_the_consumer():
    def source():
        yield 1
        raise ValueError("slice 2 unreadable")

    with pytest.raises(ValueError, match="slice 2 unreadable"), Prefetch(source()) as items:
        list(items)


def test_prefetch_stops_and_closes_the_source_when_the_consumer_leaves_early():
    closed = threading.Event()

    def source():
        try:
            yield from range(1_000_000)
        finally:
            closed.set()

    with Prefetch(source(), depth=2) as items:
        assert next(items) == 0
    assert closed.wait(5), "the source generator was not closed"


def test_background_consumes_everything_before_close_returns():
    seen = []
    with Background(lambda x: (time.sleep(0.001), seen.append(x)), depth=2) as out:
        for i in range(30):
            out.put(i)
    assert seen == list(range(30))


def test_background_error_surfaces_on_put_or_close():
    def consume(x):
        if x == 3:
            raise RuntimeError("COPY failed")

    with pytest.raises(RuntimeError, match="COPY failed"), Background(consume, depth=1) as out:
        for i in range(100):
            out.put(i)
            time.sleep(0.001)


def test_background_abandons_queued_work_when_the_producer_fails():
    seen = []
    with pytest.raises(KeyError), Background(lambda x: (time.sleep(0.01), seen.append(x)), depth=5) as out:
        for i in range(5):
            out.put(i)
        raise KeyError("normalisation failed")
    assert len(seen) < 5
