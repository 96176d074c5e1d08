"""Pipeline health rules (pure): thresholds and verdicts for the door and the DLQ, which the
``pipeline_health`` checks evaluate every 15 minutes.

- HMAC failures: more than ``max_bad_signature_rate`` of the last hour's uploads refused for a bad
  signature (and at least ``min_uploads`` of them) means a sender signs with a wrong key — or
  someone is guessing;
- duplicate uploads: more than ``max_replay_rate`` of the last day's uploads were replays;
- DLQ: any open item that no job will retry needs a person (see docs/dlq.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    max_bad_signature_rate: float = 0.2
    max_replay_rate: float = 0.5
    min_uploads: int = 5


def rate_verdict(counts: dict[str, int], code: str, limit: float, min_uploads: int,
                 what: str, window: str) -> tuple[bool, str, float]:
    """(passed, why, rate) of refusals with ``code`` among all receipts in ``counts``."""
    total = sum(counts.values())
    bad = counts.get(code, 0)
    rate = bad / total if total else 0.0
    if total < min_uploads:
        return True, f"{bad} {what} among {total} uploads in the last {window} (too few to judge)", rate
    passed = rate <= limit
    return passed, (f"{bad} of {total} uploads in the last {window} were {what} ({rate:.0%}; "
                    f"limit {limit:.0%})"), rate


def dlq_verdict(open_by_source: dict[str, int]) -> tuple[bool, str]:
    total = sum(open_by_source.values())
    if not total:
        return True, "no DLQ item is waiting for a person"
    parts = ", ".join(f"{n} from {s}" for s, n in sorted(open_by_source.items()))
    return False, f"{total} DLQ item(s) wait for a person ({parts}): see docs/dlq.md"
