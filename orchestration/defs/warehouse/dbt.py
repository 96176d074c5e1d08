"""The warehouse's dbt models as Dagster assets (dbt tests become asset checks): staging and the
intermediate models (scores, lead stages). The marts the campaign reads are the campaign group's
(``defs/campaign/marts.py``); the refresh job runs both (``defs/warehouse/refresh.py``)."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.db import store
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse.project import CAMPAIGN_MODELS, Translator, dbt_project

GROUP = "warehouse"

# The brokers table is kept by operators (``equity brokers brokers.csv``), not by a run: an external
# asset, so the dbt models that read it show where their input comes from.
brokers = dg.AssetSpec("brokers", group_name=GROUP, kinds={"postgres"},
                       description="Licensed reverse-mortgage brokers: territories, licensed states, "
                                   "weekly caps. Loaded by operators with `equity brokers FILE.csv`.")
pipeline_events = dg.AssetSpec(
    "pipeline_events", group_name=GROUP, kinds={"postgres"},
    description="The pipeline's audit trail: every stage's counts, uploads received and staged.")
lead_sources = dg.AssetSpec(
    "lead_sources", group_name=GROUP, kinds={"postgres"},
    description="The lineage of every lead: each upload row and the lead it became or merged into (written by "
                "each upload's merge, with leads). The vendor-ROI dashboard credits leads to lists by it.")
pipeline_dlq = dg.AssetSpec(
    "pipeline_dlq", group_name=GROUP, kinds={"postgres"},
    description="The dead-letter queue: rows rejected at validation, signed events that could not be read, "
                "pushes that failed (see docs/dlq.md); the errors dashboard counts it by kind and reason.")


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, exclude=CAMPAIGN_MODELS,
            dagster_dbt_translator=Translator(GROUP))
def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from build(context, dbt, warehouse)


def build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource) -> Iterator:
    """``dbt build`` of the selected models, each materialisation with its row count."""
    # dbt's unit tests check the models' SQL against fixed rows: code tests, run by the test suite
    # (tests/integration/test_eligibility.py), not by each morning's refresh.
    invocation = dbt.cli(["build", "--exclude", "test_type:unit"], context=context)
    nodes = invocation.manifest["nodes"]
    with warehouse.connect(autocommit=True) as conn:
        for event in invocation.stream():
            model = _built_model(event, nodes)
            if model:
                # Row counts as table metadata (plotted per materialisation in the UI). Counted here
                # rather than by dagster-dbt's fetch_row_counts(), whose relation names carry the
                # database name of the parse and fail against any other database.
                rows = store.relation_row_count(conn, model["schema"], model["alias"])
                event = event.with_metadata({**event.metadata, "dagster/row_count": dg.MetadataValue.int(rows)})
            yield event


def _built_model(event: object, nodes: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The manifest node of the dbt model an event reports as built, else None."""
    if not isinstance(event, dg.Output | dg.AssetMaterialization):
        return None
    unique_id = event.metadata.get("unique_id")
    node = nodes.get(unique_id.value) if unique_id is not None else None
    return node if node and node["resource_type"] == "model" else None
