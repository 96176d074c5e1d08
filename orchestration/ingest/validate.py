"""Staged text rows -> normalised, validated, in-file-deduplicated leads (pure pandas + pandera).

Rules (each one is tested):
- Fatal per row (the row goes to the DLQ with every failed check): no street address, city, a US
  state code or a 5-digit ZIP — without them a lead can be neither keyed nor contacted.
- Not fatal, counted: an invalid e-mail or phone is dropped (the rest of the lead is kept), an
  unknown verification code counts as not verified, unparseable money/age become NULL.
- Channels: the first phone that is valid, not on the DNC list and verified is the lead's phone
  (else the first valid non-DNC one, unverified); likewise for e-mail. ``Litigator = Yes`` means no
  phone at all. Every channel is kept in ``melissa_payload``.
- In-file dedupe follows the same cascade as the merge: rows sharing a MAK are one property; then
  rows sharing (APN, state) unless their MAKs differ; then rows sharing ``addr_hash`` unless their
  MAK or APN differ. The lowest row number represents the group; others are merged into it safely
  (NULL never erases, booleans OR, code lists unioned). A key that would clash with another group
  is not kept on the later row and the conflict is reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from orchestration.ingest import normalize as norm
from orchestration.ingest.profiles import EMAIL_SLOTS, PHONE_SLOTS
from orchestration.ingest.schemas import NormalisedLead, reason_for

VALIDATED_COLUMNS = [
    "row_number", "first_name", "last_name", "email", "phone", "property_address", "property_city",
    "property_state", "property_zip", "property_value", "estimated_equity", "age", "owner_occupied",
    "email_verified", "phone_verified", "email_verification_codes", "phone_verification_codes",
    "melissa_payload", "mak", "apn", "addr_hash", "duplicate_rows",
]


@dataclass
class ValidationResult:
    valid: pd.DataFrame
    rejects: list[dict]
    counts: dict[str, int] = field(default_factory=dict)
    unknown_codes: Counter = field(default_factory=Counter)
    conflicts: list[dict] = field(default_factory=list)


CodeMap = dict[tuple[str, str], bool]  # (channel, code lower-case) -> is_verified


def _verified(codes: pd.Series, channel: str, code_map: CodeMap, unknown: Counter) -> pd.Series:
    lower = codes.fillna("").astype(str).str.strip().str.lower()
    known = {c: v for (ch, c), v in code_map.items() if ch == channel}
    mapped = lower.map(known)
    missing = lower.ne("") & mapped.isna()
    for code, n in lower[missing].value_counts().items():
        unknown[f"{channel}:{code}"] += int(n)
    return mapped.fillna(False).astype(bool)


def _pick(valid: np.ndarray, verified: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first valid+verified slot, else first valid; -1 when none. Plus verified flag."""
    ver = valid & verified
    has_ver = ver.any(axis=1)
    has_any = valid.any(axis=1)
    idx = np.where(has_ver, ver.argmax(axis=1), np.where(has_any, valid.argmax(axis=1), -1))
    return idx, has_ver


def _json_text(s: pd.Series) -> pd.Series:
    """A string column as JSON string literals ('null' for NA), vectorised."""
    esc = (s.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
           .str.replace(r"[\x00-\x1f]", " ", regex=True))
    return ('"' + esc + '"').fillna("null").astype("string")


def _join_nonnull(frags: list[pd.Series], index: pd.Index) -> pd.Series:
    acc = pd.Series("", index=index, dtype="string")
    for frag in frags:
        has = frag.notna()
        if not has.any():
            continue
        acc = acc.where(~has, acc.where(acc.eq(""), acc + ",") + frag.fillna(""))
    return acc


def _channels(df: pd.DataFrame, code_map: CodeMap, unknown: Counter, counts: Counter) -> pd.DataFrame:
    """Choose each lead's phone and e-mail and keep every channel in melissa_payload (see module doc)."""
    idx = df.index
    out = pd.DataFrame(index=idx)
    litigator = norm.yes_no(df["litigator"]).fillna(False).astype(bool).to_numpy()
    rows = np.arange(len(df))
    p_slots = [s for s in PHONE_SLOTS if df[s].notna().any()] or PHONE_SLOTS[:1]
    e_slots = [s for s in EMAIL_SLOTS if df[s].notna().any()] or EMAIL_SLOTS[:1]

    phones = [norm.phone_e164(df[s]) for s in p_slots]
    dnc = [norm.yes_no(df[f"{s}_dnc"]).fillna(False).astype(bool) for s in p_slots]
    pver = [_verified(df[f"{s}_code"], "phone", code_map, unknown) for s in p_slots]
    counts["invalid_phones"] += int(sum((df[s].notna() & p.isna()).sum() for s, p in zip(p_slots, phones)))
    p_valid = np.column_stack([p.notna().to_numpy() & ~d.to_numpy() for p, d in zip(phones, dnc)])
    p_valid &= ~litigator[:, None]
    p_idx, p_has_ver = _pick(p_valid, np.column_stack([v.to_numpy() for v in pver]))
    p_mat = np.column_stack([p.to_numpy(dtype=object, na_value=None) for p in phones])
    out["phone"] = pd.Series(np.where(p_idx >= 0, p_mat[rows, np.maximum(p_idx, 0)], None), index=idx,
                             dtype="string")
    out["phone_verified"] = p_has_ver

    emails = [norm.email(df[s]) for s in e_slots]
    ever = [_verified(df[f"{s}_code"], "email", code_map, unknown) for s in e_slots]
    counts["invalid_emails"] += int(sum((df[s].notna() & e.isna()).sum() for s, e in zip(e_slots, emails)))
    e_valid = np.column_stack([e.notna().to_numpy() for e in emails])
    e_idx, e_has_ver = _pick(e_valid, np.column_stack([v.to_numpy() for v in ever]))
    e_mat = np.column_stack([e.to_numpy(dtype=object, na_value=None) for e in emails])
    out["email"] = pd.Series(np.where(e_idx >= 0, e_mat[rows, np.maximum(e_idx, 0)], None), index=idx,
                             dtype="string")
    out["email_verified"] = e_has_ver

    # Verification codes of the chosen channel (lower-case).
    def chosen_codes(slots: list[str], pick: np.ndarray) -> list[list[str]]:
        mat = np.column_stack([df[f"{s}_code"].str.strip().str.lower().to_numpy(dtype=object, na_value=None)
                               for s in slots])
        chosen = np.where(pick >= 0, mat[rows, np.maximum(pick, 0)], None)
        return [[c] if c else [] for c in chosen]

    out["phone_verification_codes"] = chosen_codes(p_slots, p_idx)
    out["email_verification_codes"] = chosen_codes(e_slots, e_idx)

    # Every channel, as JSON built column-wise (no per-row Python).
    p_frags = []
    for s, p, d in zip(p_slots, phones, dnc):
        frag = ('{"number":' + _json_text(p) + ',"code":' + _json_text(df[f"{s}_code"])
                + ',"type":' + _json_text(df[f"{s}_type"]) + ',"dnc":'
                + pd.Series(np.where(d.to_numpy(), "true", "false"), index=idx, dtype="string") + "}")
        p_frags.append(frag.where(p.notna()))
    e_frags = [('{"address":' + _json_text(e) + ',"code":' + _json_text(df[f"{s}_code"]) + "}").where(e.notna())
               for s, e in zip(e_slots, emails)]
    pj, ej = _join_nonnull(p_frags, idx), _join_nonnull(e_frags, idx)
    lit = pd.Series(np.where(litigator, ',"litigator":true', ""), index=idx, dtype="string")
    payload = '{"phones":[' + pj + '],"emails":[' + ej + "]" + lit + "}"
    empty = pj.eq("") & ej.eq("") & ~litigator
    out["melissa_payload"] = payload.where(~empty, "{}")
    return out


def normalise(staged: pd.DataFrame, code_map: CodeMap, unknown: Counter, counts: Counter) -> pd.DataFrame:
    df = staged
    street, unit = norm.street_and_unit(df["property_address"], df["property_unit"])
    city = norm.city(df["property_city"])
    state = norm.state(df["property_state"])
    zip5 = norm.zip5(df["property_zip"])
    out = pd.DataFrame(index=df.index)
    out["row_number"] = df["row_number"].astype("int64")
    out["first_name"] = norm.name(df["first_name"])
    out["last_name"] = norm.name(df["last_name"])
    out["property_address"] = norm.full_address(street, unit).replace("", pd.NA)
    out["property_city"] = city.replace("", pd.NA)
    out["property_state"] = state.replace("", pd.NA)
    out["property_zip"] = zip5
    out["property_value"] = norm.money(df["property_value"])
    out["estimated_equity"] = norm.money(df["estimated_equity"])
    age = norm.integer(df["age"])
    out["age"] = age
    out["owner_occupied"] = norm.yes_no(df["owner_occupied"])
    out["mak"] = norm.mak(df["mak"])
    out["apn"] = norm.apn(df["apn"])
    out["addr_hash"] = norm.addr_hash(street, unit, city, state.fillna(""), zip5.fillna(""))
    out.loc[out["property_state"].isna() | out["property_zip"].isna(), "addr_hash"] = pd.NA
    counts["unparsed_money"] += int(((df["property_value"].notna() & out["property_value"].isna())
                                    | (df["estimated_equity"].notna() & out["estimated_equity"].isna())).sum())
    return pd.concat([out, _channels(df, code_map, unknown, counts)], axis=1)


def split_rejects(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Run the pandera model lazily; return valid rows and {row_number: [reasons]}."""
    try:
        # Only the checked columns: pandera copies what it validates.
        NormalisedLead.validate(frame[list(NormalisedLead.to_schema().columns)], lazy=True)
        return frame, {}
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        reasons: dict[int, list[str]] = {}
        bad_index = fc["index"].dropna()
        for idx, col, check in zip(fc["index"], fc["column"], fc["check"]):
            if pd.isna(idx):
                continue
            rn = int(frame.at[idx, "row_number"])
            text = reason_for(col, str(check))
            reasons.setdefault(rn, [])
            if text not in reasons[rn]:
                reasons[rn].append(text)
        bad = frame.index.isin(bad_index.astype(frame.index.dtype, errors="ignore"))
        return frame[~bad], reasons


def dedupe_in_file(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Collapse rows of one property (cascade MAK -> APN+state -> addr_hash); see module doc."""
    df = frame.sort_values("row_number").reset_index(drop=True)
    group = np.arange(len(df))
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
        clash = (~ok) & first_g.ne(sub["_g"])
        for idx in sub.index[clash.to_numpy()]:
            conflicts.append({"row_number": int(df.at[idx, "row_number"]), "key": key_name,
                              "value": str(key_tuple[idx]), "reason": "same " + key_name + " as another row "
                              "whose " + "/".join(guard_cols) + " differs"})
            for c in key_cols:
                if c != "property_state":
                    df.at[idx, c] = pd.NA
        joined = (ok & first_g.ne(sub["_g"])).to_numpy()
        if joined.any():
            # Union: every member of a joined group follows it to the key's representative group.
            lookup = np.arange(len(df))
            lookup[sub["_g"].to_numpy()[joined]] = first_g.to_numpy()[joined]
            lookup = lookup[lookup]  # one level of chaining is enough: targets are group minima
            group = lookup[group]

    collapse(["mak"], [], "mak")
    collapse(["apn", "property_state"], ["mak"], "apn")
    collapse(["addr_hash"], ["mak", "apn"], "addr_hash")

    df["_g"] = group
    sizes = df.groupby("_g")["row_number"].transform("size")
    single = df[sizes.eq(1)].copy()
    single["duplicate_rows"] = 0
    multi = df[sizes.gt(1)]
    if multi.empty:
        return single.drop(columns="_g")[VALIDATED_COLUMNS], conflicts
    # Later rows override earlier scalars when they have a value (NULL never erases);
    # booleans OR, codes unioned, payloads merged.
    gb = multi.groupby("_g", sort=False)
    scalar = [c for c in VALIDATED_COLUMNS if c not in (
        "row_number", "email_verified", "phone_verified", "email_verification_codes",
        "phone_verification_codes", "melissa_payload", "duplicate_rows", "email", "phone")]
    merged = gb[scalar].last()
    merged["row_number"] = gb["row_number"].min()
    merged["email_verified"] = gb["email_verified"].any()
    merged["phone_verified"] = gb["phone_verified"].any()
    # A verified channel beats an unverified one; among equals the later row wins.
    for ch in ("email", "phone"):
        ranked = multi.assign(_v=multi[f"{ch}_verified"].astype(int))[["_g", ch, "_v", "row_number"]]
        ranked = ranked[ranked[ch].notna()].sort_values(["_g", "_v", "row_number"])
        merged[ch] = ranked.groupby("_g")[ch].last()
    for col in ("email_verification_codes", "phone_verification_codes"):
        codes = multi[["_g", col]].explode(col).dropna().drop_duplicates().sort_values(["_g", col])
        gids, starts = np.unique(codes["_g"].to_numpy(), return_index=True)
        lists = [list(x) for x in np.split(codes[col].to_numpy(dtype=object), starts[1:])] if len(gids) else []
        by_group = dict(zip(gids.tolist(), lists))
        merged[col] = [by_group.get(g, []) for g in merged.index]
    # jsonb || over the group's payloads: the latest non-empty payload, keeping a litigator flag
    # that an earlier row carried.
    pay = multi[["_g", "melissa_payload", "row_number"]]
    nonempty = pay[pay["melissa_payload"].ne("{}")].sort_values("row_number")
    last = nonempty.groupby("_g")["melissa_payload"].last().reindex(merged.index).fillna("{}")
    lit_any = pay.assign(_l=pay["melissa_payload"].str.contains('"litigator":true', regex=False)) \
        .groupby("_g")["_l"].any().reindex(merged.index).fillna(False)
    needs = lit_any & ~last.str.contains('"litigator":true', regex=False)
    last = last.where(~needs, last.str.slice(0, -1) + ',"litigator":true}')
    merged["melissa_payload"] = last.str.replace('{,"litigator"', '{"litigator"', regex=False)
    # Litigator anywhere in the group: the person is never called, whatever another row says.
    merged.loc[lit_any.to_numpy(), "phone"] = pd.NA
    merged.loc[lit_any.to_numpy(), "phone_verified"] = False
    merged["duplicate_rows"] = gb["row_number"].size() - 1
    out = pd.concat([single.drop(columns="_g"), merged.reset_index(drop=True)], ignore_index=True)
    return out[VALIDATED_COLUMNS].sort_values("row_number").reset_index(drop=True), conflicts


def validate(staged: pd.DataFrame, code_map: CodeMap, *, chunk_rows: int = 200_000) -> ValidationResult:
    counts: Counter = Counter()
    unknown: Counter = Counter()
    # Normalise in slices: the same result, a fraction of the intermediate memory.
    frame = pd.concat([normalise(staged.iloc[i:i + chunk_rows], code_map, unknown, counts)
                       for i in range(0, len(staged), chunk_rows)])
    good, reasons = split_rejects(frame)
    raw_by_row = staged.set_index("row_number")
    rejects = []
    for rn, why in sorted(reasons.items()):
        src = raw_by_row.loc[rn]
        rejects.append({"row_number": rn, "reasons": why,
                        "row": {k: (None if pd.isna(v) else str(v)) for k, v in src.items()
                                if k != "raw" and not pd.isna(v)}})
    deduped, conflicts = dedupe_in_file(good)
    counts.update({
        "rows": len(staged), "valid": len(good), "rejected": len(rejects),
        "in_file_duplicates": int(len(good) - len(deduped)), "unique": len(deduped),
        "in_file_conflicts": len(conflicts),
        "unknown_codes": int(sum(unknown.values())),
        "phone_verified": int(deduped["phone_verified"].sum()),
        "email_verified": int(deduped["email_verified"].sum()),
    })
    return ValidationResult(valid=deduped, rejects=rejects, counts=dict(counts), unknown_codes=unknown,
                            conflicts=conflicts)
