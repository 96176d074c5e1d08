"""The Dagster code location (``workspace.yaml`` and ``dg`` load it): every definition under
``orchestration/defs/``, collected by ``load_from_defs_folder``. Loading connects to nothing and
parses nothing; settings are bound through ``EnvVar`` and read when runs start."""

from pathlib import Path

import dagster as dg


def load() -> dg.Definitions:
    """The definitions, as a plain object (tests, the demo and benchmarks use this)."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


@dg.definitions
def defs() -> dg.Definitions:
    return load()
