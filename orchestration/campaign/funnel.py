"""The funnel's figures, free of Dagster: totals by day from the dbt model ``funnel_daily``
(built by the daily refresh), for the ``funnel`` asset's metadata and ``equity report funnel``."""

from __future__ import annotations

from datetime import date

import psycopg

from orchestration.db import store

STAGES = ("uploaded_rows", "merged", "contactable", "fed", "replied", "consented", "booked", "unsubscribed",
          "bounced")


def by_day(conn: psycopg.Connection, days: int) -> list[dict]:
    """One row per day of the last ``days`` days that has any figure (all sources and brokers
    summed), newest first, with the day's reply and booking rates."""
    rows = store.funnel_by_day(conn, STAGES, days)
    for r in rows:
        r["reply_rate"] = round(r["replied"] / r["fed"], 4) if r["fed"] else None
        r["booking_rate"] = round(r["booked"] / r["fed"], 4) if r["fed"] else None
    return rows


def totals(rows: list[dict]) -> dict:
    out = {s: sum(int(r[s]) for r in rows) for s in STAGES if s != "contactable"}
    out["contactable"] = int(rows[0]["contactable"]) if rows and rows[0]["day"] == date.today() else 0
    return out


def table(rows: list[dict]) -> str:
    """The rows as an aligned text table (what `equity report funnel` prints)."""
    head = ["day", *STAGES, "reply_rate", "booking_rate"]
    lines = [head] + [[str(r["day"]), *(f"{int(r[s]):,}" for s in STAGES),
                       *("-" if r[k] is None else f"{r[k]:.1%}" for k in ("reply_rate", "booking_rate"))]
                      for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines)


def held_back(conn: psycopg.Connection) -> dict:
    """Leads a reverse mortgage cannot help, held back from the contactable view: how many, and how
    many for each reason (a lead with two reasons counts under each)."""
    total, by_reason = store.held_back(conn)
    return {"held_back": total, "by_reason": by_reason}


def held_back_text(held: dict) -> str:
    if not held["held_back"]:
        return "held back as not eligible: none"
    reasons = ", ".join(f"{r} {n:,}" for r, n in held["by_reason"].items())
    return f"held back as not eligible: {held['held_back']:,} leads ({reasons})"
