"""Staged text rows -> normalised, validated, in-file-deduplicated leads (pure pandas + pandera).

Rules (each one is tested):
- A row is kept when something identifies its property: a MAK, an APN with its state or county, or
  a street address with its ZIP (or, without a ZIP, its city and state). A whole address in the street
  column is split, and a missing city, state or ZIP is derived where the USPS ZIP table makes it
  unambiguous (``orchestration.identity.places``). A row with keys but no address becomes a lead that
  is not contactable until an address arrives.
- Fatal per row (the row goes to the DLQ with every failed check): nothing identifies the property;
  a state that is not a US state code; a ZIP cell that is not 5 digits (ZIP+4 is fine); a mapped
  cell longer than ``constants.MAX_FIELD_CHARS`` (rejected, never stored truncated).
- Not fatal, counted: an invalid e-mail or phone is dropped (the rest of the lead is kept), an
  unknown verification code counts as not verified, unparseable money/age become NULL.
- Channels: the first phone that is valid, not on the DNC list and verified is the lead's phone
  (else the first valid non-DNC one, unverified); likewise for e-mail. ``Litigator = Yes`` means no
  phone at all. Every channel is kept in ``melissa_payload``.
- In-file dedupe (``orchestration.ingest.grouping``) follows the same cascade as the merge: rows
  sharing a MAK are one property; then
  rows sharing (APN, state, county) unless their MAKs differ; then rows sharing ``addr_hash`` unless their
  MAK or APN differ. The lowest row number represents the group; others are merged into it safely
  (NULL never erases, booleans OR, code lists unioned) by ``publish_validated()`` in SQL (migration
  0010). A key that would clash with another group is not kept on the later row and the conflict
  is reported.

Validation works slice by slice (``validate_slice``) so memory stays flat; only the five key
columns of every valid row are kept to find the in-file groups at the end (``group_in_file``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

from orchestration import constants
from orchestration.identity import email_risk, flags
from orchestration.identity import normalize as norm
from orchestration.identity import places
from orchestration.ingest.profiles import EMAIL_SLOTS, PHONE_SLOTS
from orchestration.ingest.grouping import KEY_COLUMNS, compact_keys, find, group_in_file, union  # noqa: F401
from orchestration.ingest.schemas import NormalisedLead, reason_for
from orchestration.privacy.pii import PREFIX, Sealer
from orchestration.privacy.seal_worker import InlineSealing, SealingWorker, process_peak_rss_mb

Sealing = InlineSealing | SealingWorker

# The columns validation writes, by name, into the _validated_work temp table (shaped like
# leads_validated, with the chosen code of each channel): a new lead column is added here and in
# normalise().
WORK_COLUMNS = [
    "row_number", "first_name", "last_name", "email", "phone", "property_address", "property_city",
    "property_state", "property_zip", "property_value", "estimated_equity", "age", "owner_occupied",
    "email_verified", "phone_verified", "email_code", "phone_code", "melissa_payload", "mak", "apn",
    "addr_hash", "owner_key", "last_sale_date", "property_county", "property_type", "open_mortgage_balance",
    "owner_birth_date", "owner_deceased", "vacant", "probate", "consent_certificate",
]


@dataclass
class SliceResult:
    valid: pd.DataFrame           # WORK_COLUMNS of the rows that passed
    rejects: list[dict] = field(default_factory=list)


CodeMap = dict[tuple[str, str], bool]  # (channel, code lower-case) -> is_verified


@norm.per_distinct
def _code_text(codes: pd.Series) -> pd.Series:
    """Verification codes compare stripped and lower-case."""
    return codes.fillna("").astype("string").str.strip().str.lower()


_SHAPE = str.maketrans({**{c: "a" for c in "abcdefghijklmnopqrstuvwxyz"},
                        **{c: "9" for c in "0123456789"}, " ": "_", "\t": "_"})


def _code_label(code: str) -> str:
    """An unknown code as events and metadata show it: by its shape only, never its text (a code
    column may hold a phone, an e-mail, a name): letters become ``a``, digits ``9``, spaces ``_``
    ('catch-all' -> 'aaaaa-aaa', '(208) 555-0100 jane' -> '(999)_999-9999_aaaa'). The codes
    themselves stay in the upload's staged rows, where an operator adding them to
    verification_code_map looks them up."""
    shape = code.translate(_SHAPE)
    shape = "".join(c if c in "a9_-.,@()+/#:'" else "*" for c in shape)
    return shape if len(shape) <= 40 else f"{shape[:40]}... ({len(code)} characters)"


def _verified(codes: pd.Series, channel: str, code_map: CodeMap, unknown: Counter) -> pd.Series:
    lower = _code_text(codes)
    known = {c: v for (ch, c), v in code_map.items() if ch == channel}
    missing = lower.ne("") & ~lower.isin(list(known))
    for code, n in lower[missing].value_counts().items():
        unknown[f"{channel}:{_code_label(code)}"] += int(n)
    return lower.isin([c for c, ok in known.items() if ok]).astype(bool)


def _pick(valid: np.ndarray, verified: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first valid+verified slot, else first valid; -1 when none. Plus verified flag."""
    ver = valid & verified
    has_ver = ver.any(axis=1)
    has_any = valid.any(axis=1)
    idx = np.where(has_ver, ver.argmax(axis=1), np.where(has_any, valid.argmax(axis=1), -1))
    return idx, has_ver


# JSON text of the skip-trace payload is built with pyarrow kernels over whole columns: a
# million rows of string concatenation through pandas operators cost several seconds more.
def _arrow(s: pd.Series) -> pa_arrow.Array:
    return pa_arrow.array(s.astype("string").array)


def _text(value: str) -> pa_arrow.Scalar:
    return pa_arrow.scalar(value, pa_arrow.large_string())


def _concat(*parts) -> pa_arrow.Array:
    """Element-wise concatenation; NULL when any part is NULL."""
    return pc.binary_join_element_wise(*(_text(p) if isinstance(p, str) else p for p in parts), _text(""))


@norm.per_distinct
def _json_literal(text: pd.Series) -> pd.Series:
    """String literals of JSON ('null' for NA); codes and phone types are computed once each."""
    arr = _arrow(text)
    esc = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
    if pc.any(pc.match_substring_regex(esc, "[\x00-\x1f]")).as_py():
        esc = pc.replace_substring_regex(esc, "[\x00-\x1f]", " ")
    return norm.string_series(pc.fill_null(_concat('"', esc, '"'), _text("null")), text.index)


def _json_text(text: pd.Series) -> pa_arrow.Array:
    return _arrow(_json_literal(text))


def _json_token(tokens: pd.Series) -> pa_arrow.Array:
    """JSON string literals of sealed tokens (or of the plain values when nothing was sealed).
    A token needs no escaping (base64url, dots, hex), so it is quoted as it is."""
    if not tokens.dropna().str.startswith(PREFIX).all():
        return _json_text(tokens)
    return pc.fill_null(_concat('"', _arrow(tokens), '"'), _text("null"))


def _join_nonnull(frags: list[pa_arrow.Array], n: int) -> pa_arrow.Array:
    """Comma-join the non-NULL fragments of each row ('' when none)."""
    acc = pa_arrow.array([""] * n, pa_arrow.large_string())
    for frag in frags:
        joined = pc.if_else(pc.equal(acc, _text("")), frag, _concat(acc, ",", frag))
        acc = pc.if_else(pc.is_valid(frag), joined, acc)
    return acc


class _PendingTokens:
    """The tokens of one channel's values across its slots, being sealed (by ``Sealing.submit``)
    while the rest of the slice is normalised: each distinct value is sent once."""

    def __init__(self, sealing, channel: str, slots: list[pd.Series]):
        self._distinct = pd.unique(np.concatenate([s.dropna().to_numpy(dtype=object) for s in slots]))
        self._future = sealing.submit(channel, self._distinct.tolist())
        self._lookup: tuple[pd.Index, np.ndarray] | None = None

    def tokens(self, values: pd.Series) -> pd.Series:
        """``values`` (one slot) as tokens, NA where the value is NA."""
        if self._lookup is None:       # once per channel, at the first slot that needs it
            table = np.array([*self._future.result(), None], dtype=object)     # index -1 (not found) -> None
            self._lookup = pd.Index(self._distinct, dtype=object), table
        index, table = self._lookup
        where = index.get_indexer(values.to_numpy(dtype=object, na_value=None))
        return pd.Series(table[where], index=values.index, dtype="string")


def _pending(sealing, channel: str, slots: list[pd.Series]) -> _PendingTokens | None:
    return None if sealing is None else _PendingTokens(sealing, channel, slots)


def _sealed(pending: _PendingTokens | None, values: pd.Series) -> pd.Series:
    """The values sealed (orchestration.privacy.pii), or as they are when there is no sealer (the
    pure rules tested on their own)."""
    return values if pending is None else pending.tokens(values)


@dataclass
class _ChannelValues:
    """A slice's phones and e-mails, normalised per slot, with their tokens on the way."""

    p_slots: list[str]
    phones: list[pd.Series]
    e_slots: list[str]
    emails: list[pd.Series]
    phone_tokens: _PendingTokens | None
    email_tokens: _PendingTokens | None


def _channel_values(df: pd.DataFrame, sealing) -> _ChannelValues:
    """Normalise every phone and e-mail slot and send their distinct values to be sealed (first,
    so a sealing worker seals while this thread normalises the rest of the slice)."""
    p_slots = [s for s in PHONE_SLOTS if df[s].notna().any()] or PHONE_SLOTS[:1]
    e_slots = [s for s in EMAIL_SLOTS if df[s].notna().any()] or EMAIL_SLOTS[:1]
    phones = [norm.phone_e164(df[s]) for s in p_slots]
    emails = [norm.email(df[s]) for s in e_slots]
    return _ChannelValues(p_slots, phones, e_slots, emails,
                          _pending(sealing, "phone", phones), _pending(sealing, "email", emails))


def _chosen(slots: list[pd.Series], pick: np.ndarray) -> pd.Series:
    """Each row's value in the slot ``pick`` names (NA where ``pick`` is -1)."""
    mat = np.column_stack([s.to_numpy(dtype=object, na_value=None) for s in slots])
    values = np.where(pick >= 0, mat[np.arange(len(pick)), np.maximum(pick, 0)], None)
    return pd.Series(values, index=slots[0].index, dtype="string")


def _channels(df: pd.DataFrame, code_map: CodeMap, unknown: Counter, counts: Counter,
              values: _ChannelValues) -> pd.DataFrame:
    """Choose each lead's phone and e-mail and keep every channel in melissa_payload (see module doc).
    With a sealer every value is sealed once: the payload quotes the tokens; the chosen e-mail and
    phone stay plain for the checks, their tokens beside them (``email_token``, ``phone_token``)."""
    idx = df.index
    out = pd.DataFrame(index=idx)
    litigator = norm.yes_no(df["litigator"]).fillna(False).astype(bool).to_numpy()
    p_slots, phones, e_slots, emails = values.p_slots, values.phones, values.e_slots, values.emails
    sealed = values.phone_tokens is not None

    dnc = [norm.yes_no(df[f"{s}_dnc"]).fillna(False).astype(bool) for s in p_slots]
    pver = [_verified(df[f"{s}_code"], "phone", code_map, unknown) for s in p_slots]
    counts["invalid_phones"] += int(sum((df[s].notna() & p.isna()).sum() for s, p in zip(p_slots, phones)))
    p_valid = np.column_stack([p.notna().to_numpy() & ~d.to_numpy() for p, d in zip(phones, dnc)])
    p_valid &= ~litigator[:, None]
    p_idx, p_has_ver = _pick(p_valid, np.column_stack([v.to_numpy() for v in pver]))
    out["phone"] = _chosen(phones, p_idx)
    # Every value sealed once: the payload quotes these tokens, and the chosen channel is the
    # chosen slot's token (validate_slice puts it in place once the row has passed its checks).
    p_tokens = [_sealed(values.phone_tokens, p) for p in phones]
    if sealed:
        out["phone_token"] = _chosen(p_tokens, p_idx)
    out["phone_verified"] = p_has_ver

    ever = [_verified(df[f"{s}_code"], "email", code_map, unknown) for s in e_slots]
    counts["invalid_emails"] += int(sum((df[s].notna() & e.isna()).sum() for s, e in zip(e_slots, emails)))
    e_valid = np.column_stack([e.notna().to_numpy() for e in emails])
    e_idx, e_has_ver = _pick(e_valid, np.column_stack([v.to_numpy() for v in ever]))
    out["email"] = _chosen(emails, e_idx)
    e_tokens = [_sealed(values.email_tokens, e) for e in emails]
    if sealed:
        out["email_token"] = _chosen(e_tokens, e_idx)
    out["email_verified"] = e_has_ver

    # Verification code of the chosen channel (lower-case), NA when none.
    def chosen_code(slots: list[str], pick: np.ndarray) -> pd.Series:
        chosen = _chosen([_code_text(df[f"{s}_code"]) for s in slots], pick)
        return chosen.where(chosen.ne(""))

    out["phone_code"] = chosen_code(p_slots, p_idx)
    out["email_code"] = chosen_code(e_slots, e_idx)

    # Every channel, as JSON built column-wise (no per-row Python).
    p_frags = []
    for s, p, d, token in zip(p_slots, phones, dnc, p_tokens):
        number = _arrow(p)
        dnc_text = pa_arrow.array(np.where(d.to_numpy(), "true", "false"), pa_arrow.large_string())
        frag = _concat('{"number":', _json_token(token), ',"code":', _json_text(df[f"{s}_code"]),
                       ',"type":', _json_text(df[f"{s}_type"]), ',"dnc":', dnc_text, "}")
        p_frags.append(pc.if_else(pc.is_valid(number), frag, _text(None)))
    # Each e-mail's risk (role account, disposable domain, a vendor status that could not confirm
    # it) travels beside it in the payload; the contactable view leaves risky chosen ones out.
    risks = [email_risk.classify(e, df[f"{s}_code"]) for s, e in zip(e_slots, emails)]
    chosen_risk = _chosen(risks, e_idx)
    for name, n in chosen_risk.value_counts().items():
        counts[f"email_risk_{name}"] += int(n)
    e_frags = []
    for s, e, token, risk in zip(e_slots, emails, e_tokens, risks):
        address = _arrow(e)
        risk_arr = _arrow(risk)
        risk_text = pc.if_else(pc.is_valid(risk_arr), _concat(',"risk":"', risk_arr, '"'), _text(""))
        frag = _concat('{"address":', _json_token(token), ',"code":', _json_text(df[f"{s}_code"]), risk_text, "}")
        e_frags.append(pc.if_else(pc.is_valid(address), frag, _text(None)))
    pj, ej = _join_nonnull(p_frags, len(df)), _join_nonnull(e_frags, len(df))
    lit = pa_arrow.array(np.where(litigator, ',"litigator":true', ""), pa_arrow.large_string())
    payload = _concat('{"phones":[', pj, '],"emails":[', ej, "]", lit, "}")
    empty = pc.and_(pc.and_(pc.equal(pj, _text("")), pc.equal(ej, _text(""))),
                    pa_arrow.array(~litigator))
    out["melissa_payload"] = norm.string_series(pc.if_else(empty, _text("{}"), payload), idx)
    return out


def normalise(staged: pd.DataFrame, code_map: CodeMap, unknown: Counter, counts: Counter,
              sealer: Sealer | None = None, sealing: Sealing | None = None) -> pd.DataFrame:
    """The slice's rows normalised; with a sealer (or a ``sealing`` of one, which may seal in
    another process) every e-mail and phone is sealed, see ``_channels``."""
    df = staged
    if sealing is None and sealer is not None:
        sealing = InlineSealing(sealer)
    channel_values = _channel_values(df, sealing)
    address, city_in, state_in, zip_in, split, unplaced = places.split_single_lines(
        df["property_address"], df["property_city"], df["property_state"], df["property_zip"])
    counts["single_line_addresses"] += split
    street, unit = norm.street_and_unit(address, df["property_unit"])
    city = norm.city(city_in).replace("", pd.NA)
    state = norm.state(state_in).replace("", pd.NA)
    zip5 = norm.zip5(zip_in)
    zip_given = zip_in.fillna("").astype("string").str.strip().ne("")
    # What the ZIP or the city tells when the other is missing (see orchestration.identity.places).
    from_zip = zip5.notna() & (city.isna() | state.isna())
    if from_zip.any():
        zip_city, zip_state = places.city_state_from_zip(zip5.where(from_zip))
        counts["city_from_zip"] += int((from_zip & city.isna() & zip_city.notna()).sum())
        city, state = city.fillna(zip_city), state.fillna(zip_state)
    to_zip = zip5.isna() & ~zip_given & city.notna() & state.notna()
    if to_zip.any():
        found = places.zip_from_city(city.where(to_zip), state.where(to_zip))
        counts["zip_from_city"] += int(found.notna().sum())
        zip5 = zip5.fillna(found)
    out = pd.DataFrame(index=df.index)
    out["row_number"] = df["row_number"].astype("int64")
    out["first_name"] = norm.name(df["first_name"])
    out["last_name"] = norm.name(df["last_name"])
    out["property_address"] = norm.full_address(street, unit).replace("", pd.NA)
    out["property_city"] = city
    out["property_state"] = state
    out["property_zip"] = zip5
    out["zip_given"] = zip_given
    out["line_unplaced"] = unplaced
    out["property_value"] = norm.money(df["property_value"])
    out["estimated_equity"] = norm.money(df["estimated_equity"])
    age = norm.integer(df["age"])
    out["age"] = age
    out["owner_occupied"] = norm.yes_no(df["owner_occupied"])
    county = norm.county(df["property_county"])
    no_county = county.isna() & zip5.notna()
    if no_county.any():
        county = county.fillna(norm.county(places.county_from_zip(zip5.where(no_county))))
    out["property_county"] = county
    # A parcel row naming its county but not its state: the state, where that county name has one.
    stateless = out["property_state"].isna() & county.notna()
    if stateless.any():
        found = places.state_from_county(county.where(stateless))
        counts["state_from_county"] += int(found.notna().sum())
        out["property_state"] = out["property_state"].fillna(found)
    # What decides whether a reverse mortgage can help (int_lead_eligibility reads them): the
    # property type as the vendor spells it (upper case, spaces collapsed; the model classifies it).
    out["property_type"] = flags.label(df["property_type"])
    out["open_mortgage_balance"] = norm.money(df["open_mortgage_balance"])
    out["owner_birth_date"] = norm.date(df["owner_birth_date"])
    out["owner_deceased"] = flags.flag(df["owner_deceased"], "DECEASED", "DECD", "DEAD")
    out["vacant"] = flags.flag(df["vacant"], "VACANT")
    out["probate"] = flags.flag(df["probate"], "PROBATE", "IN PROBATE")
    out["consent_certificate"] = df["consent_certificate"].astype("string").str.strip().replace("", pd.NA)
    out["owner_key"] = norm.owner_key(df["first_name"], df["last_name"])
    out["last_sale_date"] = norm.date(df["last_sale_date"])
    out["mak"] = norm.mak(df["mak"])
    out["apn"] = norm.apn(df["apn"])
    out["addr_hash"] = norm.addr_hash(out["property_address"], out["property_city"], out["property_state"],
                                      out["property_zip"])
    counts["unparsed_money"] += int(((df["property_value"].notna() & out["property_value"].isna())
                                    | (df["estimated_equity"].notna() & out["estimated_equity"].isna())).sum())
    return pd.concat([out, _channels(df, code_map, unknown, counts, channel_values)], axis=1)


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


def overlong(staged: pd.DataFrame) -> dict[int, list[str]]:
    """{row_number: reasons} for cells longer than constants.MAX_FIELD_CHARS: such a row is rejected
    with the reason, never stored truncated (a 10,000-character 'name' is not a name)."""
    reasons: dict[int, list[str]] = {}
    limit = constants.MAX_FIELD_CHARS
    for col in staged.columns:
        if col in ("row_number", "raw"):
            continue
        longest = pc.max(pc.utf8_length(pa_arrow.array(staged[col].array))).as_py()
        if longest is None or longest <= limit:      # the usual case: one reduction per column
            continue
        long = staged[col].str.len().gt(limit).fillna(False).astype(bool)
        for rn in staged.loc[long, "row_number"].tolist():
            reasons.setdefault(int(rn), []).append(f"{col} is longer than {limit} characters")
    return reasons


def validate_slice(staged: pd.DataFrame, code_map: CodeMap, unknown: Counter, counts: Counter,
                   sealer: Sealer | None = None, sealing: Sealing | None = None) -> SliceResult:
    """Normalise and check one slice of staged rows; rejects carry every failed check and the row.

    With a sealer (the pipeline always gives one) every e-mail and phone of a valid row leaves
    sealed, and a rejected row is quoted as a sealed record with the blind indexes of the e-mails
    and phones it holds (``reject_payload``). ``sealing`` (orchestration.privacy.seal_worker) seals
    the slice's e-mails and phones, in another process while this one normalises the rest; by
    default the sealer seals them here."""
    if sealer is None and sealing is not None:
        sealer = sealing.sealer
    frame = normalise(staged, code_map, unknown, counts, sealer, sealing)
    good, reasons = split_rejects(frame)
    if too_long := overlong(staged):
        for rn, why in too_long.items():
            reasons.setdefault(rn, []).extend(why)
        good = good[~good["row_number"].isin(list(too_long))]
    rejects = []
    if reasons:
        raw_by_row = staged.set_index("row_number")
        for rn, why in sorted(reasons.items()):
            src = raw_by_row.loc[rn]
            row = {k: str(v) for k, v in src.items() if k != "raw" and not pd.isna(v)}
            rejects.append({"row_number": rn, "reasons": why, **reject_payload(sealer, row)})
    counts["rows"] += len(staged)
    counts["valid"] += len(good)
    counts["rejected"] += len(rejects)
    if sealer is not None:
        good = good.assign(email=good["email_token"], phone=good["phone_token"])
    return SliceResult(valid=good[WORK_COLUMNS], rejects=rejects)


def reject_payload(sealer: Sealer | None, row: dict[str, str]) -> dict:
    """How a DLQ item quotes a rejected row: sealed whole (a broken row may hold an e-mail or a
    phone in any column) with the blind indexes of its e-mails and phones, which erasure matches;
    plain only when no sealer is given (the pure rules tested on their own)."""
    if sealer is None:
        return {"row": row}
    text = json.dumps(row, ensure_ascii=False, sort_keys=True)
    return {"record": sealer.seal_record(text), "pii_index": sealer.record_indexes(" ".join(row.values()))}


# Validation slices are sized by the file's bytes, not a fixed row count: a slice's frames (the
# staged text, its normalised columns, the sealed tokens, the JSON payloads) take ~40x its text,
# and three slices are alive at once (one prefetched, one being validated, one being written:
# one slice of queue each way keeps both threads busy). Measured at 100k rows of 200 bytes: one
# 100k-row slice peaked at 1,022 MB, 26k-row slices (5 MB) at ~545 MB, in the same time (smaller slices
# also let the writer's COPY overlap the next slice's validation).
SLICE_BYTES = 3 << 20
SLICE_ROWS_MIN, SLICE_ROWS_MAX = 5_000, 100_000


def slice_rows_for(file_bytes: int, rows: int) -> int:
    """Rows per validation slice for a file of ``file_bytes`` holding ``rows`` rows."""
    per_row = file_bytes / max(rows, 1)
    return int(min(SLICE_ROWS_MAX, max(SLICE_ROWS_MIN, SLICE_BYTES / max(per_row, 1.0))))


# -- in a worker process (orchestration.ingest.overlap.in_processes) ------------------------------

_WORKER: dict = {}


def init_worker(code_map: CodeMap, sealer: Sealer | None) -> None:
    _WORKER.update(codes=code_map, sealer=sealer)


def validate_in_worker(staged: pd.DataFrame) -> tuple[SliceResult, Counter, Counter, float]:
    """validate_slice in a worker: (result, counts, unknown codes, the worker's peak RSS in MB)."""
    counts: Counter = Counter()
    unknown: Counter = Counter()
    result = validate_slice(staged, _WORKER["codes"], unknown, counts, _WORKER["sealer"])
    return result, counts, unknown, peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM), in MB (0 where /proc is missing)."""
    return process_peak_rss_mb("self")
