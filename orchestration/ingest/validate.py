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

import json
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


def _channels(df: pd.DataFrame, code_map: CodeMap, unknown: Counter, counts: Counter) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    litigator = norm.yes_no(df["litigator"]).fillna(False).astype(bool).to_numpy()

    phones = [norm.phone_e164(df[s]) for s in PHONE_SLOTS]
    dnc = [norm.yes_no(df[f"{s}_dnc"]).fillna(False).astype(bool) for s in PHONE_SLOTS]
    pver = [_verified(df[f"{s}_code"], "phone", code_map, unknown) for s in PHONE_SLOTS]
    counts["invalid_phones"] = int(sum((df[s].notna() & p.isna()).sum() for s, p in zip(PHONE_SLOTS, phones)))
    p_valid = np.column_stack([p.notna().to_numpy() & ~d.to_numpy() for p, d in zip(phones, dnc)])
    p_valid &= ~litigator[:, None]
    p_idx, p_has_ver = _pick(p_valid, np.column_stack([v.to_numpy() for v in pver]))
    p_mat = np.column_stack([p.astype(object).where(p.notna(), None).to_numpy() for p in phones])
    rows = np.arange(len(df))
    out["phone"] = pd.Series(np.where(p_idx >= 0, p_mat[rows, np.maximum(p_idx, 0)], None),
                             index=df.index, dtype="string")
    out["phone_verified"] = p_has_ver

    emails = [norm.email(df[s]) for s in EMAIL_SLOTS]
    ever = [_verified(df[f"{s}_code"], "email", code_map, unknown) for s in EMAIL_SLOTS]
    counts["invalid_emails"] = int(sum((df[s].notna() & e.isna()).sum() for s, e in zip(EMAIL_SLOTS, emails)))
    e_valid = np.column_stack([e.notna().to_numpy() for e in emails])
    e_idx, e_has_ver = _pick(e_valid, np.column_stack([v.to_numpy() for v in ever]))
    e_mat = np.column_stack([e.astype(object).where(e.notna(), None).to_numpy() for e in emails])
    out["email"] = pd.Series(np.where(e_idx >= 0, e_mat[rows, np.maximum(e_idx, 0)], None),
                             index=df.index, dtype="string")
    out["email_verified"] = e_has_ver

    # Verification codes of the chosen channel, and the full skip-trace picture as JSON.
    p_codes = np.column_stack([df[f"{s}_code"].astype(object).where(df[f"{s}_code"].notna(), None).to_numpy()
                               for s in PHONE_SLOTS])
    e_codes = np.column_stack([df[f"{s}_code"].astype(object).where(df[f"{s}_code"].notna(), None).to_numpy()
                               for s in EMAIL_SLOTS])
    chosen_p = np.where(p_idx >= 0, p_codes[rows, np.maximum(p_idx, 0)], None)
    chosen_e = np.where(e_idx >= 0, e_codes[rows, np.maximum(e_idx, 0)], None)
    out["phone_verification_codes"] = [[c.strip().lower()] if c else [] for c in chosen_p]
    out["email_verification_codes"] = [[c.strip().lower()] if c else [] for c in chosen_e]

    p_types = np.column_stack([df[f"{s}_type"].astype(object).where(df[f"{s}_type"].notna(), None).to_numpy()
                               for s in PHONE_SLOTS])
    d_mat = np.column_stack([d.to_numpy() for d in dnc])
    has_channels = (p_mat != None).any(axis=1) | (e_mat != None).any(axis=1) | litigator  # noqa: E711
    payloads = []
    for i in range(len(df)):
        if not has_channels[i]:
            payloads.append("{}")
            continue
        ph = [{"number": p_mat[i, j], "code": p_codes[i, j], "type": p_types[i, j], "dnc": bool(d_mat[i, j])}
              for j in range(len(PHONE_SLOTS)) if p_mat[i, j] is not None]
        em = [{"address": e_mat[i, j], "code": e_codes[i, j]}
              for j in range(len(EMAIL_SLOTS)) if e_mat[i, j] is not None]
        payload: dict[str, object] = {"phones": ph, "emails": em}
        if litigator[i]:
            payload["litigator"] = True
        payloads.append(json.dumps(payload, separators=(",", ":")))
    out["melissa_payload"] = payloads
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
    counts["unparsed_money"] = int(((df["property_value"].notna() & out["property_value"].isna())
                                    | (df["estimated_equity"].notna() & out["estimated_equity"].isna())).sum())
    return pd.concat([out, _channels(df, code_map, unknown, counts)], axis=1)


def split_rejects(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Run the pandera model lazily; return valid rows and {row_number: [reasons]}."""
    try:
        NormalisedLead.validate(frame, lazy=True)
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


def _union(series: pd.Series) -> list[str]:
    return sorted({c for codes in series for c in codes})


def _merge_payload(series: pd.Series) -> str:
    merged: dict = {}
    for text in series:
        merged.update(json.loads(text))  # jsonb || semantics: later keys win
    return json.dumps(merged, separators=(",", ":"))


def dedupe_in_file(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Collapse rows of one property (cascade MAK -> APN+state -> addr_hash); see module doc."""
    df = frame.sort_values("row_number").reset_index(drop=True)
    group = pd.Series(np.arange(len(df)), index=df.index)
    conflicts: list[dict] = []

    def collapse(key_cols: list[str], guard_cols: list[str], key_name: str) -> None:
        nonlocal group
        keyed = df[key_cols].notna().all(axis=1)
        if not keyed.any():
            return
        reps = group[keyed]
        sub = df.loc[keyed, key_cols + guard_cols].assign(_g=reps)
        # Representative per key = lowest group id; a row may join it unless a guard key differs.
        key_tuple = sub[key_cols].astype(str).agg("\x1f".join, axis=1) if len(key_cols) > 1 else sub[key_cols[0]]
        first_g = sub.groupby(key_tuple)["_g"].transform("min")
        ok = pd.Series(True, index=sub.index)
        for g in guard_cols:
            lead_val = sub.groupby(key_tuple)[g].transform("first")  # first non-null
            ok &= ~(sub[g].notna() & lead_val.notna() & sub[g].ne(lead_val)).fillna(False)
        # Rows whose guard differs keep their own group and give up the clashing key.
        clash = (~ok) & first_g.ne(sub["_g"])
        for idx in sub.index[clash]:
            conflicts.append({"row_number": int(df.at[idx, "row_number"]), "key": key_name,
                              "value": str(key_tuple[idx]), "reason": "same " + key_name + " as another row "
                              "whose " + "/".join(guard_cols) + " differs"})
            for c in key_cols:
                if c != "property_state":
                    df.at[idx, c] = pd.NA
        joined = ok & first_g.ne(sub["_g"])
        remap = dict(zip(sub.loc[joined, "_g"], first_g[joined]))
        if remap:
            group = group.replace(remap)

    collapse(["mak"], [], "mak")
    collapse(["apn", "property_state"], ["mak"], "apn")
    collapse(["addr_hash"], ["mak", "apn"], "addr_hash")

    df["_g"] = group.to_numpy()
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
    merged["email_verification_codes"] = gb["email_verification_codes"].agg(_union)
    merged["phone_verification_codes"] = gb["phone_verification_codes"].agg(_union)
    merged["melissa_payload"] = gb["melissa_payload"].agg(_merge_payload)
    merged["duplicate_rows"] = gb["row_number"].size() - 1
    out = pd.concat([single.drop(columns="_g"), merged.reset_index(drop=True)], ignore_index=True)
    return out[VALIDATED_COLUMNS].sort_values("row_number").reset_index(drop=True), conflicts


def validate(staged: pd.DataFrame, code_map: CodeMap) -> ValidationResult:
    counts: Counter = Counter()
    unknown: Counter = Counter()
    frame = normalise(staged, code_map, unknown, counts)
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
