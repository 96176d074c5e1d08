"""The write-back as a step of its own: ``int_lead_scores`` computes each lead's score and
``int_lead_eligibility`` whether a reverse mortgage can help it; this asset copies both into
``leads`` (``lead_score``, what the contactable view and the feeder rank on, and
``ineligible_reasons``, what the view holds back on), and the campaign's marts are built after it.
A step the lineage shows, rather than a dbt hook writing into one of dbt's own sources."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.db import store
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse.dbt import GROUP, warehouse_dbt_models


@dg.asset(group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([warehouse_dbt_models], "int_lead_scores"),
                get_asset_key_for_model([warehouse_dbt_models], "int_lead_eligibility")],
          description="leads.lead_score and leads.ineligible_reasons as int_lead_scores and int_lead_eligibility "
                      "computed them in this refresh: what the contactable view and the feeder rank and hold "
                      "back on. Only changed values are written.")
def lead_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn, conn.transaction():
        changed, scored = store.write_lead_scores(conn)
        judged = store.write_eligibility(conn)
        held, by_reason = store.held_back(conn)
        risky = store.risky_email_counts(conn)
    context.log.info(f"{changed:,} of {scored:,} lead scores changed; {judged:,} eligibility changes; "
                     f"{held:,} leads held back as not eligible; risky e-mails left out of the feed: {risky}")
    return dg.MaterializeResult(metadata={
        "scores_changed": changed, "leads_scored": scored, "eligibility_changed": judged,
        "leads_held_back": held,
        "held_back_by_reason": dg.MetadataValue.json(by_reason),
        **{f"held_back/{reason}": n for reason, n in by_reason.items()},
        # verified e-mails the contactable view leaves out (role, disposable, vendor could not confirm)
        "risky_emails": sum(risky.values()),
        **{f"risky_emails/{kind}": n for kind, n in risky.items()},
    })
