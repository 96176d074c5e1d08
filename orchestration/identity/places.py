"""Where a row's address is: single-line addresses split, a missing city, state or ZIP derived.

Vendor rows come with pieces missing or in the wrong column: a web-form single line
(``14336 silva st, royalton, mn 56373``) in the street column with city, state and ZIP empty; a
ZIP without its city; a city and state without the ZIP. None of these is a reason to lose the
row. The USPS ZIP table of the ``zipcodes`` package (ZIP -> primary city, acceptable city names,
state, county) fills what is unambiguous:

- a missing city, state or county comes from the ZIP;
- a missing ZIP comes from the city and state only when exactly one ZIP carries that city name
  (its primary name or a USPS acceptable one); else it stays missing (the key then uses the
  street, city and state);
- a single line is read from its end — ZIP, state (code or name), city — with or without commas;
  without commas, the city is the run of words the ZIP table confirms (see :func:`split_line`); a
  line no reading places is refused with that reason, never guessed.

Pure functions over pandas Series, each run once per distinct value.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd


# The USPS table, compact: the ``zipcodes`` package loads 42,789 records of 15 fields each (0.7 s and
# ~150 MB of Python objects per process, every ingest run); the few fields used here are kept in
# ZIP_TABLE, written from that package by ``write_zip_table`` (a test checks it still matches the
# installed package, so an upgrade of ``zipcodes`` cannot leave it stale).
ZIP_TABLE = Path(__file__).with_name("zip_table.json.gz")


def zip_records() -> list[dict]:
    """The ``zipcodes`` package's records reduced to what placing an address needs."""
    import zipcodes

    return [{"zip": z["zip_code"], "city": z["city"].upper(), "state": z["state"],
             "county": (z.get("county") or "").upper(),
             # one plain form per distinct spelling, repeats kept: two spellings of one ZIP that
             # read alike make that name ambiguous, as they always have
             "names": sorted(_plain(n) for n in {z["city"].upper(), *(c.upper() for c in z.get("acceptable_cities") or [])})}
            for z in zipcodes.list_all()]


def write_zip_table(path: Path = ZIP_TABLE) -> int:
    """(Re)write the compact table from the installed ``zipcodes``; returns the records written."""
    import importlib.metadata

    records = zip_records()
    body = {"zipcodes": importlib.metadata.version("zipcodes"),
            "rows": [[r["zip"], r["city"], r["state"], r["county"], r["names"]] for r in records]}
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(json.dumps(body, separators=(",", ":")).encode())     # mtime 0: the same bytes each time
    return len(records)


@lru_cache(maxsize=1)
def _zip_rows() -> tuple[tuple[str, str, str, str, tuple[str, ...]], ...]:
    with gzip.open(ZIP_TABLE, "rt", encoding="utf-8") as fh:
        body = json.load(fh)
    return tuple((z, city, state, county, tuple(names)) for z, city, state, county, names in body["rows"])


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, tuple[str, str, str]], dict[tuple[str, str], str | None]]:
    """(ZIP -> (city, state, county), (city, state) -> its only ZIP, or None when several)."""
    by_zip: dict[str, tuple[str, str, str]] = {}
    by_city: dict[tuple[str, str], str | None] = {}
    for zip_code, city, state, county, names in _zip_rows():
        by_zip[zip_code] = (city, state, county)
        for name in names:
            key = (name, state)
            by_city[key] = zip_code if key not in by_city else None
    return by_zip, by_city


def _plain(city: str) -> str:
    return " ".join(re.sub(r"[^A-Z0-9 ]", " ", city.upper()).split())


def city_state_from_zip(zip5: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The USPS primary city and the state of each five-digit ZIP (NA when unknown)."""
    by_zip, _ = _tables()
    codes, uniques = pd.factorize(zip5)
    found = [by_zip.get(u) if isinstance(u, str) else None for u in uniques]
    city = pd.array([f[0] if f else None for f in found], dtype="string")
    state = pd.array([f[1] if f else None for f in found], dtype="string")
    take = lambda arr: pd.Series(arr.take(codes, allow_fill=True), index=zip5.index, dtype="string")  # noqa: E731
    return take(city), take(state)


def county_from_zip(zip5: pd.Series) -> pd.Series:
    """The county of each ZIP as the USPS table gives it (its main county when a ZIP spans two),
    NA when unknown. Scopes an APN for rows whose file has no county column or cell."""
    by_zip, _ = _tables()
    codes, uniques = pd.factorize(zip5)
    found = [(by_zip.get(u) or (None, None, None))[2] or None if isinstance(u, str) else None for u in uniques]
    return pd.Series(pd.array(found, dtype="string").take(codes, allow_fill=True), index=zip5.index, dtype="string")


@lru_cache(maxsize=1)
def _county_states() -> dict[str, str | None]:
    """County (normalised as ``normalize.county`` writes it) -> its only state, None when the name
    is a county of several states (WASHINGTON is one in 30)."""
    from orchestration.identity import normalize as norm

    names = sorted({(county, state) for _, _, state, county, _ in _zip_rows() if county})
    normal = norm.county(pd.Series([n for n, _ in names], dtype="string"))
    out: dict[str, str | None] = {}
    for county, (_, state) in zip(normal, names):
        if isinstance(county, str):
            out[county] = state if out.get(county, state) == state else None
    return out


def state_from_county(county: pd.Series) -> pd.Series:
    """The state of each (normalised) county name when the name belongs to one state only, else NA:
    a parcel row that names its county but not its state is placed only when that is certain."""
    table = _county_states()
    codes, uniques = pd.factorize(county)
    found = [table.get(u) if isinstance(u, str) else None for u in uniques]
    return pd.Series(pd.array(found, dtype="string").take(codes, allow_fill=True), index=county.index, dtype="string")


def zip_from_city(city: pd.Series, state: pd.Series) -> pd.Series:
    """The only ZIP of a (normalised city, state) pair, NA when none or several."""
    _, by_city = _tables()
    pairs = city.fillna("").astype(str) + "\x1f" + state.fillna("").astype(str)
    codes, uniques = pd.factorize(pairs)
    found = []
    for u in uniques:
        c, s = u.split("\x1f")
        found.append(by_city.get((_plain(c), s)) if c and s else None)
    return pd.Series(pd.array(found, dtype="string").take(codes, allow_fill=True), index=city.index,
                     dtype="string")


_ZIP_TOKEN = re.compile(r"^([0-9]{5})(?:-?[0-9]{4})?$")
_NAME_FORMS = (("ST ", "SAINT "), ("STE ", "SAINTE "), ("MT ", "MOUNT "), ("FT ", "FORT "), ("PT ", "POINT "))
_LONGEST_CITY = 5                        # words; "LAND O LAKES", "RANCHO SANTA MARGARITA"


@lru_cache(maxsize=1)
def _state_words() -> dict[str, str]:
    """State codes and written-out state names (one or more words) -> the code. Only the full
    names: the short forms the USPS table also lists (ILL, IND, MISS, ORE) are ordinary words at
    the end of a street line too often to be read as states."""
    from scourgify import address_constants as usps

    out = {code: code for code in set(usps.STATE_ABBREVIATIONS.values())}
    out.update({c: c for c in ("DC", "PR", "GU", "VI", "AS", "MP")})
    longest: dict[str, str] = {}
    for name, code in usps.STATE_ABBREVIATIONS.items():
        if len(name) > len(longest.get(code, "")):
            longest[code] = name.upper()
    out.update({name: code for code, name in longest.items() if len(name) > 2})
    return out


@lru_cache(maxsize=1)
def _zip_names() -> dict[str, frozenset[str]]:
    """ZIP -> every city name USPS accepts for it (primary and acceptable), in plain form."""
    return {zip_code: frozenset(names) for zip_code, _, _, _, names in _zip_rows()}


def _city_forms(city: str) -> list[str]:
    """A city as written and with SAINT/MOUNT/FORT spelt out (the table writes SAINT LOUIS)."""
    forms = [city]
    for short, long in _NAME_FORMS:
        if city.startswith(short):
            forms.append(long + city[len(short):])
    return forms


def _known_city(city: str, state: str, zip5: str | None) -> tuple[bool, bool]:
    """(the table knows this city in this state, the table lists it for this ZIP)."""
    _, by_city = _tables()
    names = _zip_names().get(zip5 or "", frozenset())
    forms = _city_forms(city)
    return any((f, state) in by_city for f in forms), any(f in names for f in forms)


def _tokens(line: str) -> tuple[list[str], list[bool]]:
    """Words of a line and, for each, whether a comma came right before it."""
    words: list[str] = []
    after_comma: list[bool] = []
    comma = False
    for piece in re.split(r"(,)|\s+", line):
        if not piece:
            continue
        if piece == ",":
            comma = True
            continue
        words.append(piece)
        after_comma.append(comma)
        comma = False
    return words, after_comma


@lru_cache(maxsize=1 << 16)
def split_line(line: str) -> tuple[str, str, str, str] | None:
    """One single-line address -> (street with unit, city, state, ZIP), or None when no reading
    places it.

    Read from the end: a ZIP (ZIP+4 allowed), a state (its code or its name written out, NEW
    YORK), then the city: the run of last words that the USPS table confirms — a city of that ZIP
    where one is, else a city of that state — the longest such run (FLORHAM PARK, not PARK),
    never reaching back past a comma, and the street keeps at least a house number and a
    name. Where a comma marks the city and the table knows no city there (a misspelt one), the
    words after the last comma are the city, as written (``street, city, ST``). The street stays as
    written (with any unit after it: ``6610 MARSHALL DRIVE 6C``) for the normaliser's own rules."""
    words, after_comma = _tokens(line.strip())
    if len(words) < 3:
        return None
    upper = [w.upper().strip(".") for w in words]
    end = len(words)
    zip_ = ""
    if m := _ZIP_TOKEN.match(upper[end - 1]):
        zip_, end = words[end - 1], end - 1
    states = _state_words()
    state = ""
    for n in (3, 2, 1):
        if end - n >= 2 and (code := states.get(_plain(" ".join(upper[end - n:end])))):
            state, end = code, end - n
            break
    zip5 = m[1] if zip_ and m else None
    if not state:
        by_zip, _ = _tables()
        if not zip5 or zip5 not in by_zip:
            return None
        state = by_zip[zip5][1]
    # a comma inside what is left marks where the city starts
    marked = [i for i in range(1, end) if after_comma[i]]
    start = marked[-1] if marked else 0
    by_zip_name = in_state_only = None
    for k in range(1, min(_LONGEST_CITY, end - max(start, 2)) + 1):
        city = _plain(" ".join(upper[end - k:end]))
        in_state, in_zip = _known_city(city, state, zip5)
        if in_zip:
            by_zip_name = k                            # the longest confirmed run wins
        elif in_state:
            in_state_only = k
    # a city of that ZIP first; else a city of the state (a name the ZIP's list lacks)
    best = by_zip_name if by_zip_name is not None else in_state_only
    if best is None:
        if not marked:
            return None
        best = end - start            # "street, city, ST": the city as written, known or not
    return " ".join(words[:end - best]), " ".join(words[end - best:end]), state, zip_


def looks_like_a_line(street: str) -> bool:
    """A street cell that ends the way a whole address does (a ZIP, or a state after three words)."""
    words, _ = _tokens(street.strip())
    if len(words) < 3:
        return False
    last = words[-1].upper().strip(".")
    return bool(_ZIP_TOKEN.match(last)) or (len(words) >= 4 and last in _state_words())


def split_single_lines(street: pd.Series, city: pd.Series, state: pd.Series, zip_: pd.Series
                       ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, int, pd.Series]:
    """Where city, state and ZIP are all empty and the street cell holds a whole address, fill the
    four columns from it. Returns the columns, how many rows were split, and which rows hold a
    whole address that no reading placed (their reason in the DLQ says so)."""
    def blank(s: pd.Series) -> pd.Series:
        return s.isna() | s.astype("string").str.strip().eq("")

    unplaced = pd.Series(False, index=street.index)
    candidate = blank(city) & blank(state) & blank(zip_) & ~blank(street)
    if not candidate.any():
        return street, city, state, zip_, 0, unplaced
    street, city, state, zip_ = (s.astype("string").copy() for s in (street, city, state, zip_))
    codes, uniques = pd.factorize(street[candidate].astype(str))
    found = [split_line(u) for u in uniques]
    parts = pd.Series([found[c] for c in codes], index=street[candidate].index, dtype=object)
    parsed = parts[parts.notna()]
    for i, column in enumerate((street, city, state, zip_)):
        column.loc[parsed.index] = [p[i] for p in parsed]
    failed = parts[parts.isna()].index
    if len(failed):
        unplaced.loc[failed] = [looks_like_a_line(str(v)) for v in street.loc[failed]]
    return street, city, state, zip_, len(parsed), unplaced


if __name__ == "__main__":      # python -m orchestration.identity.places: rewrite the compact table
    print(f"wrote {write_zip_table():,} ZIP records to {ZIP_TABLE}")
