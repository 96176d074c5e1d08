"""In-file grouping (validate.group_in_file), table-driven: the cascade MAK -> (APN, state) ->
addr_hash, chains of any length, guards that keep different properties apart, and the union-find
under it."""

import numpy as np
import pandas as pd
import pytest

from orchestration.ingest.validate import find, group_in_file, union


def keys(*rows):
    """rows: (mak, apn, state, addr_hash[, owner_key[, last_sale_date]]); row numbers 1.."""
    def col(i):
        return pd.array([r[i] if len(r) > i else None for r in rows], dtype="string")

    return pd.DataFrame({
        "row_number": range(1, len(rows) + 1), "mak": col(0), "apn": col(1), "property_state": col(2),
        "addr_hash": col(3), "owner_key": col(4), "last_sale_date": col(5),
    })


def partition(groups: pd.DataFrame, n: int) -> list[set[int]]:
    """All rows' groups as sets of row numbers (rows absent from ``groups`` are alone)."""
    grp = dict(zip(groups["row_number"], groups["grp"]))
    out: dict[int, set[int]] = {}
    for rn in range(1, n + 1):
        out.setdefault(int(grp.get(rn, rn)), set()).add(rn)
    return sorted(out.values(), key=min)


CASES = [
    # name, rows, expected groups
    ("distinct rows stay apart",
     [("M1", None, "CA", "h1"), ("M2", None, "CA", "h2")], [{1}, {2}]),
    ("same MAK is one property",
     [("M1", None, "CA", "h1"), ("M1", None, "CA", "h9")], [{1, 2}]),
    ("same APN, same state", [(None, "A", "CA", "h1"), (None, "A", "CA", "h2")], [{1, 2}]),
    ("same APN, other state: two properties", [(None, "A", "CA", "h1"), (None, "A", "TX", "h2")], [{1}, {2}]),
    ("same address hash", [(None, None, "CA", "h1"), (None, None, "CA", "h1")], [{1, 2}]),
    ("NULL keys never match", [(None, None, "CA", None), (None, None, "CA", None)], [{1}, {2}]),
    ("same APN but different MAKs stay apart",
     [("M1", "A", "CA", "h1"), ("M2", "A", "CA", "h2")], [{1}, {2}]),
    ("same address but different APNs stay apart",
     [(None, "A", "CA", "h1"), (None, "B", "CA", "h1")], [{1}, {2}]),
    ("a MAK joining two APN buckets joins all four rows",
     [(None, "A", "CA", "h1"), (None, "B", "CA", "h2"), ("M", "B", "CA", "h3"), ("M", "A", "CA", "h4")],
     [{1, 2, 3, 4}]),
    ("a chain through three keys",
     [("M", None, "CA", "h1"), ("M", "A", "CA", "h2"), (None, "A", "CA", "h3"), (None, None, "CA", "h3")],
     [{1, 2, 3, 4}]),
]


@pytest.mark.parametrize("rows, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_groups(rows, expected):
    groups, _ = group_in_file(keys(*rows))
    assert partition(groups, len(rows)) == expected


def test_group_is_numbered_as_its_first_row_and_clashing_keys_are_reported():
    groups, conflicts = group_in_file(keys(("M1", "A", "CA", "h1"), ("M2", "A", "CA", "h2")))
    assert [c["key"] for c in conflicts] == ["apn"] and conflicts[0]["row_number"] == 2
    row2 = groups.set_index("row_number").loc[2]
    assert bool(row2["drop_apn"]) and int(row2["grp"]) == 2


def test_one_mak_spanning_many_apn_buckets_is_one_group_in_any_row_order():
    """Twenty APN buckets, each holding a row without MAK and a row of MAK M: all forty rows are one
    property, whatever order they come in (a one-level pointer jump after a fancy assignment with
    repeated indices kept one bucket's link and lost the others)."""
    rng = np.random.default_rng(7)
    rows = [r for k in range(20) for r in ((None, f"A{k}", "CA", f"h{k}"), ("M", f"A{k}", "CA", f"m{k}"))]
    for _ in range(5):
        shuffled = [rows[j] for j in rng.permutation(len(rows))]
        groups, conflicts = group_in_file(keys(*shuffled))
        assert not conflicts
        assert partition(groups, len(rows)) == [set(range(1, len(rows) + 1))]


def test_union_find_applies_every_edge_to_a_shared_root():
    parent = np.arange(6)
    union(parent, np.array([5, 5, 3]), np.array([1, 2, 4]))   # 5-1, 5-2 share node 5
    roots = find(parent)
    assert roots[1] == roots[2] == roots[5] == 1 and roots[3] == roots[4] == 3 and roots[0] == 0


@pytest.mark.parametrize("seed", range(20))
def test_union_find_matches_a_reference_on_random_edges(seed):
    rng = np.random.default_rng(seed)
    n = 50
    a, b = rng.integers(0, n, 60), rng.integers(0, n, 60)
    parent = np.arange(n)
    union(parent, a, b)
    roots = find(parent)
    # reference: naive relabelling until stable
    label = list(range(n))
    changed = True
    while changed:
        changed = False
        for x, y in zip(a, b):
            m = min(label[x], label[y])
            for node in range(n):
                if label[node] in (label[x], label[y]) and label[node] != m:
                    label[node] = m
                    changed = True
    assert list(roots) == label


OWNER_CASES = [
    # name, rows, rows whose owner is not the group's
    ("one owner", [("M", None, "CA", "h1", "S530"), ("M", None, "CA", "h1", "S530 J520")], set()),
    ("a record naming nobody is no other owner", [("M", None, "CA", "h1", "S530"), ("M", None, "CA", "h1")], set()),
    ("two owners, no sale dates: the first row names the owner",
     [("M", None, "CA", "h1", "S530"), ("M", None, "CA", "h1", "J520")], {2}),
    ("two owners: the newer sale names the owner",
     [("M", None, "CA", "h1", "S530", "2015-01-02"), ("M", None, "CA", "h1", "J520", "2024-06-07"),
      (None, None, "CA", "h1", "S530")], {1, 3}),
    ("owners of different properties are never compared",
     [("M1", None, "CA", "h1", "S530"), ("M2", None, "CA", "h2", "J520")], set()),
]


@pytest.mark.parametrize("rows, other", [c[1:] for c in OWNER_CASES], ids=[c[0] for c in OWNER_CASES])
def test_rows_of_another_owner_only_count_as_members(rows, other):
    groups, conflicts = group_in_file(keys(*rows))
    dropped = set(groups.loc[groups["drop_owner"], "row_number"]) if len(groups) else set()
    assert dropped == other
    assert {c["row_number"] for c in conflicts if c["key"] == "owner"} == other


def addressed(*rows):
    """rows: (address, zip, owner_key[, mak[, apn]]); every row its own address hash."""
    def col(i, default=None):
        return pd.array([r[i] if len(r) > i else default for r in rows], dtype="string")

    return pd.DataFrame({
        "row_number": range(1, len(rows) + 1), "mak": col(3), "apn": col(4),
        "property_state": pd.array(["WY"] * len(rows), dtype="string"),
        "property_county": pd.array([None] * len(rows), dtype="string"),
        "addr_hash": pd.array([f"h{i}" for i in range(len(rows))], dtype="string"), "owner_key": col(2),
        "last_sale_date": pd.array([None] * len(rows), dtype="string"), "property_address": col(0),
        "property_zip": col(1),
    })


NEAR = [
    ("a typo in the street name", [("6052 W SAUNDERS RD", "82718", "S530"), ("6052 W SAUNERS RD", "82718", "S530")],
     [{1, 2}]),
    ("a swap of two letters", [("410 SUNSET BLVD", "82414", "A000"), ("410 SUSNET BLVD", "82414", "A000")], [{1, 2}]),
    ("the unit joins too", [("28775 LAWSON AVE APT 7C", "39455", "A000"), ("28775 LAWSOON AVE # 7C", "39455", None)],
     [{1, 2}]),
    ("another unit", [("28775 LAWSON AVE APT 7C", "39455", "A000"), ("28775 LAWSOON AVE APT 7D", "39455", "A000")],
     [{1}, {2}]),
    ("another directional", [("410 E SUNSET BLVD", "82414", "A000"), ("410 W SUNSEET BLVD", "82414", "A000")],
     [{1}, {2}]),
    ("another suffix", [("410 SUNSET BLVD", "82414", "A000"), ("410 SUNSEET DR", "82414", "A000")], [{1}, {2}]),
    ("another ZIP", [("410 SUNSET BLVD", "82414", "A000"), ("410 SUNSEET BLVD", "82435", "A000")], [{1}, {2}]),
    ("another house number", [("410 SUNSET BLVD", "82414", "A000"), ("412 SUNSEET BLVD", "82414", "A000")],
     [{1}, {2}]),
    ("other owners", [("410 SUNSET BLVD", "82414", "S530"), ("410 SUNSEET BLVD", "82414", "J525")], [{1}, {2}]),
    ("numbered streets are never close", [("12 4TH ST", "82414", "A000"), ("12 5TH ST", "82414", "A000")],
     [{1}, {2}]),
    ("different MAKs", [("410 SUNSET BLVD", "82414", "A000", "M1"), ("410 SUNSEET BLVD", "82414", "A000", "M2")],
     [{1}, {2}]),
    ("two candidates: neither is taken",
     [("410 SUNSET BLVD", "82414", "A000"), ("410 SUNSEET BLVD", "82414", "A000"), ("410 SUNSAT BLVD", "82414", "A000")],
     [{1}, {2}, {3}]),
]


@pytest.mark.parametrize("rows, expected", [c[1:] for c in NEAR], ids=[c[0] for c in NEAR])
def test_near_duplicates_of_one_file(rows, expected):
    groups, conflicts = group_in_file(addressed(*rows))
    assert partition(groups, len(rows)) == expected
    assert sum(c["key"] == "near_duplicate" for c in conflicts) == sum(len(g) - 1 for g in expected)


def test_typo_variants_of_many_streets_link_and_their_neighbours_do_not():
    """Seeded: each street written right and with one typo (substitution, deletion, swap), beside
    the next house and another unit of the same number: only the typo pairs join."""
    import random

    rng = random.Random(7)
    rows, expected = [], []
    names = ["WASHINGTON", "HIGHLAND", "CHESTNUT", "MAGNOLIA", "SYCAMORE", "PROSPECT", "KENSINGTON", "BRIARWOOD"]
    for i in range(60):
        name, house, zip5 = rng.choice(names), rng.randint(10, 9999), f"{80000 + i:05d}"
        at = rng.randint(1, len(name) - 2)
        typo = rng.choice([name[:at] + "X" + name[at + 1:], name[:at] + name[at + 1:],
                           name[:at] + name[at + 1] + name[at] + name[at + 2:]])
        n = len(rows)
        rows += [(f"{house} {name} ST", zip5, "S530"), (f"{house} {typo} ST", zip5, "S530"),
                 (f"{house + 2} {name} ST", zip5, "S530"), (f"{house} {name} ST APT 2", zip5, "S530")]
        expected += [{n + 1, n + 2}, {n + 3}, {n + 4}]
    groups, _ = group_in_file(addressed(*rows))
    assert partition(groups, len(rows)) == expected


def test_unitless_rows_of_other_owners_at_a_building_with_units_stay_apart():
    rows = addressed(("12 OAK ST APT 1", "90210", "S530"), ("12 OAK ST APT 2", "90210", "J525"),
                     ("12 OAK ST", "90210", "S530"), ("12 OAK ST", "90210", "B650"),       # two units, units lost
                     ("12 OAK ST", "90210", "S530"),                                       # the first one again
                     ("9 ELM ST", "90210", "S530"), ("9 ELM ST", "90210", "B650"))         # a house sold
    rows["addr_hash"] = pd.array(["a1", "a2", "h", "h", "h", "e", "e"], dtype="string")
    groups, conflicts = group_in_file(rows)
    assert partition(groups, 7) == [{1}, {2}, {3, 5}, {4}, {6, 7}]
    assert [c["row_number"] for c in conflicts if c["key"] == "addr_hash"] == [4]
