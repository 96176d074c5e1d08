"""One slice of staged rows through normalisation, channel choice and pandera — no database."""

import json
from collections import Counter

import pandas as pd
import pytest

from orchestration.ingest.validate import WORK_COLUMNS, validate_slice
from tests.unit.conftest import CODES, staged

ADDR = {"property_address": "123 North Main Street", "property_city": "Springfield",
        "property_state": "IL", "property_zip": "62704"}


def run(*rows):
    unknown, counts = Counter(), Counter()
    result = validate_slice(staged(*rows), CODES, unknown, counts)
    return result, unknown, counts


CHANNEL_CASES = [
    # name, row fields, expected (phone, phone_verified, email, email_verified)
    ("first verified phone wins over an earlier unverified one",
     {"phone": "(415) 555-0100", "phone_code": "disconnected", "phone_2": "415-555-0111", "phone_2_code": "connected"},
     ("+14155550111", True, None, False)),
    ("no verified phone: the first valid one, unverified",
     {"phone": "415 555 0100", "phone_code": "unknown-code", "phone_2": "415 555 0111"},
     ("+14155550100", False, None, False)),
    ("a DNC number is never the lead's phone",
     {"phone": "415 555 0100", "phone_code": "connected", "phone_dnc": "Yes", "phone_2": "415 555 0111"},
     ("+14155550111", False, None, False)),
    ("Litigator = Yes: no phone at all",
     {"phone": "415 555 0100", "phone_code": "connected", "litigator": "Yes"}, (None, False, None, False)),
    ("an invalid phone is dropped, the lead kept",
     {"phone": "123-555-0100", "email": "Ann@Example.com", "email_code": "valid"},
     (None, False, "ann@example.com", True)),
    ("first verified e-mail wins",
     {"email": "a@example.com", "email_code": "invalid", "email_2": "b@example.com", "email_2_code": "valid"},
     (None, False, "b@example.com", True)),
    ("an invalid e-mail is dropped", {"email": "not-an-email"}, (None, False, None, False)),
]


@pytest.mark.parametrize("fields, expected", [c[1:] for c in CHANNEL_CASES], ids=[c[0] for c in CHANNEL_CASES])
def test_channel_choice(fields, expected):
    result, _, _ = run({**ADDR, **fields})
    row = result.valid.iloc[0]
    got = (_value(row["phone"]), bool(row["phone_verified"]), _value(row["email"]), bool(row["email_verified"]))
    assert got == expected


def _value(cell):
    return None if pd.isna(cell) else cell


def test_every_channel_is_kept_in_the_payload():
    result, _, _ = run({**ADDR, "phone": "415 555 0100", "phone_code": "disconnected", "phone_type": "Mobile",
                        "phone_2": "415 555 0111", "phone_2_code": "connected", "email": "a@example.com"})
    payload = json.loads(result.valid.iloc[0]["melissa_payload"])
    assert [p["number"] for p in payload["phones"]] == ["+14155550100", "+14155550111"]
    assert payload["phones"][0]["type"] == "Mobile" and payload["emails"][0]["address"] == "a@example.com"


REJECT_CASES = [
    ("no street address", {**ADDR, "property_address": None}, "street address"),
    ("no city", {**ADDR, "property_city": None}, "city"),
    ("not a US state", {**ADDR, "property_state": "Narnia"}, "state"),
    ("no ZIP", {**ADDR, "property_zip": "ABCDE"}, "ZIP"),
]


@pytest.mark.parametrize("row, word", [c[1:] for c in REJECT_CASES], ids=[c[0] for c in REJECT_CASES])
def test_rows_without_a_keyable_address_are_rejected_with_a_reason(row, word):
    result, _, counts = run(row, {**ADDR, "property_address": "9 Elm St", "row_number": 2})
    assert counts["rejected"] == 1 and counts["valid"] == 1
    reject = result.rejects[0]
    assert reject["row_number"] == 1 and any(word.lower() in r.lower() for r in reject["reasons"])
    assert list(result.valid.columns) == WORK_COLUMNS and list(result.valid["row_number"]) == [2]


def test_unknown_codes_are_counted_and_unparseable_money_becomes_null():
    result, unknown, counts = run({**ADDR, "phone": "415 555 0100", "phone_code": "Zapped",
                                   "property_value": "$1,2x3", "estimated_equity": "$250,000"})
    row = result.valid.iloc[0]
    assert unknown == Counter({"phone:zapped": 1}) and counts["unparsed_money"] == 1
    assert pd.isna(row["property_value"]) and float(row["estimated_equity"]) == 250000


def test_formatting_variants_of_one_address_share_a_key():
    result, _, _ = run(ADDR, {"property_address": "123 N MAIN ST", "property_city": "SPRINGFIELD",
                              "property_state": "il", "property_zip": "62704-1234", "row_number": 2})
    assert result.valid["addr_hash"].nunique() == 1
    assert set(result.valid["property_address"]) == {"123 N MAIN ST"}
