"""Feeder settings from the environment: the daily cap (``EC_DAILY_FEED_CAP``), the outbox for
exports (``EC_OUTBOX_DIR``), holidays (``EC_FEED_HOLIDAYS``) and the optional campaign endpoint
(``EC_CAMPAIGN_ENDPOINT_URL``); ``equity`` exports each with its documented default."""

import dagster as dg
from pydantic import Field

from orchestration import constants


class FeederSettings(dg.ConfigurableResource):
    """How much to feed, where the export goes, and which weekdays are holidays."""

    daily_cap: int = Field(default=constants.DAILY_FEED_CAP, description="most leads fed per feed date "
                                                                       "(EC_DAILY_FEED_CAP)")
    outbox_dir: str = Field(description="directory for the campaign-tool CSV exports (EC_OUTBOX_DIR)")
    holidays: str = Field(default="", description="no-feed days: YYYY-MM-DD dates and calendars (US, NYSE), "
                                                  "comma-separated (EC_FEED_HOLIDAYS)")
    endpoint_url: str = Field(default="", description="optional URL to POST each export to "
                                                      "(EC_CAMPAIGN_ENDPOINT_URL)")
    post_attempts: int = Field(default=4, description="POST attempts (429, 5xx and connection errors retry)")
    post_backoff_s: float = Field(default=1.0, description="first retry delay; doubles per attempt")
    dlq_retry_base_s: float = Field(default=300.0, description="a failed push is retried by dlq_retry_job after "
                                                               "this many seconds, then after doubling delays")
    dlq_retry_max_attempts: int = Field(default=8, description="retries of a failed push before a person is needed")


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"feeder_settings": FeederSettings(
        outbox_dir=dg.EnvVar("EC_OUTBOX_DIR"), daily_cap=dg.EnvVar.int("EC_DAILY_FEED_CAP"),
        holidays=dg.EnvVar("EC_FEED_HOLIDAYS"), endpoint_url=dg.EnvVar("EC_CAMPAIGN_ENDPOINT_URL"))})
