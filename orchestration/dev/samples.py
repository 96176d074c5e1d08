"""Synthetic lead lists for the demo, tests and benchmarks (deterministic for a seed).

``generate(n)`` writes a BatchData-style CSV where about ``dup_rate`` of the rows repeat an earlier
property by one of the three keys — the same MAK, the same APN (no MAK) or the same address in
another format (no MAK/APN) — so the dedupe has real work. The first ``n * (1 - dup_rate)`` rows
are distinct properties.

Each property has a phone number of its own, except ``shared_phone_rate`` of them that carry
another property's number (a landlord's or a relative's line), as skip-traced lists do. (An
earlier version derived phones from the id modulo 210,000: 850k properties shared 210k numbers,
four owners per line, so every Do-Not-Call flag in one list unverified four other owners' leads —
a workload no real list has.)
"""

from __future__ import annotations

import io
import random

import numpy as np
import pandas as pd

STREETS = ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
           "Lincoln", "Jackson", "Highland", "Madison", "Ridge", "Meadow", "Forest", "River", "Spring"]
SUFFIXES = [("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"),
            ("Court", "Ct"), ("Boulevard", "Blvd"), ("Place", "Pl")]
DIRS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"), ("", "")]
CITIES = [("Los Angeles", "CA", "900"), ("San Diego", "CA", "921"), ("Phoenix", "AZ", "850"),
          ("Tampa", "FL", "336"), ("Miami", "FL", "331"), ("Dallas", "TX", "752"), ("Austin", "TX", "787"),
          ("Denver", "CO", "802"), ("Portland", "OR", "972"), ("Seattle", "WA", "981")]
FIRST = ["Mary", "John", "Linda", "James", "Patricia", "Robert", "Barbara", "Michael", "Susan", "William",
         "Dorothy", "Richard", "Carol", "Thomas", "Nancy", "Charles", "Betty", "George", "Helen", "Frank"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
        "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis"]
AREA = ["213", "310", "619", "602", "813", "305", "214", "512", "303", "503", "206", "415"]

COLUMNS = ["mak", "apn", "property_address", "property_unit", "property_city", "property_state", "property_zip",
           "owner_first_name", "owner_last_name", "owner_age", "owner_occupied", "estimated_value",
           "estimated_equity", "phone_1", "phone_1_status", "phone_1_dnc", "phone_2", "phone_2_status",
           "email_1", "email_1_status", "litigator", "property_type", "open_mortgage_balance", "owner_deceased",
           "vacant"]
# Property types as a PropStream export spells them, with shares like a list of senior homeowners'.
PROPERTY_TYPES = [("Single Family Residential", 0.82), ("Condominium", 0.08), ("Duplex", 0.04),
                  ("Mobile/Manufactured Home", 0.02), ("Commercial", 0.02), ("Vacant Land", 0.01),
                  ("Multi-Family 5+ Units", 0.01)]


def _phones(ids: np.ndarray) -> list[str]:
    """A distinct US number per id below 84 million: area by the id's 7-million block, exchange
    and line from the rest."""
    area = np.array(AREA)[(ids // 7_000_000) % len(AREA)]
    exchange = 200 + (ids // 10_000) % 700
    return [f"({a}) {e:03d}-{x:04d}" for a, e, x in zip(area, exchange, ids % 10_000)]


def generate(n: int, *, seed: int = 7, dup_rate: float = 0.15, start: int = 0,
             shared_phone_rate: float = 0.02) -> pd.DataFrame:
    """A frame of ``n`` rows; ``start`` offsets ids so two calls give disjoint properties."""
    rng = np.random.default_rng(seed)
    base_n = max(1, int(round(n * (1 - dup_rate))))
    ids = np.arange(start, start + base_n)
    city_idx = rng.integers(0, len(CITIES), base_n)
    street_idx = rng.integers(0, len(STREETS), base_n)
    suf_idx = rng.integers(0, len(SUFFIXES), base_n)
    dir_idx = rng.integers(0, len(DIRS), base_n)
    house = 100 + (ids % 9800)
    unit = np.where(rng.random(base_n) < 0.1, (ids % 40 + 1).astype(str), "")
    street_no = ids // 9800  # keeps every (house, street) pair distinct for large n
    frame = pd.DataFrame({
        "mak": np.where(rng.random(base_n) < 0.6, [f"MAK{i:09d}" for i in ids], ""),
        "apn": np.where(rng.random(base_n) < 0.7, [f"{i % 1000:03d}-{i // 1000:06d}" for i in ids], ""),
        "property_address": [
            f"{h} {d[0] + ' ' if d[0] else ''}{STREETS[s]} {no if no else ''}{' ' if no else ''}{SUFFIXES[x][0]}".replace("  ", " ")
            for h, d, s, x, no in zip(house, (DIRS[i] for i in dir_idx), street_idx, suf_idx, street_no)],
        "property_unit": np.where(unit != "", np.char.add("Apt ", unit.astype(str)), ""),
        "property_city": [CITIES[c][0] for c in city_idx],
        "property_state": [CITIES[c][1] for c in city_idx],
        "property_zip": [CITIES[c][2] + f"{i % 100:02d}" for c, i in zip(city_idx, ids)],
        "owner_first_name": [FIRST[i % len(FIRST)] for i in ids],
        "owner_last_name": [LAST[(i // 7) % len(LAST)] for i in ids],
        "owner_age": rng.integers(55, 95, base_n).astype(str),
        "owner_occupied": np.where(rng.random(base_n) < 0.85, "Yes", "No"),
        "estimated_value": [f"${v:,}" for v in rng.integers(150, 1500, base_n) * 1000],
        "estimated_equity": [f"${v:,}" for v in rng.integers(20, 900, base_n) * 1000],
        "phone_1": _phones(ids),
        "phone_1_status": np.where(rng.random(base_n) < 0.7, "connected", "disconnected"),
        "phone_1_dnc": np.where(rng.random(base_n) < 0.05, "Yes", "No"),
        "phone_2": "",
        "phone_2_status": "",
        "email_1": [f"owner{i}@example.com" for i in ids],
        "email_1_status": np.where(rng.random(base_n) < 0.6, "deliverable", "risky"),
        "litigator": np.where(rng.random(base_n) < 0.01, "Yes", "No"),
    })
    # Eligibility facts, drawn after the rest so the columns above stay what they were for a seed.
    types, shares = zip(*PROPERTY_TYPES)
    frame["property_type"] = rng.choice(np.array(types), base_n, p=np.array(shares) / sum(shares))
    balance = rng.integers(0, 700, base_n) * 1000
    frame["open_mortgage_balance"] = np.where(rng.random(base_n) < 0.35, [f"${v:,}" for v in balance], "")
    frame["owner_deceased"] = np.where(rng.random(base_n) < 0.01, "Yes", "")
    frame["vacant"] = np.where(rng.random(base_n) < 0.02, "Yes", "No")
    shared = np.flatnonzero(rng.random(base_n) < shared_phone_rate)
    if len(shared):
        frame.loc[shared, "phone_1"] = frame["phone_1"].to_numpy()[rng.integers(0, base_n, len(shared))]
    dups = n - base_n
    if dups > 0:
        src = rng.integers(0, base_n, dups)
        d = frame.iloc[src].reset_index(drop=True).copy()
        kind = np.arange(dups) % 3
        # kind 0: same MAK, other formatting; kind 1: same APN, no MAK; kind 2: same address, no keys.
        d.loc[kind == 1, "mak"] = ""
        d.loc[kind == 2, ["mak", "apn"]] = ""
        d["property_address"] = (d["property_address"].str.upper()
                                 .str.replace(" STREET", " ST.", regex=False)
                                 .str.replace(" AVENUE", " AVE", regex=False)
                                 .str.replace("NORTH ", "N. ", regex=False))
        d["property_zip"] = d["property_zip"] + "-0001"
        d["phone_2"] = d["phone_1"]
        d["phone_2_status"] = "connected"
        d["phone_1"] = ""
        d["phone_1_status"] = ""
        frame = pd.concat([frame, d], ignore_index=True)
        # Keyless rows only dedupe by address: make sure their source had an address-only identity.
    order = random.Random(seed).sample(range(len(frame)), len(frame)) if len(frame) < 200_000 else \
        rng.permutation(len(frame))
    return frame.iloc[list(order)].reset_index(drop=True)[COLUMNS]


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()
