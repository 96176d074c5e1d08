"""Normalisation: USPS variants key alike, near-misses stay apart, fast paths agree with the libraries."""

import pandas as pd
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from orchestration.ingest import normalize as n


def key(address, unit=None, city="Springfield", state="IL", zip_="62704"):
    a = pd.Series([address], dtype="string")
    u = pd.Series([unit], dtype="string") if unit is not None else None
    street, un = n.street_and_unit(a, u)
    c, s, z = n.city(pd.Series([city], dtype="string")), n.state(pd.Series([state], dtype="string")), \
        n.zip5(pd.Series([zip_], dtype="string"))
    return n.addr_hash(street, un, c, s, z)[0]


VARIANTS = [
    ("123 North Main Street", None, "Springfield", "IL", "62704"),
    ("123 N MAIN ST", None, "SPRINGFIELD", "il", "62704-1234"),
    ("123 n. main st.", None, "springfield", "Illinois", "627041234"),
    ("123 North Main St", None, " Springfield ", "IL", "62704"),
]


def test_formatting_variants_share_one_key():
    keys = {key(*v) for v in VARIANTS}
    assert len(keys) == 1 and None not in keys


@pytest.mark.parametrize("unit_form", [("123 N Main St Apartment 4B", None), ("123 N Main St Apt 4B", None),
                                       ("123 N Main St #4B", None), ("123 N Main St", "4B"),
                                       ("123 N Main St", "Apt 4b"), ("123 N Main St Unit 4B", None)])
def test_unit_variants_share_one_key(unit_form):
    assert key(*unit_form) == key("123 North Main Street Apartment 4B")


def test_near_misses_stay_apart():
    base = key("123 N Main St Apt 4B")
    assert key("125 N Main St Apt 4B") != base          # other house number
    assert key("123 N Main St Apt 5") != base           # other unit, same building
    assert key("123 N Main St") != base                 # the building without the unit
    assert key("123 S Main St Apt 4B") != base          # other directional
    assert key("123 N Main St Apt 4B", zip_="62705") != base


STREET_LINES = [
    ("123 North Main Street Apt 4", ""), ("PO Box 12", "4B"), ("P.O. Box 9", "Apt 3"), ("Post Office Box 3", ""),
    ("POB 12 Main", ""), ("1 Main", "#5"), ("Main", "Unit 2"), ("", ""), (None, None), ("12 N", ""),
    ("12 N St", ""), ("12 North Street", ""), ("A12 Main St #4", ""), ("123-45 Park Ave Unit 3B", ""),
    ("1/2 Oak Rd", ""), ("100 W Sunset Blvd Ste 200", ""), ("  9  Elm   Street   Apartment  7 ", ""),
    ("10 Elm St Apt # 4", ""), ("Peñasco 1", ""), ("P 12 Main St", ""), ("12 Main St North", ""),
    ("12 Rd", ""), ("7 N N St", ""), ("18 Oak Street", ""), ("20 Oak Street", "Apt 2"),
]


def test_street_rule_applied_per_distinct_rest_equals_the_one_line_rule():
    """street_and_unit runs _street once per distinct rest-of-line; every line must come out as
    _street gives it whole — on a non-zero-based index (validation slices of a larger frame)."""
    index = pd.RangeIndex(500, 500 + len(STREET_LINES))
    address = pd.Series([a for a, _ in STREET_LINES], index=index, dtype="string")
    unit = pd.Series([u for _, u in STREET_LINES], index=index, dtype="string")
    street, line_unit = n.street_and_unit(address, unit)
    for i, (raw, extra) in zip(index, STREET_LINES):
        whole_street, whole_unit = n._street(n._clean(pd.Series([raw], dtype="string")).iloc[0])
        if not whole_unit and extra:
            cleaned = n._clean(pd.Series([extra], dtype="string")).iloc[0]
            if cleaned.split(" ")[0] not in n._UNIT_WORDS:
                cleaned = "# " + cleaned
            whole_unit = n._street("0 X " + cleaned)[1]
        assert (street[i], line_unit[i]) == (whole_street, whole_unit), raw


def test_zip_and_state():
    assert n.zip5(pd.Series(["2134", "02134-0001", "abc", "1"])).tolist()[:2] == ["02134", "02134"]
    assert n.zip5(pd.Series(["abc", "1"])).isna().all()
    assert n.state(pd.Series(["california", "Tx", "ZZ"])).tolist() == ["CA", "TX", "ZZ"]


def test_apn_is_stripped_of_punctuation_and_case():
    assert n.apn(pd.Series(["12-345-67 a", "  ", "000"])).tolist()[0] == "1234567A"
    assert n.apn(pd.Series(["  ", "000"])).isna().all()


def test_money_and_flags():
    assert n.money(pd.Series(["$123,456", "45.5", "n/a"])).tolist()[:2] == [123456.0, 45.5]
    # beyond numeric(14, 2): a broken cell, dropped (and counted) rather than failing the whole load
    assert n.money(pd.Series(["$99,999,999,999,999", "1e13"])).isna().all()
    assert n.integer(pd.Series(["72", "1e30", "71.6"])).tolist() == [72, pd.NA, 72]
    assert n.yes_no(pd.Series(["Yes", "no", "Y", "?"])).tolist()[:3] == [True, False, True]


PHONES = ["(415) 555-0100", "1-212-555-0199", "+1 312 555 0123", "123-456-7890", "911-555-0100",
          "(999) 555-0100", "555-0100", "415.555.0100", "800-555-0100", "2025550173", "12025550173",
          "(415) 155-0100", "", "not a phone", "+44 20 7946 0958"]


@pytest.mark.parametrize("raw", PHONES)
def test_phone_fast_path_agrees_with_phonenumbers(raw):
    fast = n.phone_e164(pd.Series([raw]))[0]
    try:
        parsed = phonenumbers.parse(raw, "US")
        lib = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
               if phonenumbers.is_valid_number(parsed) and parsed.country_code == 1 else None)
    except phonenumbers.NumberParseException:
        lib = None
    assert (None if pd.isna(fast) else fast) == lib


EMAILS = ["Jane.Doe@Example.com", "jane+tag@example.co.uk", "a..b@example.com", ".a@example.com",
          "a@example", "a@-example.com", "user@sub.example.org", "no-at-sign", "x@y.z", "ü@exämple.de",
          "quoted\"@example.com", "a@b.c.d.example.museum"]


@pytest.mark.parametrize("raw", EMAILS)
def test_email_agrees_with_email_validator(raw):
    ours = n.email(pd.Series([raw]))[0]
    try:
        lib = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        lib = None
    assert (None if pd.isna(ours) else ours) == (lib.lower() if lib else None)
