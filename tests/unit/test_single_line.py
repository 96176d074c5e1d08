"""Single-line addresses (places.split_line): every shape vendors, web forms and CRMs write — with
and without commas, multi-word cities, states written out, ZIP+4, a unit after the suffix — read
against the USPS ZIP table; a line no reading places is refused with its own reason."""

import random
from collections import Counter

import pandas as pd
import pytest

from orchestration.identity import normalize as norm
from orchestration.identity import places

QUOTED = [
    # line, (street as the normaliser stores it, city, state, ZIP5)
    ("14846 park road ridgeland wi 54763", ("14846 PARK RD", "RIDGELAND", "WI", "54763")),
    ("186 w hickory dr florham park nj", ("186 W HICKORY DR", "FLORHAM PARK", "NJ", None)),
    ("6610 marshall drive 6c fortson ga 31808", ("6610 MARSHALL DR # 6C", "FORTSON", "GA", "31808")),
    ("90 Mckinney Ave Apartment 5 Saucier MS 39574", ("90 MCKINNEY AVE APT 5", "SAUCIER", "MS", "39574")),
    ("87 Indian Hills Circle Pe Ell WA 98572", ("87 INDIAN HILLS CIR", "PE ELL", "WA", "98572")),
    ("5023 Wilnut Ave Unit F Alcova WY 82620-7482", ("5023 WILNUT AVE UNIT F", "ALCOVA", "WY", "82620")),
    ("6052 west saunders road, gillette, wyoming 82718", ("6052 W SAUNDERS RD", "GILLETTE", "WY", "82718")),
    ("28775 Lawson Ave., #7c, Lumberton, MS 39455", ("28775 LAWSON AVE # 7C", "LUMBERTON", "MS", "39455")),
    ("14336 silva st, royalton, mn 56373", ("14336 SILVA ST", "ROYALTON", "MN", "56373")),
    ("26231 Columbia Lane, 1 London Tx", ("26231 COLUMBIA LN # 1", "LONDON", "TX", None)),
    ("1 Oak St Charleston West Virginia", ("1 OAK ST", "CHARLESTON", "WV", None)),
    ("12 Main St St Louis MO 63101", ("12 MAIN ST", "ST LOUIS", "MO", "63101")),
    ("400 Elm St, Gilette, WY 82718", ("400 ELM ST", "GILETTE", "WY", "82718")),   # misspelt city, marked by commas
]


def stored(parts):
    """A split line as validation stores it: street and unit normalised, city cleaned, ZIP5."""
    street, city, state, zip_ = parts
    s, u = norm.street_and_unit(pd.Series([street], dtype="string"))
    zip5 = norm.zip5(pd.Series([zip_], dtype="string"))[0]
    return (norm.full_address(s, u)[0], norm.city(pd.Series([city], dtype="string"))[0], state,
            None if zip5 is pd.NA or zip5 != zip5 else zip5)


@pytest.mark.parametrize("line, expected", QUOTED, ids=[q[0] for q in QUOTED])
def test_quoted_lines_are_read(line, expected):
    parts = places.split_line(line)
    assert parts is not None
    assert stored(parts) == expected


@pytest.mark.parametrize("line", ["123 Main St", "12 Main St Nowhere ZZ", "12 Oak Dr Zzyzxville FL 33999",
                                  "Main Street Springfield", "5 Elm St Notacity IL"])
def test_lines_no_reading_places_are_not_guessed(line):
    assert places.split_line(line) is None


def test_a_whole_line_no_reading_places_is_flagged_and_a_plain_street_is_not():
    street = pd.Series(["12 Oak Dr Zzyzxville FL 33999", "123 Main St", "7 Elm St Springfield Il 62704"],
                       dtype="string")
    blank = pd.Series([None] * 3, dtype="string")
    out_street, city, state, zip_, n, unplaced = places.split_single_lines(street, blank, blank, blank)
    assert n == 1 and list(unplaced) == [True, False, False]
    assert (city[2], state[2], zip_[2]) == ("Springfield", "IL", "62704")


def _zip_sample(rng: random.Random, n: int) -> list[dict]:
    import zipcodes

    standard = [z for z in zipcodes.list_all() if z["zip_code_type"] == "STANDARD" and z["state"] not in
                ("PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP", "FM", "MH", "PW")]
    multi = [z for z in standard if " " in z["city"]]
    return rng.sample(multi, n // 2) + rng.sample(standard, n - n // 2)


def _state_name(code: str) -> str:
    from scourgify import address_constants as usps

    return max((k for k, v in usps.STATE_ABBREVIATIONS.items() if v == code), key=len)


NAMES = ["OAK", "MAPLE", "PARK", "LAKE", "HILL", "WASHINGTON", "HIGHLAND", "SUNSET", "RIVER", "CHURCH"]
SUFFIXES = [("STREET", "ST"), ("AVENUE", "AVE"), ("ROAD", "RD"), ("DRIVE", "DR"), ("LANE", "LN"), ("COURT", "CT")]


def test_generated_lines_of_every_shape_are_read_right():
    """Seeded variants of each class: commas or none, the city multi-word or not, the state as
    code or name, ZIP / ZIP+4 / none, a unit (designated, bare after the suffix) or none, any case."""
    rng = random.Random(20261204)
    wrong: Counter = Counter()
    total = 0
    for z in _zip_sample(rng, 400):
        house, name, suffix = rng.randint(1, 29999), rng.choice(NAMES), rng.choice(SUFFIXES)
        street = f"{house} {name} {suffix[rng.randrange(2)]}"
        unit = rng.choice(["", "", f" APT {rng.randint(1, 40)}", f" {rng.randint(1, 9)}{rng.choice('ABC')}",
                           f" #{rng.randint(1, 99)}", " Unit F"])
        state = z["state"] if rng.random() < 0.7 else _state_name(z["state"])
        zip_ = rng.choice([z["zip_code"], f"{z['zip_code']}-{rng.randint(0, 9999):04d}", ""])
        city = z["city"]
        commas = rng.random() < 0.4
        line = (f"{street}{unit}, {city}, {state} {zip_}" if commas else f"{street}{unit} {city} {state} {zip_}")
        line = rng.choice([str.upper, str.lower, str.title])(line.strip())
        total += 1
        parts = places.split_line(line)
        if parts is None:
            if zip_ or places.zip_from_city(pd.Series([city.upper()]), pd.Series([z["state"]]))[0] is not pd.NA:
                wrong["not read"] += 1
            continue
        expected_street, _ = norm.street_and_unit(pd.Series([street + unit], dtype="string"))
        got = stored(parts)
        if got[0].split(" #")[0].split(" APT")[0].split(" UNIT")[0] != expected_street[0]:
            wrong["street"] += 1
        if places._plain(got[1]) != places._plain(city.upper()) or got[2] != z["state"]:
            wrong["city or state"] += 1
        if zip_ and got[3] != z["zip_code"]:
            wrong["zip"] += 1
    assert total == 400
    assert sum(wrong.values()) == 0, wrong


def test_the_compact_zip_table_is_the_installed_zipcodes_table():
    """places reads a compact copy of the zipcodes package's table (loading the package's own
    records costs 0.7 s and ~150 MB per run). Built from the installed package, the copy must say
    exactly what the file in the repository says — after an upgrade of zipcodes this fails until
    ``python -m orchestration.identity.places`` rewrites it — and every lookup built on it must
    equal the lookup built from the package's records directly."""
    import gzip
    import importlib.metadata
    import json

    import zipcodes

    with gzip.open(places.ZIP_TABLE, "rt", encoding="utf-8") as fh:
        body = json.load(fh)
    assert body["zipcodes"] == importlib.metadata.version("zipcodes"), \
        "the zipcodes package changed: run `python -m orchestration.identity.places` and commit the table"
    fresh = [[r["zip"], r["city"], r["state"], r["county"], r["names"]] for r in places.zip_records()]
    assert body["rows"] == fresh

    # the lookups, built the way they were built from the package's records
    by_zip, by_city = {}, {}
    for z in zipcodes.list_all():
        city = z["city"].upper()
        by_zip[z["zip_code"]] = (city, z["state"], (z.get("county") or "").upper())
        for name in {city, *(c.upper() for c in z.get("acceptable_cities") or [])}:
            key = (places._plain(name), z["state"])
            by_city[key] = z["zip_code"] if key not in by_city else None
    assert places._tables() == (by_zip, by_city)
    assert places._zip_names() == {
        z["zip_code"]: frozenset(places._plain(n) for n in [z["city"], *(z.get("acceptable_cities") or [])])
        for z in zipcodes.list_all()}
    assert len(by_zip) > 40_000 and sum(v is None for v in by_city.values()) > 100
