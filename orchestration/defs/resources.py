"""The warehouse PostgreSQL, shared by every group. Its URL arrives through ``EC_WAREHOUSE_URL``
(set by ``equity`` from the running database) when a run starts, never at import."""

import dagster as dg
from pydantic import Field

from orchestration.settings import WAREHOUSE_URL_VAR


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse PostgreSQL. The pipeline acts as ``role`` so row-level security stays on."""

    url: str = Field(description="psycopg URL of the warehouse database (EC_WAREHOUSE_URL)")
    role: str = Field(default="pipeline_writer", description="role to SET ROLE to; empty for none")

    @property
    def role_or_none(self) -> str | None:
        return self.role or None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": WarehouseResource(url=dg.EnvVar(WAREHOUSE_URL_VAR))})
