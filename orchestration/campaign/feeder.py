"""The weekday campaign feeder, free of Dagster: which dates feed, the export file for the campaign
tool with each lead's consent link, the optional POST with retries, and the shortfall explanation.

The pick itself is the SQL function ``feed_campaign()`` (``orchestration/db/sql/feed_campaign.sql``): one transaction under an
advisory lock, so the cap per date and "each lead once" hold under retries, overlap and backfills.

Delivery is derived from the committed batch, never from the pick's memory: ``deliver()`` writes
the export of every batch of the date that has none yet (a fresh batch, or one whose export
failed after the feed committed), so re-running the date completes a lost delivery and feeds
nobody twice.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as time_of_day
from zoneinfo import ZoneInfo
from pathlib import Path

from orchestration.campaign import consent
from orchestration import constants
from orchestration.db import store
from orchestration.core.files import write_atomic
from orchestration.core import outbound
from orchestration.privacy.pii import Sealer

EXPORT_COLUMNS = ["email", "first_name", "last_name", "phone", "company_name", "property_address", "property_city",
                  "property_state", "estimated_equity", "broker_name", "lead_score", "consent_url", "sending_account"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def holidays_of(setting: str | Iterable[str], year: int) -> dict[str, str]:
    """{YYYY-MM-DD: name} of the no-feed days one setting names for ``year``.

    The setting lists dates (YYYY-MM-DD) and calendar names, separated by commas or spaces:
    ``US`` is the US federal calendar (the ``holidays`` package: Thanksgiving, Christmas,
    observed days...), ``NYSE`` the stock exchange's. ``"US, 2026-12-24"`` adds Christmas Eve.
    """
    items = setting.replace(",", " ").split() if isinstance(setting, str) else list(setting)
    out: dict[str, str] = {}
    for item in items:
        if item.upper() == "US":
            import holidays

            out.update({d.isoformat(): name for d, name in holidays.US(years=year).items()})
        elif item.upper() == "NYSE":
            import holidays

            out.update({d.isoformat(): name for d, name in holidays.NYSE(years=year).items()})
        else:
            try:
                date.fromisoformat(item)
            except ValueError:
                raise ValueError(f"holiday setting {item!r} is neither YYYY-MM-DD nor a calendar (US, NYSE)") \
                    from None
            out.setdefault(item, "configured holiday")
    return out


def is_feed_day(day: date, holidays: str | Iterable[str] = ()) -> tuple[bool, str]:
    """(feeds?, why not). Weekends and holidays (see ``holidays_of``) get no feed."""
    if day.weekday() >= 5:
        return False, f"{day:%A} {day.isoformat()} is a weekend day: no feed"
    name = holidays_of(holidays, day.year).get(day.isoformat())
    if name:
        return False, f"{day.isoformat()} is a holiday ({name}): no feed"
    return True, ""


FEED_DEADLINE = time_of_day(6, 30)     # the 06:00 feed, with room for a slow morning


def fed_today(now: datetime, holidays: str | Iterable[str], ran: tuple[datetime, int] | None) -> tuple[bool, str]:
    """(passed, why): on a feed day, from 06:30 America/Los_Angeles, a feed run must have been
    recorded for today's date (``ran``: when the latest did, and how many it fed for the date —
    none fed is still a feed that ran, its shortfall says why)."""
    zone = ZoneInfo(constants.TIMEZONE)
    local = now.astimezone(zone)
    day = local.date()
    ok, why = is_feed_day(day, holidays)
    if not ok:
        return True, why
    if local.time() < FEED_DEADLINE:
        return True, f"the feed for {day} is due at 06:00; it is judged from {FEED_DEADLINE:%H:%M}"
    if ran is None:
        return False, (f"no feed has run for {day} (due 06:00 America/Los_Angeles, checked from "
                       f"{FEED_DEADLINE:%H:%M}): is the daemon running? Launch or backfill campaign_feed for {day}")
    at, fed = ran
    return True, f"the feed for {day} ran at {at.astimezone(zone):%H:%M %Z}: {fed} fed for the date"


def inert(value: object) -> str:
    """A cell a spreadsheet will not evaluate (formula injection): prefix formula starters with '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_csv(rows: list[dict]) -> bytes:
    """Rows in the import shape of an e-mail campaign tool (Instantly-style custom fields). A phone
    on a Do-Not-Call list arrives here already blank (store.batch_export_rows)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        equity = r.get("estimated_equity")
        writer.writerow({
            "email": inert(r["email"]), "first_name": inert(r.get("first_name")),
            "last_name": inert(r.get("last_name")), "phone": inert(r.get("phone")),
            "company_name": inert(r.get("broker_name")),
            "property_address": inert(r.get("property_address")), "property_city": inert(r.get("property_city")),
            "property_state": inert(r.get("property_state")),
            "estimated_equity": "" if equity is None else f"{float(equity):.0f}",
            "broker_name": inert(r.get("broker_name")), "lead_score": r.get("lead_score"),
            "consent_url": inert(r.get("consent_url")), "sending_account": inert(r.get("sending_account")),
        })
    return buf.getvalue().encode()


def write_outbox(outbox: Path, feed_date: date, batch_id: int, data: bytes) -> Path:
    """The export, readable by this user only (it holds e-mails and phones in plain text)."""
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    outbox.chmod(0o700)
    target = outbox / f"campaign_{feed_date.isoformat()}_batch{batch_id}.csv"
    return write_atomic(target, data)


# What a POST of an export came to (ok, attempts, statuses, error): the one outbound delivery result.
PostResult = outbound.Delivery


def post_with_retry(url: str, data: bytes, *, attempts: int = 4, backoff_s: float = 1.0,
                    sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0) -> PostResult:
    """POST the export (``orchestration.core.outbound``: 2xx only is delivered; 429, 5xx and connection
    errors retry with capped backoff, honouring Retry-After)."""
    import httpx

    return outbound.deliver(lambda: httpx.post(url, content=data, headers={"Content-Type": "text/csv"},
                                               timeout=timeout),
                            attempts=attempts, backoff_s=backoff_s, sleep=sleep)


@dataclass
class FeedResult:
    feed_date: date
    fed_now: int
    fed_for_date: int
    daily_cap: int
    batch_id: int | None
    by_broker: dict[str, int]
    score_min: int | None
    score_max: int | None
    shortfall: int
    shortfall_reason: str
    paused: str = ""                                        # "paused: <why>" when nobody was fed for it
    health: object = None                                   # campaign.health.Health, when judged
    mailbox_capacity: int | None = None                     # the mailboxes' total for the date
    by_mailbox: dict[str, int] = field(default_factory=dict)


def explain_shortfall(conn, feed_date: date, cap: int, fed_for_date: int, *, mailbox_capacity: int | None = None,
                      held_lists: int = 0) -> str:
    if mailbox_capacity is not None and fed_for_date >= mailbox_capacity and mailbox_capacity < cap:
        return (f"only {fed_for_date} fed for {feed_date}: the sending mailboxes' total for the date is "
                f"{mailbox_capacity} (daily caps and warm-up, EC_MAILBOXES)")
    if fed_for_date >= cap:
        return ""
    contactable, unfed = store.contactable_counts(conn)
    held = f"; {held_lists} vendor list(s) held back by the sender-health breaker" if held_lists else ""
    if unfed == 0:
        return (f"only {fed_for_date} fed for {feed_date}: no contactable lead is left unfed "
                f"({contactable} in mv_contactable_leads, all fed already){held}")
    return (f"only {fed_for_date} fed for {feed_date} (cap {cap}): {unfed} contactable leads not yet fed"
            f"{'' if unfed <= cap - fed_for_date else ' but brokers reached their weekly caps'}{held}")


def feed(database_url: str, feed_date: date, *, daily_cap: int = constants.DAILY_FEED_CAP, run_id: str | None = None,
         role: str | None = "pipeline_writer", email_gap_days: int = 90,
         lock_timeout_s: float = constants.FEED_LOCK_TIMEOUT_S, breaker_settings=None,
         mailboxes: list | None = None) -> FeedResult:
    """Top the date's feed up to ``daily_cap`` (one transaction), return what was fed and why not more.

    With ``breaker_settings`` (campaign.breaker.BreakerSettings) the sender's health is judged
    first: a pause of the whole sender (in force, or opened now) feeds nobody, and the leads of a
    paused list are left out. With ``mailboxes`` (campaign.mailboxes) the date feeds at most their
    total for the day, and each lead is given the mailbox it goes out from.

    Another run feeding at the same time is waited for, at most ``lock_timeout_s`` (then
    LockNotAvailable: the run fails and its retry feeds what is left)."""
    from orchestration.campaign import health as sender_health
    from orchestration.campaign import mailboxes as boxes

    with store.connect(database_url, role=role) as conn:
        with conn.transaction():
            store.set_lock_timeout(conn, lock_timeout_s)
            health = (sender_health.evaluate(conn, feed_date, breaker_settings, run_id=run_id)
                      if breaker_settings is not None else None)
            capacity = boxes.day_capacity(mailboxes, feed_date) if mailboxes else None
            cap = daily_cap if capacity is None else min(daily_cap, sum(capacity.values()))
            picked = [] if health is not None and health.paused else store.feed_campaign(
                conn, feed_date, cap, run_id, email_gap_days)
            batch_id = picked[0][3] if picked else None
            by_mailbox: dict[str, int] = {}
            if picked and capacity is not None:
                spread = boxes.assign(capacity, Counter(store.mailbox_use(conn, feed_date)), len(picked))
                store.assign_sending_accounts(conn, batch_id, list(zip([p[0] for p in picked], spread)))
                by_mailbox = dict(Counter(spread))
            by_broker = Counter(str(b) for b in store.batch_brokers(conn, batch_id)) if picked else Counter()
            fed_for_date = store.fed_count(conn, feed_date)
            paused = health.reason if health is not None else ""
            reason = paused or explain_shortfall(
                conn, feed_date, daily_cap, fed_for_date,
                mailbox_capacity=None if capacity is None else sum(capacity.values()),
                held_lists=len(health.held) if health is not None else 0)
            store.record_event(conn, "fed", stage="campaign_feed", run_id=run_id, row_count=len(picked),
                               details={"feed_date": feed_date.isoformat(), "batch_id": batch_id,
                                        "fed_for_date": fed_for_date, "daily_cap": daily_cap,
                                        "shortfall_reason": reason, "paused": bool(paused),
                                        "by_mailbox": by_mailbox})
    scores = [int(p[2]) for p in picked]
    return FeedResult(feed_date=feed_date, fed_now=len(picked), fed_for_date=fed_for_date, daily_cap=daily_cap,
                      batch_id=batch_id, by_broker=dict(by_broker), score_min=min(scores) if scores else None,
                      score_max=max(scores) if scores else None, shortfall=max(0, daily_cap - fed_for_date),
                      shortfall_reason=reason, paused=paused, health=health,
                      mailbox_capacity=None if capacity is None else sum(capacity.values()), by_mailbox=by_mailbox)


@dataclass(frozen=True)
class ConsentLinks:
    """How consent links are made: the form secret (from its file), the public base URL."""

    secret: bytes = field(repr=False)
    base_url: str
    ttl_days: int = consent.TOKEN_TTL.days

    def for_batch(self, conn, batch_id: int, lead_ids: list) -> dict:
        """{lead id: consent URL} for the batch's leads: their live tokens again (same link on a
        re-run), new tokens for the others."""
        tokens = store.batch_consent_tokens(conn, batch_id)
        new = [(uuid.uuid4(), lead) for lead in lead_ids if lead not in tokens]
        store.add_consent_tokens(conn, batch_id, [(t, lead, consent.token_hash(consent.token_for(self.secret, t)))
                                                  for t, lead in new], self.ttl_days)
        tokens.update({lead: t for t, lead in new})
        return {lead: consent.link(self.base_url, consent.token_for(self.secret, tokens[lead])) for lead in lead_ids}


@dataclass
class Delivery:
    batch_id: int
    export: Path
    rows: int
    phones_withheld: int


def reveal(conn, sealer: Sealer, rows: list[dict], *, purpose: str, run_id: str | None, batch_id: int) -> None:
    """Open the rows' sealed e-mails and phones for the campaign tool, in place, and record one
    ``pii_decrypted`` event: the purpose, how many values, the run and batch (never a value)."""
    opened = 0
    for r in rows:
        for channel in ("email", "phone"):
            if r.get(channel) is not None:
                r[channel] = sealer.open(channel, r[channel])
                opened += 1
    store.record_event(conn, "pii_decrypted", stage="campaign_feed", run_id=run_id, row_count=opened,
                       details={"purpose": purpose, "batch_id": batch_id, "leads": len(rows), "values": opened})


def deliver(database_url: str, feed_date: date, outbox: Path, links: ConsentLinks, *, sealer: Sealer,
            role: str | None = "pipeline_writer", run_id: str | None = None) -> list[Delivery]:
    """Write the export of every batch of ``feed_date`` that has none yet; each row carries its
    lead's consent link and its e-mail and phone opened (the campaign tool needs them; the file is
    0600 and goes with retention). The batch is marked exported only once its file is in place."""
    out = []
    # autocommit: each batch's delivery is its own transaction, committed as soon as it is done
    with store.connect(database_url, role=role, autocommit=True) as conn:
        for batch_id in store.unexported_batches(conn, feed_date):
            with conn.transaction():
                rows = store.batch_export_rows(conn, batch_id)
                reveal(conn, sealer, rows, purpose="export", run_id=run_id, batch_id=batch_id)
                urls = links.for_batch(conn, batch_id, [r["lead_id"] for r in rows])
                for r in rows:
                    r["consent_url"] = urls[r["lead_id"]]
                path = write_outbox(outbox, feed_date, batch_id, export_csv(rows))
                store.mark_exported(conn, batch_id, path)
                withheld = sum(1 for r in rows if r["phone_withheld"])
                store.record_event(conn, "exported", stage="campaign_feed", run_id=run_id, row_count=len(rows),
                                   details={"feed_date": feed_date.isoformat(), "batch_id": batch_id,
                                            "phones_withheld": withheld})
            out.append(Delivery(batch_id, path, len(rows), withheld))
    return out


def push_date(database_url: str, feed_date: date, links: ConsentLinks, settings, *, sealer: Sealer,
              role: str | None = "pipeline_writer", run_id: str | None = None) -> Counter:
    """Push every lead of the date's batches not pushed yet (see orchestration.campaign.push); each
    outcome is recorded as it arrives, so a re-run after a crash pushes only the rest."""
    from orchestration.campaign import push

    counts: Counter = Counter()
    # autocommit: each outcome is committed the moment it is recorded, so a push killed halfway
    # keeps every lead it had pushed (a transaction held open would lose them all)
    with store.connect(database_url, role=role, autocommit=True) as conn:
        for batch_id in store.unpushed_batches(conn, feed_date):
            with conn.transaction():
                done = store.pushed_leads(conn, batch_id)
                rows = [r for r in store.batch_export_rows(conn, batch_id) if r["lead_id"] not in done]
                reveal(conn, sealer, rows, purpose="push", run_id=run_id, batch_id=batch_id)
                urls = links.for_batch(conn, batch_id, [r["lead_id"] for r in rows])
            for r in rows:
                r["consent_url"] = urls[r["lead_id"]]

            def record(outcome, batch_id=batch_id):
                with conn.transaction():
                    store.record_push(conn, batch_id, outcome)

            got = push.push_rows(rows, settings, record)
            counts.update(got)
            with conn.transaction():
                store.record_event(conn, "pushed", stage="campaign_feed", run_id=run_id, row_count=got["pushed"],
                                   details={"feed_date": feed_date.isoformat(), "batch_id": batch_id, **got})
    return counts
