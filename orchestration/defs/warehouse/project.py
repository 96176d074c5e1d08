"""The dbt project as Dagster sees it. In a module of its own so that
``dagster-dbt project prepare-and-package --file orchestration/defs/warehouse/project.py`` can
import it without importing the assets. Constructing ``DbtProject`` parses nothing: ``equity setup``
prepares the manifest once (``dbt parse``), so no process that loads the code re-parses dbt.
"""
from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
