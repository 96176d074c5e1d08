"""The dbt project as Dagster sees it. Kept in its own module so that
``dagster-dbt project prepare-and-package --file orchestration/defs/dbt_project.py`` can import it
without importing the assets. Constructing DbtProject does no parsing; setup prepares the manifest.
"""
from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
