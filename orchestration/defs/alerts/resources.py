"""Alert settings: where failures are posted (``EC_ALERT_WEBHOOK_URLS``) and the UI's address for
links (``EC_UI_URL``), read when a sensor ticks."""

import dagster as dg
from pydantic import Field

from orchestration.defs.resources import env_var

from orchestration.ops import alerts


class AlertSettings(dg.ConfigurableResource):
    """Slack-compatible webhooks for failed runs and failed asset checks."""

    webhook_urls: str = Field(default="", description="webhook URLs separated by commas or spaces "
                                                      "(EC_ALERT_WEBHOOK_URLS); none: no alerts")
    ui_base_url: str = Field(default="http://127.0.0.1:3000", description="the Dagster UI's address (EC_UI_URL)")
    attempts: int = Field(default=4, description="POST attempts per URL (429, 5xx, connection errors retry)")
    backoff_s: float = Field(default=1.0, description="first retry delay; doubles per attempt")

    def urls(self) -> list[str]:
        return alerts.parse_urls(self.webhook_urls)

    def send(self, alert: alerts.Alert) -> dict[str, str]:
        return alerts.post(alert, self.urls(), attempts=self.attempts, backoff_s=self.backoff_s)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"alert_settings": AlertSettings(
        webhook_urls=env_var("EC_ALERT_WEBHOOK_URLS"), ui_base_url=env_var("EC_UI_URL"))})
