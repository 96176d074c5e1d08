"""Staged slices built from row dicts, and a verification code map, for the pure validation tests."""

from __future__ import annotations

from orchestration.ingest import profiles


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
