"""The score write-back as a step of its own: ``int_lead_scores`` computes each lead's score, this
asset copies it into ``leads.lead_score`` (what the contactable view and the feeder rank on), and
the campaign's marts are built after it. A step the lineage shows, rather than a dbt hook writing
into one of dbt's own sources."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.db import store
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse.dbt import GROUP, warehouse_dbt_models


@dg.asset(group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([warehouse_dbt_models], "int_lead_scores")],
          description="leads.lead_score as int_lead_scores computed it in this refresh: the column the "
                      "contactable view and the feeder rank on. Only changed scores are written.")
def lead_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn, conn.transaction():
        changed, scored = store.write_lead_scores(conn)
    context.log.info(f"{changed:,} of {scored:,} lead scores changed")
    return dg.MaterializeResult(metadata={"scores_changed": changed, "leads_scored": scored})
