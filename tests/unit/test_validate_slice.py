"""One slice of staged rows through normalisation, channel choice and pandera — no database."""

import json
from collections import Counter

import pandas as pd
import pytest

from orchestration.ingest.validate import WORK_COLUMNS, validate_slice
from tests.support.slices import CODES, staged

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
    ("no street address", {**ADDR, "property_address": None}, "street address is missing"),
    ("no city and no ZIP", {**ADDR, "property_city": None, "property_zip": None}, "street needs its ZIP"),
    ("no ZIP, city not in the state", {**ADDR, "property_zip": None, "property_city": None,
                                       "property_state": None}, "street needs its ZIP"),
    ("not a US state", {**ADDR, "property_state": "Narnia"}, "state"),
    ("a ZIP cell that is no ZIP", {**ADDR, "property_zip": "ABCDE"}, "ZIP is not 5 digits"),
    ("an APN without its state or ZIP", {**ADDR, "property_address": None, "property_state": None,
                                          "property_zip": None, "apn": "123-45"}, "APN with its state"),
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
    assert unknown == Counter({"phone:aaaaaa": 1}) and counts["unparsed_money"] == 1
    assert pd.isna(row["property_value"]) and float(row["estimated_equity"]) == 250000


def test_formatting_variants_of_one_address_share_a_key():
    result, _, _ = run(ADDR, {"property_address": "123 N MAIN ST", "property_city": "SPRINGFIELD",
                              "property_state": "il", "property_zip": "62704-1234", "row_number": 2})
    assert result.valid["addr_hash"].nunique() == 1
    assert set(result.valid["property_address"]) == {"123 N MAIN ST"}


KEPT_CASES = [
    # name, row, expected (address, city, state, zip) of the kept row
    ("a single line in the street column", {"property_address": "14336 silva st, royalton, mn 56373"},
     ("14336 SILVA ST", "ROYALTON", "MN", "56373")),
    ("a single line with its unit", {"property_address": "14336 Silva St Apt 4, Royalton, MN 56373-1234"},
     ("14336 SILVA ST APT 4", "ROYALTON", "MN", "56373")),
    ("a single line without a ZIP", {"property_address": "9 Elm Street, Royalton, MN"},
     ("9 ELM ST", "ROYALTON", "MN", "56373")),                # the town's only ZIP
    ("no city: the ZIP's city", {**ADDR, "property_city": None}, ("123 N MAIN ST", "SPRINGFIELD", "IL", "62704")),
    ("no state: the ZIP's state", {**ADDR, "property_state": None}, ("123 N MAIN ST", "SPRINGFIELD", "IL", "62704")),
    ("no ZIP, a city of many ZIPs", {**ADDR, "property_zip": None}, ("123 N MAIN ST", "SPRINGFIELD", "IL", None)),
    ("no ZIP, a city of one ZIP", {"property_address": "1 Oak St", "property_city": "Royalton",
                                   "property_state": "MN"}, ("1 OAK ST", "ROYALTON", "MN", "56373")),
    ("a MAK alone", {"mak": "M-77"}, (None, None, None, None)),
    ("an APN with its state", {"apn": "06-41-123", "property_state": "CA"}, (None, None, "CA", None)),
    ("an APN with a ZIP", {"apn": "06-41-123", "property_zip": "90210"}, (None, "BEVERLY HILLS", "CA", "90210")),
]


@pytest.mark.parametrize("row, expected", [c[1:] for c in KEPT_CASES], ids=[c[0] for c in KEPT_CASES])
def test_rows_that_identify_their_property_are_kept(row, expected):
    result, _, counts = run(row)
    assert counts["rejected"] == 0, result.rejects
    kept = result.valid.iloc[0]
    got = tuple(_value(kept[c]) for c in ("property_address", "property_city", "property_state", "property_zip"))
    assert got == expected
    assert pd.isna(kept["addr_hash"]) == (expected[0] is None or (expected[3] is None and expected[1] is None))


def test_alternate_city_names_and_city_typos_share_the_zip_anchored_key():
    result, _, _ = run({**ADDR, "property_city": "Springfield"}, {**ADDR, "property_city": "Sprngfield", "row_number": 2},
                       {**ADDR, "property_city": None, "row_number": 3})
    assert result.valid["addr_hash"].nunique() == 1
    without_zip, _, _ = run({**ADDR, "property_zip": None}, {**ADDR, "property_zip": None, "property_city": "Decatur",
                                                             "row_number": 2})
    assert without_zip.valid["addr_hash"].nunique() == 2      # no ZIP: the city tells them apart


def test_unknown_codes_are_shown_by_shape_never_by_text():
    """Whatever a code column holds (a phone, an e-mail, a name, an address, any script), its label
    keeps no letter or digit of it; the same shape counts once."""
    import random

    from orchestration.ingest.validate import _code_label

    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .-@()+#/_éßЖ中,'\"\t"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
        label = _code_label(text)
        assert not any(c.isalnum() and c not in "a9" for c in label.split("... (")[0]), (text, label)
    assert _code_label("(208) 555-0100 jane doe") == "(999)_999-9999_aaaa_aaa"
    assert _code_label("jane.doe@example.com") == "aaaa.aaa@aaaaaaa.aaa"
    result, unknown, _ = run({**ADDR, "email": "ann@example.com", "email_code": "Bob Smith",
                              "phone": "415 555 0100", "phone_code": "415-555-0199"})
    assert unknown == Counter({"email:aaa_aaaaa": 1, "phone:999-999-9999": 1})
