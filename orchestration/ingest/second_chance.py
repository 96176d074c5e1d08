"""Second-chance links: a record that no key found (MAK, APN, address key) may still be a known
property written with a misspelt street name, or without its ZIP.

Candidates come from one set-based query per upload, blocked so that no record is compared with
more than the leads of its own block: the same ZIP5, house number and unit (or, for a record
without a ZIP, the same city, state, house number and unit). Within a block, a lead is linked only
when it is the *only* lead that passes every guard:

- the house number and the unit are equal (the block) — never linked across either;
- the pre-directional, the suffix and the post-directional are equal (N MAIN ST and S MAIN ST,
  OAK DR and OAK CT are different streets);
- a parcel row with an APN and a county name but no state links to the lead with that APN in a
  county of that name, when there is exactly one and its owner, where both name one, is the
  same (a row with a state but no county stays apart: the number may be another county's);
- without a ZIP, the owner is the same (the surnames share a code: ``normalize.owner_key``);
- within a ZIP, owners that both are named share a surname code (a street typo *and* another
  owner is two guesses: a neighbour on a look-alike street more often than a sale);
- the street names are equal, or (only within a ZIP) close: the same first letter, numbers equal,
  and an edit distance (optimal string alignment: a swap of two letters is one edit) of at most 1
  (names up to 7 letters) or 2 (longer names) —
  ``rapidfuzz``; the threshold was measured with ``benchmarks/dedupe.py`` (street typos and the
  near-miss kinds: adjacent house numbers, directional twins, other units).

The rules are pure functions; :func:`find` runs them over the candidates the store's query
returns and leaves the links where the merge reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.identity import normalize as norm

_DIRECTIONS = frozenset(norm._DIRECTIONALS.values())
_SUFFIX_FORMS = frozenset(norm._SUFFIXES.values())


@dataclass(frozen=True)
class Line:
    house: str
    predir: str
    name: str
    suffix: str
    postdir: str
    unit: str


def parse(address: str) -> Line | None:
    """A stored (normalised) street line -> its parts; None when it has no house number and name."""
    key = norm.addr_key_line_one(address)
    street, _, unit = key.partition(" #")
    tokens = street.split(" ")
    if len(tokens) < 2:
        return None
    house, rest = tokens[0], tokens[1:]
    predir = postdir = suffix = ""
    if len(rest) > 1 and rest[0] in _DIRECTIONS:
        predir, rest = rest[0], rest[1:]
    if len(rest) > 1 and rest[-1] in _DIRECTIONS:
        postdir, rest = rest[-1], rest[:-1]
    if len(rest) > 1 and rest[-1] in _SUFFIX_FORMS:
        suffix, rest = rest[-1], rest[:-1]
    return Line(house, predir, " ".join(rest), suffix, postdir, unit)


def close_names(a: str, b: str) -> bool:
    """Street names a typo apart (see the module doc)."""
    from rapidfuzz.distance import OSA

    if a == b:
        return True
    if not a or not b or a[0] != b[0]:
        return False
    if any(c.isdigit() for c in a + b):
        return False                               # 4TH and 5TH, HIGHWAY 12 and 21: other streets
    limit = 1 if max(len(a), len(b)) <= 7 else 2
    return OSA.distance(a, b, score_cutoff=limit) <= limit


def matches(row: Line, lead: Line, *, fuzzy: bool) -> bool:
    same_frame = (row.house, row.unit, row.predir, row.suffix, row.postdir) == \
        (lead.house, lead.unit, lead.predir, lead.suffix, lead.postdir)
    if not same_frame:
        return False
    return close_names(row.name, lead.name) if fuzzy else row.name == lead.name


def same_owner(row_owner: str | None, lead_owner: str | None) -> bool:
    """Owner keys (normalize.owner_key) that share a surname code."""
    return bool(row_owner and lead_owner and set(row_owner.split()) & set(lead_owner.split()))


def links(candidates: list[tuple]) -> dict[int, tuple[str, str]]:
    """{row_number: (lead_id, rule)} from (row_number, row address, lead id, lead address, block[,
    row owner key, lead owner key]) candidates. Block 'zip' (same ZIP): a close name links. Block
    'city' (the row has no ZIP): the same line links when the owner is the same too — a city may
    hold the same line in two ZIPs, and without its ZIP the row cannot tell which. Block 'apn' (a
    parcel row naming its county but no state, a county name several states share): the lead
    holding that APN in a county of that name. A row with two passing leads is left alone."""
    passing: dict[int, set[str]] = {}
    rule: dict[int, str] = {}
    parsed: dict[str, Line | None] = {}

    def line(text: str) -> Line | None:
        if text not in parsed:
            parsed[text] = parse(text)
        return parsed[text]

    for row_number, row_address, lead_id, lead_address, block, *owners in candidates:
        if block == "apn":             # a parcel row with its county, no state: that county's APN
            row_owner, lead_owner = owners or (None, None)
            if row_owner and lead_owner and not same_owner(row_owner, lead_owner):
                continue               # another county's parcel of the same number, another owner
            passing.setdefault(row_number, set()).add(lead_id)
            rule[row_number] = "APN in a county of that name, no state"
            continue
        row, lead = line(row_address), line(lead_address)
        if row is None or lead is None:
            continue
        if block == "city" and not same_owner(*(owners or [None, None])):
            continue
        if block == "zip" and all(owners[:2] if owners else [None]) and not same_owner(*owners[:2]):
            continue                   # a typo and another owner: two guesses, not one
        if matches(row, lead, fuzzy=block == "zip"):
            passing.setdefault(row_number, set()).add(lead_id)
            rule[row_number] = "street name within a typo" if block == "zip" else "same line, no ZIP"
    return {rn: (next(iter(ids)), rule[rn]) for rn, ids in passing.items() if len(ids) == 1}


def find(conn, upload_id: str) -> dict[str, int]:
    """Find the upload's second-chance links and leave them in the transaction's
    ``_second_chance`` table, which merge_validated_leads() reads. Only rows that no key matches,
    and only the leads of their block, are compared."""
    from orchestration.db import store

    candidates = store.second_chance_candidates(conn, upload_id)
    found = links(candidates)
    store.write_second_chance_links(conn, found)
    return {"second_chance_candidates": len(candidates), "second_chance_links": len(found)}
