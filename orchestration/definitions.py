"""The Dagster code location: assets, jobs, sensors and resources, wired from the environment
(EnvVar) when runs start — importing this module connects to nothing and parses nothing."""

import sys
from pathlib import Path

from dagster import Definitions, EnvVar, define_asset_job
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt_assets import warehouse_dbt_models
from orchestration.defs.dbt_project import dbt_project
from orchestration.defs.feed_assets import (
    FeederSettings,
    campaign_feed,
    campaign_feed_job,
    campaign_feed_schedule,
    refresh_schedule,
)
from orchestration.defs.ingest_assets import INGEST_ASSETS, ingest_job
from orchestration.defs.resources import IngestSettings, WarehouseResource
from orchestration.defs.sensors import upload_sensor

_DBT = str(Path(sys.executable).with_name("dbt"))

# The 05:30 refresh is the dbt build: staging -> scores (written back to leads) -> the contactable view
# (refreshed CONCURRENTLY under an advisory lock by the project's refresh macro).
contactable_refresh_job = define_asset_job(
    "contactable_refresh_job", selection=[warehouse_dbt_models],
    description="Rebuild lead scores and refresh mv_contactable_leads (dbt build).")

defs = Definitions(
    assets=[*INGEST_ASSETS, warehouse_dbt_models, campaign_feed],
    jobs=[ingest_job, contactable_refresh_job, campaign_feed_job],
    sensors=[upload_sensor],
    schedules=[refresh_schedule(contactable_refresh_job), campaign_feed_schedule],
    resources={
        "warehouse": WarehouseResource(url=EnvVar("EC_WAREHOUSE_URL")),
        "ingest": IngestSettings(landing_dir=EnvVar("EC_LANDING_DIR"),
                                 upload_keys_file=EnvVar("EC_UPLOAD_KEYS_FILE")),
        "feeder_settings": FeederSettings(outbox_dir=EnvVar("EC_OUTBOX_DIR")),
        # The dbt next to this interpreter (the venv's), so PATH need not include the venv.
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=_DBT),
    },
)
