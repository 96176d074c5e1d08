"""The dbt CLI resource: the dbt next to this interpreter (the venv's), so PATH need not include
the venv; its profile reads the warehouse from the environment ``equity`` sets."""

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration import settings
from orchestration.defs.warehouse.project import dbt_project


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=str(settings.dbt_executable())),
    })
