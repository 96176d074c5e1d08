"""Alerts to people: a Slack-compatible JSON POST per failed run or failed asset check.

Pure logic, free of Dagster: building the message and posting it (several URLs, retried with
backoff). The sensors in ``orchestration/defs/alerts/sensors.py`` feed it.

No alert carries PII: the text is built only from names the pipeline controls (job, asset,
partition, check, run id) and from the pipeline's own one-line reasons, which quote no value of a
file; any other error is named by its class only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import httpx

from orchestration.core.outbound import deliver

# The one error class whose message is written to be shown: every pipeline refusal or failure.
SAFE_ERRORS = ("StageFailed", "Failure")


@dataclass(frozen=True)
class Alert:
    kind: str                 # "run_failure" or "check_failure"
    title: str
    run_id: str
    job: str
    partition: str | None
    asset: str | None
    check: str | None
    reason: str
    url: str                  # the run's page in the UI

    def payload(self) -> dict[str, object]:
        """Slack's incoming-webhook shape (``text``) plus the fields, for any other receiver."""
        lines = [f":rotating_light: {self.title}", f"job {self.job}, run {self.run_id[:8]}"]
        if self.asset:
            lines.append(f"asset {self.asset}" + (f", check {self.check}" if self.check else ""))
        if self.partition:
            lines.append(f"partition {self.partition}")
        lines += [self.reason, self.url]
        return {"text": "\n".join(lines), **asdict(self)}


def safe_reason(cls_name: str | None, message: str | None) -> str:
    """The pipeline's own one line, or only the error's class for anything else."""
    if cls_name in SAFE_ERRORS and message:
        head, sep, rest = message.strip().partition(": ")
        text = rest if sep and head.endswith(cls_name) else message.strip()
        return text.splitlines()[0][:500]
    return f"failed with {cls_name or 'an error'} (details in the run's log)"


def run_url(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def parse_urls(text: str) -> list[str]:
    """Webhook URLs from one setting: separated by commas, spaces or new lines."""
    return [u for u in text.replace(",", " ").split() if u]


def post(alert: Alert, urls: Iterable[str], *, attempts: int = 4, backoff_s: float = 1.0,
         sleep: Callable[[float], None] = time.sleep, timeout_s: float = 10.0) -> dict[str, str]:
    """POST the alert to every URL; 429, 5xx and connection errors retry with doubling delays.
    Returns {url: "sent" | reason} (a URL's failure never stops the others)."""
    out = {}
    for url in urls:
        sent = deliver(lambda url=url: httpx.post(url, json=alert.payload(), timeout=timeout_s),
                       attempts=attempts, backoff_s=backoff_s, sleep=sleep)
        # a transport error is named by its class only (its text may quote the URL, a secret)
        out[url] = "sent" if sent.ok else (sent.error.split(":", 1)[0] if sent.error else "not sent")
    return out
