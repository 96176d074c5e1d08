"""The dashboards, free of Dagster: what each report shows (from its dbt mart), as a text table,
CSV or JSON for ``equity report NAME``, and as a chart, a table and plain figures for the
``dashboards`` asset group in the Dagster UI.

Reports: ``funnel`` (funnel_daily), ``uploads`` (uploads_daily), ``brokers`` (broker_performance),
``verification`` (verification_providers), ``errors`` (errors_daily), ``scores``
(score_distribution), ``vendors`` (vendor_roi).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from orchestration.core import charts


@dataclass(frozen=True)
class Report:
    name: str
    mart: str
    title: str
    columns: tuple[str, ...]          # what the text table and the UI's table show
    takes_days: bool = True


REPORTS: dict[str, Report] = {r.name: r for r in (
    Report("funnel", "funnel_daily", "The funnel by day",
           ("day", "uploaded_rows", "merged", "contactable", "fed", "replied", "consented", "booked",
            "unsubscribed", "bounced", "reply_rate", "booking_rate")),
    Report("uploads", "uploads_daily", "Uploads: what each list held and what became of it",
           ("upload_id", "received_on", "source", "rows_in", "rejected", "in_file_duplicates", "new_leads",
            "merged_leads", "unchanged_leads", "seconds_to_merge", "status")),
    Report("brokers", "broker_performance", "Brokers by week",
           ("week", "broker_name", "assigned", "fed", "replied", "booked", "unsubscribed", "bounced",
            "reply_rate", "booking_rate", "weekly_cap", "cap_use")),
    Report("verification", "verification_providers", "Verification providers: does 'deliverable' deliver?",
           ("provider", "status", "leads", "fed", "hard_bounced", "replied", "bounce_rate", "reply_rate"),
           takes_days=False),
    Report("errors", "errors_daily", "Errors by day", ("day", "kind", "reason", "items", "open_items")),
    Report("scores", "score_distribution", "Lead scores", ("band", "leads", "contactable", "fed"),
           takes_days=False),
    Report("vendors", "vendor_roi", "Vendor lists: what each one bought",
           ("grain", "source", "upload_id", "leads", "eligible", "contactable", "fed", "replied", "booked",
            "bounced", "complained", "unsubscribed", "cost_usd", "cost_per_booking"), takes_days=False),
)}


def plain(value):
    """A JSON/CSV-friendly value: dates as ISO text, decimals as numbers."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def rows_for(conn, name: str, days: int) -> list[dict]:
    """The report's rows, newest first (the funnel summed over sources and brokers, per day)."""
    from orchestration.campaign import funnel
    from orchestration.db import store

    if name == "funnel":
        return funnel.by_day(conn, days)
    return store.mart_rows(conn, name, days)


def as_json(rows: list[dict]) -> str:
    return json.dumps([{k: plain(v) for k, v in r.items()} for r in rows], indent=2, ensure_ascii=False) + "\n"


def as_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: "" if v is None else _inert(plain(v)) for k, v in r.items()})
    return buf.getvalue()


def _inert(value):
    # a report opened in a spreadsheet must not evaluate a cell (a filename or reason is text)
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _cell(column: str, value) -> str:
    if value is None:
        return "-"
    if column.endswith(("_rate", "cap_use")):
        return f"{float(value):.1%}"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(plain(value))


def as_text(report: Report, rows: list[dict]) -> str:
    """An aligned table of the report's columns."""
    if not rows:
        return f"{report.title}: no rows yet"
    cols = [c for c in report.columns if c in rows[0]]
    lines = [cols] + [[_cell(c, r.get(c)) for c in cols] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    body = "\n".join("  ".join(c.ljust(w) if i < 1 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in lines)
    return f"{report.title}\n{body}"


# --- the UI: a chart, a table and plain figures per report ---------------------------------------

def chart(name: str, rows: list[dict]) -> bytes:
    """The report's chart as PNG."""
    if name == "funnel":
        days = [str(r["day"]) for r in reversed(rows)]
        return charts.bars("Funnel by day", days, {s: [r[s] for r in reversed(rows)]
                                                   for s in ("merged", "fed", "replied", "booked", "bounced")})
    if name == "uploads":
        recent = list(reversed(rows[:15]))
        return charts.bars("Uploads: rows and what became of them", [r["upload_id"][-8:] for r in recent],
                           {"new leads": [r["new_leads"] for r in recent],
                            "merged": [r["merged_leads"] for r in recent],
                            "unchanged": [r["unchanged_leads"] for r in recent],
                            "in-file duplicates": [r["in_file_duplicates"] for r in recent],
                            "rejected": [r["rejected"] for r in recent]}, ylabel="rows", stacked=True)
    if name == "brokers":
        by_broker: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in rows:
            who = r.get("broker_name") or str(r["broker_id"])[:8]
            for k in ("fed", "replied", "booked", "bounced"):
                by_broker[who][k] += int(r[k] or 0)
        names = sorted(by_broker)
        return charts.bars("Brokers: fed and what came of it", names,
                           {k: [by_broker[n][k] for n in names] for k in ("fed", "replied", "booked", "bounced")})
    if name == "verification":
        labels = [f"{r['provider']}:{r['status']}" for r in rows]
        return charts.bars("Verification providers: bounce and reply rate of fed leads", labels,
                           {"bounce rate": [float(r["bounce_rate"] or 0) for r in rows],
                            "reply rate": [float(r["reply_rate"] or 0) for r in rows]}, ylabel="share of fed")
    if name == "errors":
        by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in rows:
            by_day[str(r["day"])][r["kind"]] += int(r["items"])
        days = sorted(by_day)
        kinds = sorted({k for d in by_day.values() for k in d})
        return charts.bars("Errors by day and kind", days, {k: [by_day[d][k] for d in days] for k in kinds},
                           ylabel="items", stacked=True)
    if name == "scores":
        return charts.bars("Leads by score band", [r["band"] for r in rows],
                           {k: [r[k] for r in rows] for k in ("leads", "contactable", "fed")})
    if name == "vendors":
        lists = [r for r in rows if r["grain"] == "upload"][:12]
        return charts.bars("Vendor lists: what each one bought", [str(r["upload_id"])[-8:] for r in lists],
                           {k: [r[k] for r in lists] for k in ("leads", "contactable", "fed", "replied", "booked",
                                                              "bounced")})
    raise KeyError(name)


def figures(name: str, rows: list[dict]) -> dict[str, float]:
    """Plain numbers for the asset's metadata (the UI plots each over materialisations)."""
    def total(key, keep=lambda r: True):
        return sum(float(r.get(key) or 0) for r in rows if keep(r))

    if name == "uploads":
        return {"uploads": len(rows), "rows_in": total("rows_in"), "rejected": total("rejected"),
                "new_leads": total("new_leads"), "failed_uploads": sum(1 for r in rows if r["status"] == "failed")}
    if name == "brokers":
        fed = total("fed")
        return {"brokers": len({r["broker_id"] for r in rows}), "fed": fed, "replied": total("replied"),
                "booked": total("booked"), "reply_rate": round(total("replied") / fed, 4) if fed else 0.0}
    if name == "verification":
        fed = total("fed")
        return {"providers": len({r["provider"] for r in rows}), "fed": fed,
                "hard_bounced": total("hard_bounced"),
                "bounce_rate": round(total("hard_bounced") / fed, 4) if fed else 0.0}
    if name == "errors":
        return {"items": total("items"), "open_items": total("open_items"),
                "kinds": len({r["kind"] for r in rows})}
    if name == "scores":
        return {"leads": total("leads"), "contactable": total("contactable"), "fed": total("fed")}
    if name == "vendors":
        up = lambda r: r["grain"] == "upload"  # noqa: E731
        booked, cost = total("booked", up), total("cost_usd", up)
        return {"lists": sum(1 for r in rows if up(r)), "leads": total("leads", up), "fed": total("fed", up),
                "booked": booked, "bounced": total("bounced", up),
                "cost_per_booking": round(cost / booked, 2) if booked and cost else 0.0}
    if name == "funnel":
        return {"fed": total("fed"), "replied": total("replied"), "booked": total("booked")}
    raise KeyError(name)


def table_columns(report: Report, rows: list[dict]) -> list[str]:
    return [c for c in report.columns if not rows or c in rows[0]]
