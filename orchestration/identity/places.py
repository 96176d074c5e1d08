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
- a single line ``street, city, ST 12345`` is split at its commas; other single lines are split by
  usaddress-scourgify.

Pure functions over pandas Series, each run once per distinct value.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, tuple[str, str, str]], dict[tuple[str, str], str | None]]:
    """(ZIP -> (city, state, county), (city, state) -> its only ZIP, or None when several)."""
    import zipcodes

    by_zip: dict[str, tuple[str, str, str]] = {}
    by_city: dict[tuple[str, str], str | None] = {}
    for z in zipcodes.list_all():
        state = z["state"]
        city = z["city"].upper()
        by_zip[z["zip_code"]] = (city, state, (z.get("county") or "").upper())
        for name in {city, *(c.upper() for c in z.get("acceptable_cities") or [])}:
            key = (_plain(name), state)
            by_city[key] = z["zip_code"] if key not in by_city else None
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


_SIMPLE_LINE = re.compile(
    r"^\s*(?P<street>.+?)\s*,\s*(?P<city>[^,]+?)\s*,?\s+(?P<state>[A-Za-z]{2})\.?\s*(?P<zip>[0-9]{5}(?:-?[0-9]{4})?)?\s*$")


@lru_cache(maxsize=1 << 16)
def split_line(line: str) -> tuple[str, str, str, str] | None:
    """One single-line address -> (street with unit, city, state, ZIP), or None when it is not one."""
    from scourgify import normalize_address_record
    from scourgify.exceptions import AddressNormalizationError

    # The plain comma-separated form first: the street stays as written, for the normaliser's own
    # rules (scourgify reads a county road "CR 12" as a creek).
    m = _SIMPLE_LINE.match(line)
    if m:
        return m["street"], m["city"], m["state"], m["zip"] or ""
    try:
        rec = normalize_address_record(line)
    except (AddressNormalizationError, ValueError, TypeError, KeyError, IndexError):
        rec = None
    if rec and rec.get("city") and rec.get("state"):
        street = " ".join(p for p in (rec.get("address_line_1"), rec.get("address_line_2")) if p)
        return street, rec["city"], rec["state"], rec.get("postal_code") or ""
    return None


def split_single_lines(street: pd.Series, city: pd.Series, state: pd.Series, zip_: pd.Series
                       ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, int]:
    """Where city, state and ZIP are all empty and the street cell holds a whole address, fill the
    four columns from it. Returns the columns and how many rows were split."""
    def blank(s: pd.Series) -> pd.Series:
        return s.isna() | s.astype("string").str.strip().eq("")

    candidate = (blank(city) & blank(state) & blank(zip_) & ~blank(street)
                 & street.astype("string").str.contains(",", regex=False).fillna(False).astype(bool))
    if not candidate.any():
        return street, city, state, zip_, 0
    street, city, state, zip_ = (s.astype("string").copy() for s in (street, city, state, zip_))
    parts = street[candidate].map(lambda v: split_line(str(v)))
    parsed = parts[parts.notna()]
    for i, column in enumerate((street, city, state, zip_)):
        column.loc[parsed.index] = [p[i] for p in parsed]
    return street, city, state, zip_, len(parsed)
