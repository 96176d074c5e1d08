"""Reading an uploaded CSV into canonical staging columns (pyarrow, all text, nothing inferred).

- Encoding: UTF-8 (with or without BOM), else Windows-1252 (Excel's default); bytes that neither
  can decode fail the file naming the offset.
- Every cell stays text: ZIPs keep their zeros, ``=cmd|...`` stays an inert string.
- Quoted newlines are values, not row breaks.
- A row with the wrong number of fields is not fatal: it is set aside as a reject with its line
  text (cut to 500 characters) and the file goes on.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from orchestration.ingest import profiles


class FileRejected(ValueError):
    """The whole file cannot be ingested; the message says why and what to do."""


@dataclass
class ParsedUpload:
    frame: pd.DataFrame                 # row_number, canonical columns (text), raw (json text)
    encoding: str
    mapping: dict[str, str]
    extra_columns: list[str]
    bad_rows: list[dict] = field(default_factory=list)


def decode(data: bytes) -> tuple[bytes, str]:
    """Return UTF-8 bytes (BOM removed) and the encoding the file was in."""
    if not data.strip():
        raise FileRejected("the file is empty")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if _is_utf8(data):
        return data, "utf-8"
    try:
        return data.decode("cp1252").encode("utf-8"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise FileRejected(
            f"the file is neither UTF-8 nor Windows-1252 (undecodable byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start}): export it again as CSV UTF-8") from None


def _is_utf8(data: bytes, chunk: int = 1 << 24) -> bool:
    """Validate UTF-8 in slices, so a large file is never held twice (bytes and str)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), chunk):
            decoder.decode(view[start:start + chunk], final=start + chunk >= len(view))
        return True
    except UnicodeDecodeError:
        return False


def _header(data: bytes) -> list[str]:
    first = data[: 1 << 20].decode("utf-8", errors="replace")
    try:
        row = next(csv.reader(io.StringIO(first)))
    except StopIteration:
        raise FileRejected("the file has no header row") from None
    names = [c.strip() for c in row]
    if not any(names):
        raise FileRejected("the header row is empty")
    return names


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = n or "unnamed"
        if n in seen:
            seen[n] += 1
            out.append(f"{n}__{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    return out


def read_upload(data: bytes, profile_name: str) -> ParsedUpload:
    utf8, encoding = decode(data)
    headers = _unique(_header(utf8))
    try:
        mapping, extra = profiles.map_headers(profile_name, headers)
    except profiles.MissingColumns as exc:
        raise FileRejected(str(exc)) from None

    bad_rows: list[dict] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append({
            "line": row.number,
            "reason": f"row has {row.actual_columns} fields, the header has {row.expected_columns}",
            "text": (row.text or "")[:500],
        })
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(utf8),
            read_options=pacsv.ReadOptions(column_names=headers, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in headers},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise FileRejected(f"the file is not readable as CSV: {str(exc)[:300]}") from None

    if table.num_rows == 0:
        if bad_rows:
            raise FileRejected(f"no readable data rows: {bad_rows[0]['reason']}")
        raise FileRejected("the file has a header but no data rows")

    data_frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    del table
    frame = pd.DataFrame(index=data_frame.index)
    frame["row_number"] = pd.RangeIndex(1, len(data_frame) + 1)
    for canon in profiles.CANONICAL_FIELDS:
        if canon in mapping:
            col = data_frame[mapping[canon]].astype("string").str.strip()
            frame[canon] = col.where(col.ne(""))
        else:
            frame[canon] = pd.Series(pd.NA, index=data_frame.index, dtype="string")
    if extra:
        frame["raw"] = data_frame[extra].astype("string").to_json(
            orient="records", lines=True, force_ascii=False).splitlines()
    else:
        frame["raw"] = "{}"
    return ParsedUpload(frame=frame, encoding=encoding, mapping=mapping, extra_columns=extra,
                        bad_rows=bad_rows)
