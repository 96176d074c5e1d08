"""The dbt project as Dagster sees it, and how its models become assets. In a module of its own so
that ``dagster-dbt project prepare-and-package --file orchestration/defs/warehouse/project.py`` can
import it without importing the assets. Constructing ``DbtProject`` parses nothing: ``equity setup``
prepares the manifest once (``dbt parse``), so no process that loads the code re-parses dbt.
"""
from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# The dbt models tagged ``campaign`` (the marts the campaign reads, mv_contactable_leads and
# funnel_daily, and int_lead_stages, which reads the contactable view) are the campaign group's
# assets, defined in defs/campaign/; every other model is the warehouse's own modelling.
CAMPAIGN_MODELS = "tag:campaign"


class Translator(DagsterDbtTranslator):
    """Puts every model of one ``@dbt_assets`` in that folder's group; descriptions from the YAML,
    never the raw SQL. Keys stay dagster-dbt's default (schema + model name), which other modules
    look up with ``get_asset_key_for_model``."""

    def __init__(self, group: str):
        super().__init__()
        self.group = group

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        return self.group

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return dbt_resource_props.get("description") or f"dbt {dbt_resource_props['resource_type']} " \
            f"{dbt_resource_props['name']} (no description in its YAML)"
