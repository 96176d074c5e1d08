"""Normalisation: USPS variants key alike, near-misses stay apart, fast paths agree with the libraries."""

import pandas as pd
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from orchestration.identity import normalize as n


def key(address, unit=None, city="Springfield", state="IL", zip_="62704"):
    a = pd.Series([address], dtype="string")
    u = pd.Series([unit], dtype="string") if unit is not None else None
    street, un = n.street_and_unit(a, u)
    c, s, z = n.city(pd.Series([city], dtype="string")), n.state(pd.Series([state], dtype="string")), \
        n.zip5(pd.Series([zip_], dtype="string"))
    return n.addr_hash(n.full_address(street, un), c, s, z)[0]


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


def test_apn_is_stripped_of_punctuation_case_and_leading_zeros():
    assert n.apn(pd.Series(["12-345-67 a", "  ", "000"])).tolist()[0] == "1234567A"
    assert n.apn(pd.Series(["06-41-123", "6-41-123", "0641123", "6 41 123"])).nunique() == 1
    assert n.apn(pd.Series(["06-41-123", "60-41-123", "6-41-1230"])).nunique() == 3
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


# Publication 28 forms that must key alike: each group is one address written as vendors write it.
PUB28_SAME = {
    "word ordinal": ["123 Fourth St", "123 4th Street", "123 4 St", "123 FOURTH STREET"],
    "compound ordinal": ["9 Twenty-First Ave", "9 Twenty First Avenue", "9 21st Ave", "9 21 Ave"],
    "bare ordinal": ["77 W 18 St", "77 West 18th Street", "77 W Eighteenth St"],
    "ordinal teens": ["5 11 St", "5 11th St", "5 Eleventh Street"],
    "ordinal 2nd/3rd": ["8 2 Ave", "8 Second Ave", "8 2nd Avenue"],
    "county road": ["14 CR 12", "14 Co Rd 12", "14 County Rd 12", "14 County Road 12", "14 Cnty Rd 12"],
    "highway": ["3 SH 5", "3 State Hwy 5", "3 Hwy 5", "3 Highway 5", "3 State Highway 5"],
    "state route": ["3 SR 9", "3 State Route 9", "3 St Rte 9", "3 State Rt 9"],
    "us highway": ["3 US Hwy 1", "3 U.S. Highway 1", "3 US Highway 1"],
    "county road letter": ["40 County Road J", "40 CR J", "40 Co Rd J"],
    "dotted directional": ["55 S.W. Oak Ave", "55 SW Oak Ave", "55 S W Oak Ave", "55 Southwest Oak Avenue",
                           "55 S. W. Oak Ave"],
    "saint": ["2 St Johns Rd", "2 Saint Johns Road", "2 St. Johns Rd"],
    "mount": ["6 Mt Vernon Ave", "6 Mount Vernon Avenue", "6 Mt. Vernon Ave"],
    "fort": ["6 Ft Myers Rd", "6 Fort Myers Road"],
    "mlk": ["1 MLK Jr Blvd", "1 Martin Luther King Jr Blvd", "1 M L King Jr Blvd", "1 Martin L King Jr Blvd"],
    "bare trailing unit": ["7 Oak Dr, C", "7 Oak Dr Apt C", "7 Oak Dr #C", "7 Oak Drive Unit C"],
    "bare trailing number unit": ["7 Main St 4", "7 Main St #4", "7 Main Street Apt 4"],
    "bare unit after a post-directional": ["4533 1st Ave Southwest, 7", "4533 1ST AVE SW UNIT 7", "4533 1st Ave SW #7",
                                           "4533 First Avenue S.W. Apt 7"],
}


@pytest.mark.parametrize("family", sorted(PUB28_SAME))
def test_publication_28_forms_key_alike(family):
    keys = {key(a) for a in PUB28_SAME[family]}
    assert len(keys) == 1 and None not in keys, family


PUB28_APART = [
    ("123 4th St", "123 14th St"), ("123 4th St", "123 4th Ave"), ("14 CR 12", "14 CR 21"),
    ("3 Hwy 5", "3 US Hwy 5"), ("3 Hwy 5", "3 County Rd 5"), ("55 SW Oak Ave", "55 SE Oak Ave"),
    ("55 SW Oak Ave", "55 Oak Ave"), ("2 St Johns Rd", "2 Johns Rd"), ("7 Oak Dr C", "7 Oak Dr D"),
    ("7 Oak Dr C", "7 Oak Dr"), ("7 Main St 4", "7 Main St 5"), ("9 N Avenue B", "9 N Avenue C"),
    ("1 MLK Jr Blvd", "1 King Jr Blvd"), ("77 W 18 St", "77 E 18 St"), ("5 First St", "5 Fifth St"),
]


@pytest.mark.parametrize("one, other", PUB28_APART)
def test_publication_28_near_misses_stay_apart(one, other):
    assert key(one) != key(other)


@pytest.mark.parametrize("line, street, unit", [
    ("9 N Avenue B", "9 N AVENUE B", ""),                  # a lettered avenue is a name, not a unit
    ("9 Avenue B", "9 AVENUE B", ""),
    ("8 Oak Dr N", "8 OAK DR N", ""),                      # a post-directional, not a unit
    ("3 Hwy 1 N", "3 HIGHWAY 1 N", ""),
    ("3 Highway Dr", "3 HIGHWAY DR", ""),                  # HIGHWAY as a name keeps its words
    ("12 Pacific Coast Hwy", "12 PACIFIC COAST HWY", ""),  # ... and HWY as a suffix its abbreviation
    ("10 County Road 12 Lot 5", "10 COUNTY ROAD 12", "LOT 5"),
    ("4 Main St", "4 MAIN ST", ""), ("12 St", "12 ST", ""),
])
def test_street_line_forms(line, street, unit):
    s, u = n.street_and_unit(pd.Series([line], dtype="string"))
    assert (s[0], u[0]) == (street, unit)


@pytest.mark.parametrize("number, text", [(1, "1ST"), (2, "2ND"), (3, "3RD"), (4, "4TH"), (11, "11TH"),
                                          (12, "12TH"), (13, "13TH"), (21, "21ST"), (22, "22ND"),
                                          (101, "101ST"), (111, "111TH"), (112, "112TH"), (123, "123RD")])
def test_ordinal(number, text):
    assert n.ordinal(number) == text


@pytest.mark.parametrize("word, code", [("Robert", "R163"), ("Rupert", "R163"), ("Ashcraft", "A261"),
                                        ("Tymczak", "T522"), ("Pfister", "P236"), ("Honeyman", "H555"),
                                        ("Smith", "S530"), ("Smyth", "S530"), ("Lee", "L000"), ("O'Brien", "O165")])
def test_soundex_matches_the_published_examples(word, code):
    assert n.soundex(word) == code


SAME_OWNER = [  # (first, last) pairs that name one owner or household
    (("John", "Smith"), ("Mary", "Smith")), (("John", "Smith"), ("", "Smith Family Trust")),
    (("John", "Smith"), ("", "Estate of John Smith")), (("John", "Smith"), ("John", "Smyth")),
    (("John", "Smith"), ("John & Mary", "Smith-Jones")), (("", "SMITH JOHN TR"), ("John", "Smith")),
    (("JOHN SMITH", ""), ("Jane", "Smith")),
]
OTHER_OWNER = [
    (("John", "Smith"), ("Bob", "Jones")), (("Ann", "Lee"), ("Ann", "Garcia")),
    (("", "Smith Family Trust"), ("", "Nguyen Living Trust")),
]


def _overlap(a, b):
    ka = n.owner_key(pd.Series([a[0]]), pd.Series([a[1]]))[0]
    kb = n.owner_key(pd.Series([b[0]]), pd.Series([b[1]]))[0]
    return bool(set(ka.split()) & set(kb.split()))


@pytest.mark.parametrize("a, b", SAME_OWNER)
def test_owner_keys_of_one_household_share_a_code(a, b):
    assert _overlap(a, b)


@pytest.mark.parametrize("a, b", OTHER_OWNER)
def test_owner_keys_of_different_owners_share_none(a, b):
    assert not _overlap(a, b)


def test_a_record_naming_nobody_or_a_first_name_alone_has_no_owner_key():
    assert n.owner_key(pd.Series(["", "Ann", None]), pd.Series(["", "", None])).isna().all()


def test_the_one_line_key_is_the_vectorised_key():
    lines = ["123 N MAIN ST APT 4 B", "12 MAIN ST # 4B", "9 COUNTY ROAD 12 REAR", "7 OAK DR", "1 MAIN",
             "77 LOT LN LOT 7", "5 PIER AVE PH 2", "PO BOX 12 APT 3", ""]
    assert [n.addr_key_line_one(x) for x in lines] == n.addr_key_line(pd.Series(lines, dtype="string")).tolist()
