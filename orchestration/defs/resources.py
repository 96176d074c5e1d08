"""The warehouse PostgreSQL, shared by every group. Its URL arrives through ``EC_WAREHOUSE_URL``
(set by ``equity`` from the running database) when a run starts, never at import."""

from contextlib import AbstractContextManager

import dagster as dg
import psycopg
from pydantic import Field

from orchestration.db import store

from orchestration import settings
from orchestration.settings import WAREHOUSE_URL_VAR


def env_var(name: str) -> dg.EnvVar:
    """A resource field bound to a setting of ``orchestration.settings.VARIABLES`` (read when a run
    starts); a name the table does not hold fails when the code loads, not in production."""
    if name not in settings.DERIVED:
        settings.variable(name)
    return dg.EnvVar(name)


def env_int(name: str) -> dg.EnvVar:
    env_var(name)
    return dg.EnvVar.int(name)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse PostgreSQL. The pipeline acts as ``role`` so row-level security stays on."""

    url: str = Field(description="psycopg URL of the warehouse database (EC_WAREHOUSE_URL)")
    role: str = Field(default="pipeline_writer", description="role to SET ROLE to; empty for none")

    @property
    def role_or_none(self) -> str | None:
        return self.role or None

    def connect(self, *, autocommit: bool = False) -> AbstractContextManager[psycopg.Connection]:
        """A connection to the warehouse acting as the pipeline's role (RLS stays on), in the
        scheduled jobs' time zone."""
        return store.connect(self.url, role=self.role_or_none, autocommit=autocommit)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": WarehouseResource(url=env_var(WAREHOUSE_URL_VAR))})
