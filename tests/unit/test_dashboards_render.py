"""The dashboards' rendering (no database): every report's chart is a PNG for any rows, empty
included; CSV cells a spreadsheet would evaluate are made inert; text tables align; JSON values
are plain."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from orchestration.campaign import dashboards

PNG = b"\x89PNG\r\n\x1a\n"


def fake_rows(name: str, rng: random.Random, n: int) -> list[dict]:
    day = date(2026, 12, 7)
    out = []
    for i in range(n):
        d = day - timedelta(days=rng.randint(0, 40))
        fed = rng.randint(0, 300)
        out.append({
            "funnel": lambda: {"day": d, **{s: rng.randint(0, 500) for s in ("uploaded_rows", "merged", "contactable",
                                                                              "fed", "replied", "consented", "booked",
                                                                              "unsubscribed", "bounced")},
                               "reply_rate": None, "booking_rate": None},
            "uploads": lambda: {"upload_id": f"2026{i:04d}T000000Z-{uuid.uuid4().hex[:8]}", "received_on": d,
                                "source": rng.choice(["batchdata", "propstream"]), "rows_in": rng.randint(0, 10**6),
                                "rejected": rng.randint(0, 100), "in_file_duplicates": rng.randint(0, 100),
                                "new_leads": rng.randint(0, 1000), "merged_leads": rng.randint(0, 1000),
                                "unchanged_leads": rng.randint(0, 1000), "seconds_to_merge": Decimal("12.5"),
                                "status": rng.choice(["merged", "failed"])},
            "brokers": lambda: {"week": d, "broker_id": uuid.uuid4(), "broker_name": rng.choice(["=Evil", "A", None]),
                                "assigned": 3, "fed": fed, "replied": fed // 3, "booked": fed // 9, "unsubscribed": 1,
                                "bounced": fed // 20, "reply_rate": Decimal("0.3333"), "booking_rate": None,
                                "weekly_cap": 100, "cap_use": Decimal("1.2")},
            "verification": lambda: {"provider": rng.choice(["batchdata", "propstream"]),
                                     "status": rng.choice(["deliverable", "risky", "none"]), "leads": 10, "fed": fed,
                                     "hard_bounced": fed // 10, "replied": 1, "bounce_rate": Decimal("0.1"),
                                     "reply_rate": None},
            "errors": lambda: {"day": d, "kind": rng.choice(["dlq:leads_validated", "upload_refused"]),
                               "reason": rng.choice(["+1 bad", "missing address", "bad_signature"]),
                               "items": rng.randint(1, 50), "open_items": 0},
            "scores": lambda: {"band": f"{i * 10}-{i * 10 + 9}", "band_low": i * 10, "leads": rng.randint(0, 99),
                               "contactable": 1, "fed": 0},
            "vendors": lambda: {"grain": rng.choice(["upload", "source"]), "source": "batchdata",
                                "upload_id": f"u{i}", "leads": 5, "eligible": 4, "contactable": 3, "fed": fed,
                                "replied": 1, "booked": rng.randint(0, 2), "bounced": 0, "complained": 0,
                                "unsubscribed": 0, "cost_usd": rng.choice([None, Decimal("1500.00")]),
                                "cost_per_booking": None},
        }[name]())
    return out


@pytest.mark.parametrize("name", list(dashboards.REPORTS))
def test_every_chart_is_a_png_for_any_rows(name):
    rng = random.Random(26)
    for n in (0, 1, 7, 60):
        rows = fake_rows(name, rng, n)
        png = dashboards.chart(name, rows)
        assert png.startswith(PNG) and len(png) > 2000
        figures = dashboards.figures(name, rows)
        assert all(isinstance(v, (int, float)) for v in figures.values())


@pytest.mark.parametrize("name", list(dashboards.REPORTS))
def test_csv_json_and_text_of_every_report(name):
    rows = fake_rows(name, random.Random(7), 12)
    parsed = list(csv.DictReader(io.StringIO(dashboards.as_csv(rows))))
    assert len(parsed) == 12 and list(parsed[0]) == list(rows[0])
    for r in parsed:
        assert not any(v.startswith(("=", "+", "-", "@")) for v in r.values() if v), r
    doc = json.loads(dashboards.as_json(rows))
    assert len(doc) == 12 and all(isinstance(v, (str, int, float, type(None))) for r in doc for v in r.values())
    text = dashboards.as_text(dashboards.REPORTS[name], rows).splitlines()
    assert text[0] == dashboards.REPORTS[name].title and len(text) == 14
    assert len({len(line) for line in text[1:]}) == 1          # aligned columns


def test_an_empty_report_says_so():
    assert "no rows yet" in dashboards.as_text(dashboards.REPORTS["errors"], [])
    assert dashboards.as_csv([]) == ""
