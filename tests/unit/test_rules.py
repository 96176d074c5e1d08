"""Feeder rules, column profiles and shared constants, table-driven — no database."""

from datetime import date

import pytest
import yaml

from orchestration import constants
from orchestration.campaign import feeder
from orchestration.ingest import profiles
from orchestration.settings import DBT_PROJECT_DIR

FEED_DAYS = [
    (date(2026, 11, 27), (), True),                 # Friday
    (date(2026, 11, 28), (), False),                # Saturday
    (date(2026, 11, 29), (), False),                # Sunday
    (date(2026, 11, 30), (), True),                 # Monday
    (date(2026, 11, 26), ("2026-11-26",), False),   # Thanksgiving, configured as a holiday
    (date(2026, 11, 25), ("2026-11-26",), True),
]


@pytest.mark.parametrize("day, holidays, feeds", FEED_DAYS, ids=[f"{d[0]}" for d in FEED_DAYS])
def test_feed_days(day, holidays, feeds):
    ok, why = feeder.is_feed_day(day, holidays)
    assert ok is feeds and (bool(why) is not feeds)


@pytest.mark.parametrize("cell", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_export_cells_never_start_a_formula(cell):
    assert feeder.inert(cell).startswith("'")


def test_export_has_the_campaign_columns_and_a_consent_url():
    data = feeder.export_csv([{"email": "=evil()", "first_name": "Ann", "estimated_equity": 123456.7,
                               "broker_name": "B", "lead_score": 90}]).decode().splitlines()
    assert data[0].split(",") == feeder.EXPORT_COLUMNS
    assert data[1].startswith("'=evil()") and ",123457," in data[1]


HEADERS = [
    ("propstream", ["Address", "Unit #", "City", "State", "Zip", "Owner 1 First Name", "Phone 1", "Phone 1 DNC",
                    "Email 1", "Litigator", "Est. Equity"],
     {"property_address": "Address", "property_unit": "Unit #", "first_name": "Owner 1 First Name",
      "phone": "Phone 1", "phone_dnc": "Phone 1 DNC", "email": "Email 1", "litigator": "Litigator"}),
    ("batchdata", ["\ufeffmak", "property_address", "property_city", "property_state", "property_zip",
                   "owner_age"],
     {"mak": "\ufeffmak", "property_address": "property_address", "age": "owner_age"}),
    ("generic", ["street", "city", "state", "zip code"], {"property_address": "street", "property_zip": "zip code"}),
]


@pytest.mark.parametrize("profile, headers, expected", HEADERS, ids=[h[0] for h in HEADERS])
def test_profiles_map_vendor_headers(profile, headers, expected):
    mapping, _extra = profiles.map_headers(profile, headers)
    assert {k: mapping.get(k) for k in expected} == expected


def test_a_missing_required_column_is_named_and_a_semicolon_file_explained():
    with pytest.raises(profiles.MissingColumns, match="property_address .* or mak .* or apn"):
        profiles.map_headers("generic", ["city", "state", "zip", "first name"])
    assert profiles.map_headers("generic", ["street", "city", "state"])[0]["property_address"] == "street"
    assert profiles.map_headers("batchdata", ["mak", "owner first name"])[0]["mak"] == "mak"
    with pytest.raises(profiles.MissingColumns, match="comma-separated"):
        profiles.map_headers("generic", ["street;city;state;zip"])


def test_dbt_runs_in_the_same_time_zone_as_the_schedules():
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["timezone"] == constants.TIMEZONE


def test_every_upload_source_has_a_profile():
    assert set(constants.SOURCES) == set(profiles.PROFILES)


def test_holiday_setting_names_dates_and_calendars():
    days = feeder.holidays_of("US, 2026-12-24", 2026)
    assert days["2026-11-26"] == "Thanksgiving Day" and days["2026-12-24"] == "configured holiday"
    assert "2026-12-24" not in feeder.holidays_of("US", 2026)
    assert feeder.is_feed_day(date(2026, 11, 26), "US")[0] is False
    assert feeder.is_feed_day(date(2026, 11, 26), "")[0] is True
    with pytest.raises(ValueError, match="neither YYYY-MM-DD nor a calendar"):
        feeder.holidays_of("Thanksgiving", 2026)


def test_contactable_freshness_rules():
    from datetime import UTC, datetime

    from orchestration.campaign import contactable

    # 2026-03-10 14:00Z is 07:00 in Los Angeles (PDT): today's 05:30 has passed.
    now = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    assert contactable.freshness(("view_refreshed", datetime(2026, 3, 10, 12, 31, tzinfo=UTC)), now)[0] is True
    stale, why = contactable.freshness(("view_refreshed", datetime(2026, 3, 10, 12, 29, tzinfo=UTC)), now)
    assert not stale and "not refreshed since 2026-03-10 05:30 PDT" in why
    skipped, why = contactable.freshness(("refresh_skipped", datetime(2026, 3, 10, 12, 31, tzinfo=UTC)), now)
    assert not skipped and "skipped" in why
    assert contactable.freshness(None, now)[0] is False
    # Before 05:30 the previous day's refresh is the one due.
    early = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)           # 04:00 PDT
    assert contactable.freshness(("view_refreshed", datetime(2026, 3, 9, 12, 31, tzinfo=UTC)), early)[0] is True


def test_contactable_on_time_judges_the_0530_refresh_from_0555():
    from datetime import UTC, datetime, timedelta

    from orchestration.campaign import contactable

    yesterday = ("view_refreshed", datetime(2026, 3, 9, 12, 31, tzinfo=UTC))     # 05:31 PDT the day before
    # 2026-03-10 in Los Angeles is PDT (UTC-7): 05:30 = 12:30Z, the deadline 05:55 = 12:55Z.
    for minute in range(0, 60, 5):
        now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC) + timedelta(minutes=minute)
        passed, is_error, why = contactable.on_time(yesterday, now)
        late = now >= datetime(2026, 3, 10, 12, 55, tzinfo=UTC)
        assert passed is not late, (now, why)
        assert is_error is late
        if late:
            assert "deadline 05:55 PDT" in why
    today = ("view_refreshed", datetime(2026, 3, 10, 12, 34, tzinfo=UTC))
    assert contactable.on_time(today, datetime(2026, 3, 10, 23, 0, tzinfo=UTC))[0] is True
    skipped = ("refresh_skipped", datetime(2026, 3, 10, 12, 31, tzinfo=UTC))
    passed, is_error, why = contactable.on_time(skipped, datetime(2026, 3, 10, 14, 0, tzinfo=UTC))
    assert not passed and not is_error and "skipped" in why                     # a warning, not an error
    passed, is_error, _ = contactable.on_time(None, datetime(2026, 3, 10, 14, 0, tzinfo=UTC))
    assert not passed and is_error
    # In winter (PST, UTC-8) the deadline moves with the clock: 05:55 PST = 13:55Z.
    january = ("view_refreshed", datetime(2026, 1, 13, 13, 31, tzinfo=UTC))
    assert contactable.on_time(january, datetime(2026, 1, 14, 13, 50, tzinfo=UTC))[0] is True
    assert contactable.on_time(january, datetime(2026, 1, 14, 13, 56, tzinfo=UTC))[:2] == (False, True)


def test_fed_today_is_holiday_aware_and_judged_from_0630():
    from datetime import UTC, datetime, timedelta

    from orchestration.campaign import feeder

    ran = (datetime(2026, 12, 3, 14, 2, tzinfo=UTC), 250)
    thursday_0629 = datetime(2026, 12, 3, 14, 29, tzinfo=UTC)             # PST: 06:29
    assert feeder.fed_today(thursday_0629, "US", None)[0] is True          # not judged yet
    late, why = feeder.fed_today(thursday_0629 + timedelta(minutes=1), "US", None)
    assert late is False and "no feed has run for 2026-12-03" in why and "backfill" in why
    ok, why = feeder.fed_today(thursday_0629 + timedelta(hours=3), "US", ran)
    assert ok and "250 fed" in why and "06:02 PST" in why
    ok, why = feeder.fed_today(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), "US", (ran[0], 0))
    assert ok                                                               # a feed that fed none still ran
    assert feeder.fed_today(datetime(2026, 12, 5, 20, 0, tzinfo=UTC), "US", None) == (
        True, "Saturday 2026-12-05 is a weekend day: no feed")
    ok, why = feeder.fed_today(datetime(2026, 11, 26, 20, 0, tzinfo=UTC), "US", None)    # Thanksgiving
    assert ok and "holiday" in why
    ok, _ = feeder.fed_today(datetime(2026, 11, 26, 20, 0, tzinfo=UTC), "", None)     # no calendar: a feed day
    assert not ok
    ok, _ = feeder.fed_today(datetime(2026, 12, 4, 20, 0, tzinfo=UTC), "2026-12-04", None)   # a configured date
    assert ok
    # Late in the evening in Los Angeles is already tomorrow in UTC: the day is the operators'.
    evening = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)                      # Thu 23:00 PST
    assert feeder.fed_today(evening, "US", None)[1].startswith("no feed has run for 2026-12-03")
