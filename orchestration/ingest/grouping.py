"""In-file duplicate groups: which valid rows of one upload are one property.

The cascade of the merge, applied to the rows of a file: rows sharing a MAK are one property;
then rows sharing (APN, state, county) unless their MAKs differ; then rows sharing ``addr_hash``
unless their MAK or APN differ (or, for rows without a unit at a building where other rows give
units, their owners). Then two rules for what no key joins: a parcel row naming its
county but no state joins the one group holding that APN in a county of that name, and a row
whose street
is a typo away from another row's (same ZIP, house number, unit, directionals, suffix, owner)
joins it. The lowest row number represents the group; ``publish_validated()`` (SQL) merges the
others into it safely. A key that would clash with another group is not kept on the later row
and the conflict is reported.

Only the key columns of every valid row (``compact_keys``) reach this module: a million rows
are a few hundred megabytes at most, never the whole frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY_COLUMNS = ["row_number", "mak", "apn", "property_state", "property_county", "addr_hash", "owner_key",
               "last_sale_date", "property_address", "property_zip"]


def find(parent: np.ndarray) -> np.ndarray:
    """Roots of a union-find forest, with full path compression (in place); returns ``parent``."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent[:] = grand


def union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the sets of a[i] and b[i] for every i; each set's root is its smallest member.

    ``np.minimum.at`` applies every edge, also when one root receives several (a fancy assignment
    would keep one arbitrary value of repeated indices and lose the other links).
    """
    while True:
        roots = find(parent)
        ra, rb = roots[a], roots[b]
        apart = ra != rb
        if not apart.any():
            return
        np.minimum.at(parent, np.maximum(ra, rb)[apart], np.minimum(ra, rb)[apart])


def compact_keys(valid: pd.DataFrame) -> pd.DataFrame:
    """The key columns of a slice's valid rows as the grouping keeps them for the whole file: the
    64-character address hash as its first 16 (64 bits: a collision among a file's million rows has
    a chance of about 1 in 30 million), the row number as int32."""
    keys = valid[KEY_COLUMNS].copy()
    keys["row_number"] = keys["row_number"].astype("int32")
    keys["addr_hash"] = keys["addr_hash"].str.slice(0, 16)
    return keys


def group_in_file(keys: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """In-file duplicate groups from the key columns of every valid row (cascade: see module doc).

    Returns the rows ``publish_validated()`` must treat specially — members of multi-row groups and
    rows that gave up a clashing key — as (row_number, grp = the group's lowest row number,
    drop_apn, drop_addr_hash, drop_owner), and the conflicts found.

    Owners: a group whose rows name different owners (``owner_key`` shares no code, see
    ``normalize.owner_key``) is one property sold between the records. The record the file marks
    newer (latest ``last_sale_date``) names the owner, else the group's first record; the other
    owners' rows keep only their lineage (``drop_owner``) and are reported.
    """
    # slices arrive in row order: no sorted copy of a million rows unless they did not
    df = (keys if keys["row_number"].is_monotonic_increasing else keys.sort_values("row_number")).reset_index(drop=True)
    group = np.arange(len(df))
    parent = np.arange(len(df))
    dropped = {"apn": np.zeros(len(df), bool), "addr_hash": np.zeros(len(df), bool)}
    conflicts: list[dict] = []

    def collapse(key_cols: list[str], guard_cols: list[str], key_name: str) -> None:
        nonlocal group
        keyed = df[key_cols].notna().all(axis=1).to_numpy()
        if not keyed.any():
            return
        sub = df.loc[keyed, key_cols + guard_cols].copy()
        sub["_g"] = group[keyed]
        key_tuple = sub[key_cols[0]].astype(str)
        for c in key_cols[1:]:
            key_tuple = key_tuple + "\x1f" + sub[c].astype(str)
        grouped = sub.groupby(key_tuple, sort=False)
        first_g = grouped["_g"].transform("min")
        ok = pd.Series(True, index=sub.index)
        for g in guard_cols:
            lead_val = grouped[g].transform("first")  # first non-null in the group
            differs = sub[g].notna() & lead_val.notna() & sub[g].ne(lead_val)
            ok &= ~differs.fillna(False).astype(bool)
        # Rows whose guard differs keep their own group and give up the clashing key.
        clash = ((~ok) & first_g.ne(sub["_g"])).to_numpy()
        if clash.any():
            at = sub.index[clash]
            for idx, value in zip(at, key_tuple[clash]):
                conflicts.append({"row_number": int(df.at[idx, "row_number"]), "key": key_name,
                                  "value": str(value), "reason": "same " + key_name + " as another row "
                                  "whose " + "/".join(guard_cols) + " differs"})
            df.loc[at, key_cols[0]] = pd.NA
            dropped[key_cols[0]][at.to_numpy()] = True
        joined = (ok & first_g.ne(sub["_g"])).to_numpy()
        if joined.any():
            # Every member of a joined group follows it into the key's group: a real union-find,
            # because one group may join several buckets (a MAK spanning two APNs) and chains of
            # any length must close.
            union(parent, sub["_g"].to_numpy()[joined], first_g.to_numpy()[joined])
            group = find(parent)[group]

    # An APN is scoped by state and county (the row's, else its ZIP's; none is one more scope).
    county = df["property_county"] if "property_county" in df else pd.Series(pd.NA, index=df.index, dtype="string")
    df["county_key"] = county.fillna("").astype("string")
    collapse(["mak"], [], "mak")
    collapse(["apn", "property_state", "county_key"], ["mak"], "apn")
    if "property_address" in df:
        df["unit_owner"] = unit_owners(df)
        collapse(["addr_hash"], ["mak", "apn", "unit_owner"], "addr_hash")
    else:
        collapse(["addr_hash"], ["mak", "apn"], "addr_hash")
    pairs = stateless_parcels(df, group)
    if len(pairs):
        union(parent, group[pairs[:, 0]], group[pairs[:, 1]])
        group = find(parent)[group]
    if "property_address" in df:
        pairs = near_duplicates(df, group)
        if len(pairs):
            union(parent, group[pairs[:, 0]], group[pairs[:, 1]])
            group = find(parent)[group]
            for a, b in pairs:
                conflicts.append({"row_number": int(df.at[int(a), "row_number"]), "key": "near_duplicate",
                                  "value": str(int(df.at[int(b), "row_number"])),
                                  "reason": "street name within a typo of another row of the file: same ZIP, "
                                            "house number, unit, directionals and suffix"})

    sizes = np.bincount(group, minlength=len(df))
    rows = df["row_number"].to_numpy()
    drop_owner = _other_owners(df, group, sizes, conflicts)
    special = (sizes[group] > 1) | dropped["apn"] | dropped["addr_hash"]
    groups = pd.DataFrame({
        "row_number": rows[special], "grp": rows[group[special]],
        "drop_apn": dropped["apn"][special], "drop_addr_hash": dropped["addr_hash"][special],
        "drop_owner": drop_owner[special],
    })
    return groups, conflicts


def unit_owners(df: pd.DataFrame) -> pd.Series:
    """The owner key of each row whose address has no unit although rows of the same file give
    units at that building (``12 OAK ST`` beside ``12 OAK ST APT 1``, same ZIP); NA elsewhere.
    Used as a guard of the address-key collapse: two such rows of different owners are two units
    written without their units, not one property sold — they stay apart (the later gives up the
    address key), as the merge keeps such a record apart from a stored lead."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from orchestration.identity import normalize as norm

    out = pd.Series(pd.NA, index=df.index, dtype="string")
    # only address keys that rows of different owners share can need the guard: usually none
    owners = df["owner_key"].astype("string")
    named = df["addr_hash"].notna() & owners.notna()
    spread = owners[named].groupby(df["addr_hash"][named]).transform("nunique")
    if not (spread > 1).any():
        return out
    address = df["property_address"].astype("string")
    key = norm.addr_key_line(address)
    text = pa.array(key.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    has_unit = pc.fill_null(pc.match_substring(text, " #"), False).to_numpy(zero_copy_only=False)
    if not has_unit.any():
        return out
    building = pc.list_element(pc.split_pattern(text, " #", max_splits=1), 0)
    zip5 = df["property_zip"].astype("string").fillna("").to_numpy(dtype=object)
    place = pd.Series(building.to_numpy(zero_copy_only=False), index=df.index).astype("string") + "|" + zip5
    with_units = set(place[has_unit].dropna())
    unitless_there = (~has_unit) & place.isin(with_units).to_numpy() & address.notna().to_numpy()
    out[unitless_there] = df["owner_key"].astype("string")[unitless_there]
    return out


def stateless_parcels(df: pd.DataFrame, group: np.ndarray) -> np.ndarray:
    """Pairs of row positions (the one row group of the file holding the APN in a county of that
    name, a parcel row naming that county but no state) — the in-file twin of the second-chance
    rule — unless the two name owners whose surnames share no code. A row with a state but no
    county stays apart: its number may be another county's parcel."""
    state = df["property_state"].astype("string").fillna("")
    county = df["county_key"]
    apn_ok = df["apn"].notna().to_numpy()
    whole = apn_ok & state.ne("").to_numpy() & county.ne("").to_numpy()
    partial = apn_ok & state.eq("").to_numpy() & county.ne("").to_numpy()
    if not partial.any() or not whole.any():
        return np.empty((0, 2), dtype=np.int64)
    known = pd.DataFrame({"apn": df["apn"].to_numpy()[whole], "county": county.to_numpy()[whole],
                          "g": group[whole], "pos": np.flatnonzero(whole)})
    one = known.groupby(["apn", "county"])["g"].transform("nunique").to_numpy() == 1
    known = known[one].drop_duplicates(["apn", "county"])
    rows = pd.DataFrame({"apn": df["apn"].to_numpy()[partial], "county": county.to_numpy()[partial],
                         "me": np.flatnonzero(partial)})
    hit = rows.merge(known, on=["apn", "county"])
    from orchestration.ingest.second_chance import same_owner

    owner = df["owner_key"].astype("string").to_numpy()
    fits = [not (isinstance(a, str) and isinstance(b, str)) or same_owner(a, b)
            for a, b in zip(owner[hit["pos"]], owner[hit["me"]])]
    return hit.loc[fits, ["pos", "me"]].to_numpy(dtype=np.int64).reshape(-1, 2)


def near_duplicates(df: pd.DataFrame, group: np.ndarray) -> np.ndarray:
    """Pairs of row positions (another group's row, this group's row) whose addresses are one
    property written with a street typo: the rule of the second-chance match against stored
    leads (``second_chance.matches``, fuzzy within a ZIP) applied to the rows of one file.

    Blocked and cheap: only rows sharing a ZIP and house number with a row of another group are
    compared, pairs whose lines differ in length by more than two, end in another word or start
    their street name with another letter are dropped vectorised before any parse, and each
    distinct line is parsed once (measured on 300k sample rows holding 73k such blocks: 0.6 s for
    the whole grouping, 0.2 s without this pass). A group links only to the *one* other group of
    its block that passes, and only when that group's only passing partner is this one;
    MAKs or APNs that differ keep two groups apart, as in the cascade, and so do owners whose
    surnames share no code (two neighbours on look-alike streets are not one property).
    """
    from orchestration.ingest import second_chance

    import pyarrow as pa
    import pyarrow.compute as pc

    address = df["property_address"].astype("string")
    text = pa.array(address.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    house = pc.list_element(pc.split_pattern(text, " ", max_splits=1), 0)
    zip_codes, _ = pd.factorize(df["property_zip"].astype("string"))
    house_codes, house_values = pd.factorize(pd.Series(house.to_numpy(zero_copy_only=False)))
    ok = (zip_codes >= 0) & (house_codes >= 0) & pc.is_valid(text).to_numpy(zero_copy_only=False)
    if ok.sum() < 2:
        return np.empty((0, 2), dtype=np.int64)
    # integer block ids (ZIP, house number): no string keys for a million rows
    block_id = zip_codes.astype(np.int64) * (len(house_values) + 1) + house_codes
    pos = np.flatnonzero(ok)
    pairs_bg = pd.DataFrame({"b": block_id[pos], "g": group[pos], "pos": pos}).drop_duplicates(["b", "g"])
    shared = pairs_bg["b"].duplicated(keep=False).to_numpy()       # blocks holding two groups or more
    block = pairs_bg[shared]
    if block.empty:
        return np.empty((0, 2), dtype=np.int64)
    # Candidate pairs, vectorised: a typo keeps the line's length within two, its last word
    # (suffix or unit) and the first letter of the street name; only pairs passing that reach Python.
    pos = block["pos"].to_numpy()
    lines = text.take(pa.array(pos))
    house_len = pc.utf8_length(house.take(pa.array(pos)))
    frame = pd.DataFrame({
        "b": block["b"].to_numpy(), "g": block["g"].to_numpy(), "pos": pos,
        "n": pc.utf8_length(lines).to_numpy(zero_copy_only=False),
    })
    frame["last"] = [t.rsplit(" ", 1)[-1] for t in lines.to_pylist()]
    frame["first"] = [t[h + 1:h + 2] for t, h in zip(lines.to_pylist(), house_len.to_pylist())]

    pairs_ab = frame.merge(frame, on=["b", "last", "first"], suffixes=("_a", "_b"))
    pairs_ab = pairs_ab[(pairs_ab["g_a"] < pairs_ab["g_b"]) & ((pairs_ab["n_a"] - pairs_ab["n_b"]).abs() <= 2)]
    if pairs_ab.empty:
        return np.empty((0, 2), dtype=np.int64)

    # Only the rows of candidate pairs are read into Python objects.
    wanted = np.unique(np.concatenate([pairs_ab["pos_a"].to_numpy(), pairs_ab["pos_b"].to_numpy()]))

    def column(name: str) -> dict[int, str | None]:
        values = df[name].astype("string").iloc[wanted].to_numpy(dtype=object, na_value=None)
        return dict(zip(wanted.tolist(), values.tolist()))

    lines_of, mak, apn, owner = column("property_address"), column("mak"), column("apn"), column("owner_key")
    parsed: dict[str, second_chance.Line | None] = {}

    def line(at: int):
        text_ = lines_of[at]
        if text_ not in parsed:
            parsed[text_] = second_chance.parse(text_)
        return parsed[text_]

    passing: dict[int, set[int]] = {}
    rep: dict[int, int] = {}
    for ga, pa_, gb, pb in zip(pairs_ab["g_a"].tolist(), pairs_ab["pos_a"].tolist(), pairs_ab["g_b"].tolist(),
                               pairs_ab["pos_b"].tolist()):
        la, lb = line(pa_), line(pb)
        if la is None or lb is None or not second_chance.matches(la, lb, fuzzy=True):
            continue
        if any(x[pa_] is not None and x[pb] is not None and x[pa_] != x[pb] for x in (mak, apn)):
            continue
        if owner[pa_] and owner[pb] and not second_chance.same_owner(owner[pa_], owner[pb]):
            continue
        passing.setdefault(ga, set()).add(gb)
        passing.setdefault(gb, set()).add(ga)
        rep[ga], rep[gb] = pa_, pb
    pairs = [(rep[a], rep[b]) for a, others in passing.items() if len(others) == 1
             for b in others if a < b and passing.get(b) == {a}]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _other_owners(df: pd.DataFrame, group: np.ndarray, sizes: np.ndarray, conflicts: list[dict]) -> np.ndarray:
    """Rows of multi-row groups whose owner is not the group's owner (see group_in_file)."""
    drop = np.zeros(len(df), bool)
    multi = (sizes[group] > 1) & df["owner_key"].notna().to_numpy()
    if not multi.any():
        return drop
    sub = pd.DataFrame({"g": group[multi], "key": df["owner_key"].to_numpy()[multi],
                        "sale": df["last_sale_date"].fillna("").to_numpy()[multi],
                        "row": df["row_number"].to_numpy()[multi]}, index=np.flatnonzero(multi))
    # the owner of each group: the latest sale date, then the first row
    owner = (sub.sort_values(["g", "sale", "row"], ascending=[True, False, True])
             .drop_duplicates("g").set_index("g")["key"])
    if sub.groupby("g")["key"].nunique().max() < 2:
        return drop
    mine = sub["g"].map(owner)
    for idx, key, theirs, row in zip(sub.index, sub["key"], mine, sub["row"]):
        if not set(key.split()) & set(theirs.split()):
            drop[idx] = True
            conflicts.append({"row_number": int(row), "key": "owner", "value": "",
                              "reason": "same property as another row of the file, another owner: the "
                                        "newer sale (else the first row) names the owner; this row's "
                                        "owner, names and contacts are not used"})
    return drop
