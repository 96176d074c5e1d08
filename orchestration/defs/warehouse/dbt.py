"""dbt models as Dagster assets (dbt tests become asset checks), the 05:30 refresh job and its
schedule.

The translator puts each model in the group of its folder (``GROUPS``: the marts feed the
campaign, the rest is the warehouse), takes descriptions from the models' YAML, and leaves keys to
dagster-dbt's default (schema + model name), which other modules look up with
``get_asset_key_for_model``.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration import constants
from orchestration.db import store
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse.project import dbt_project

# dbt model folder -> Dagster asset group. The marts feed the campaign; everything else is the
# warehouse's own modelling.
GROUPS = {"marts": "campaign"}
DEFAULT_GROUP = "warehouse"


class WarehouseTranslator(DagsterDbtTranslator):
    """Groups by model folder; descriptions from the YAML, never the raw SQL."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        folder = (dbt_resource_props.get("fqn") or ["", ""])[1]
        return GROUPS.get(folder, DEFAULT_GROUP)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return dbt_resource_props.get("description") or f"dbt {dbt_resource_props['resource_type']} " \
            f"{dbt_resource_props['name']} (no description in its YAML)"


translator = WarehouseTranslator()

# The brokers table is kept by operators (``equity brokers brokers.csv``), not by a run: an external
# asset, so the dbt models that read it show where their input comes from.
brokers = dg.AssetSpec("brokers", group_name=DEFAULT_GROUP, kinds={"postgres"},
                       description="Licensed reverse-mortgage brokers: territories, licensed states, "
                                   "weekly caps. Loaded by operators with `equity brokers FILE.csv`.")

# What the funnel reads besides leads: tables written outside any run of this graph (the feed's
# batch rows by campaign_feed's SQL, events by the HTTP door, the audit trail by every stage).
campaign_batch_leads = dg.AssetSpec(
    "campaign_batch_leads", group_name="campaign", kinds={"postgres"},
    description="One row per fed lead, with its feed date (written by the campaign_feed asset's "
                "feed_campaign() pick).")
lead_events = dg.AssetSpec(
    "lead_events", group_name="campaign", kinds={"postgres"},
    description="Signed inbound events (reply, unsubscribe, bounce, complaint, booked) as the POST /events "
                "door stored them, once per (source, webhook id).")
pipeline_events = dg.AssetSpec(
    "pipeline_events", group_name=DEFAULT_GROUP, kinds={"postgres"},
    description="The pipeline's audit trail: every stage's counts, uploads received and staged.")


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=translator)
def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    invocation = dbt.cli(["build"], context=context)
    nodes = invocation.manifest["nodes"]
    with store.connect(warehouse.url, role=warehouse.role_or_none, autocommit=True) as conn:
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


contactable_refresh_job = dg.define_asset_job(
    "contactable_refresh_job",
    # the dbt models, then the funnel's figures read from funnel_daily (orchestration/defs/warehouse/funnel.py)
    selection=dg.AssetSelection.assets(warehouse_dbt_models) | dg.AssetSelection.assets("funnel"),
    executor_def=dg.in_process_executor,  # one dbt step: no process of its own needed
    description="Rebuild lead scores, refresh mv_contactable_leads and the funnel (dbt build).")

contactable_refresh = dg.ScheduleDefinition(
    name="contactable_refresh", job=contactable_refresh_job, cron_schedule=constants.REFRESH_CRON,
    execution_timezone=constants.TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
    description="05:30 PT daily: rebuild scores and refresh mv_contactable_leads.")

