"""Feeder settings: the daily cap, the outbox for exports (``EC_OUTBOX_DIR``), holidays and the
optional campaign endpoint."""

import dagster as dg
from pydantic import Field

from orchestration import constants


class FeederSettings(dg.ConfigurableResource):
    """How much to feed, where the export goes, and which weekdays are holidays."""

    daily_cap: int = Field(default=constants.DAILY_FEED_CAP, description="most leads fed per feed date")
    outbox_dir: str = Field(description="directory for the campaign-tool CSV exports (EC_OUTBOX_DIR)")
    holidays: list[str] = Field(default_factory=list, description="YYYY-MM-DD dates with no feed")
    endpoint_url: str = Field(default="", description="optional URL to POST each export to")
    post_attempts: int = Field(default=4, description="POST attempts (429, 5xx and connection errors retry)")
    post_backoff_s: float = Field(default=1.0, description="first retry delay; doubles per attempt")


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"feeder_settings": FeederSettings(outbox_dir=dg.EnvVar("EC_OUTBOX_DIR"))})
