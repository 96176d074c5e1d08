"""Validation slices are sized by the file's bytes: wide rows make short slices, narrow rows long
ones, within bounds, whatever the file's length."""

import random

from orchestration.ingest import validate as pipeline


def test_slices_hold_about_the_same_bytes_within_bounds():
    rng = random.Random(23)
    for _ in range(2_000):
        rows = rng.randint(1, 5_000_000)
        per_row = rng.choice([rng.uniform(20, 120), rng.uniform(120, 2_000), rng.uniform(2_000, 200_000)])
        n = pipeline.slice_rows_for(int(rows * per_row), rows)
        assert pipeline.SLICE_ROWS_MIN <= n <= pipeline.SLICE_ROWS_MAX
        if pipeline.SLICE_ROWS_MIN < n < pipeline.SLICE_ROWS_MAX:       # not clamped: ~SLICE_BYTES of text
            assert abs(n * per_row - pipeline.SLICE_BYTES) <= per_row + 1
    # wider rows never make longer slices
    assert pipeline.slice_rows_for(400 * 10_000, 10_000) <= pipeline.slice_rows_for(200 * 10_000, 10_000)
    assert pipeline.slice_rows_for(0, 0) == pipeline.SLICE_ROWS_MAX
