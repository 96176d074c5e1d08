"""Reading an uploaded CSV into canonical staging columns (pyarrow, all text, nothing inferred).

- Encoding: UTF-8 (with or without BOM), else Windows-1252 (Excel's default); bytes that neither
  can decode fail the file naming the offset.
- Every cell stays text: ZIPs keep their zeros, ``=cmd|...`` stays an inert string.
- Quoted newlines are values, not row breaks.
- A row with the wrong number of fields is not fatal: it is set aside as a reject with its line
  text (cut to 500 characters) and the file goes on.
- The file is read as a stream of ~16 MB blocks (``open_upload``): memory stays flat whatever the
  file's size. One streaming pass over the bytes first settles the encoding.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from orchestration.ingest import profiles


class FileRejected(ValueError):
    """The whole file cannot be ingested; the message says why and what to do."""


BLOCK_BYTES = 1 << 24
_BOM = b"\xef\xbb\xbf"


def detect_encoding(fh: BinaryIO, chunk: int = 1 << 24) -> str:
    """'utf-8' or 'windows-1252' (Excel's default), checked over the whole stream without holding it."""
    fh.seek(0)
    if not fh.read(1 << 16).strip():
        fh.seek(0)
        if not fh.read().strip():
            raise FileRejected("the file is empty")
    for encoding in ("utf-8", "cp1252"):
        fh.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        try:
            while block := fh.read(chunk):
                decoder.decode(block)
                offset += len(block)
            decoder.decode(b"", final=True)
            return "utf-8" if encoding == "utf-8" else "windows-1252"
        except UnicodeDecodeError as exc:
            bad_at, bad_byte = offset + exc.start, exc.object[exc.start]
    raise FileRejected(
        f"the file is neither UTF-8 nor Windows-1252 (undecodable byte 0x{bad_byte:02x} at "
        f"offset {bad_at}): export it again as CSV UTF-8")


class _Utf8Stream(io.RawIOBase):
    """A binary file as UTF-8 bytes without a BOM (Windows-1252 is transcoded as it is read)."""

    def __init__(self, fh: BinaryIO, encoding: str):
        self._fh = fh
        self._decoder = codecs.getincrementaldecoder("cp1252")() if encoding == "windows-1252" else None
        self._pending = b""
        fh.seek(0)
        if fh.read(3) != _BOM:
            fh.seek(0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer)
        while len(self._pending) < want:
            block = self._fh.read(max(want, 1 << 20))
            if not block:
                break
            self._pending += block if self._decoder is None else self._decoder.decode(block).encode("utf-8")
        out, self._pending = self._pending[:want], self._pending[want:]
        buffer[:len(out)] = out
        return len(out)


def _header(stream: io.RawIOBase) -> list[str]:
    first = stream.read(1 << 20).decode("utf-8", errors="replace")
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


@dataclass
class UploadStream:
    """An upload being read: its header facts now, its rows as frames of one block each."""

    encoding: str
    mapping: dict[str, str]
    extra_columns: list[str]
    frames: Iterator[pd.DataFrame]
    bad_rows: list[dict] = field(default_factory=list)   # filled while ``frames`` is consumed
    rows: int = 0                                         # likewise
    file: BinaryIO | None = None

    def close(self) -> None:
        """Release the file (also done when ``frames`` is exhausted)."""
        if self.file is not None:
            self.file.close()


def open_upload(path: Path | str, profile_name: str, *, block_bytes: int = BLOCK_BYTES) -> UploadStream:
    """Check the encoding and the header now (FileRejected names what is wrong), then stream rows.

    ``frames`` yields canonical frames (row_number, the profile's canonical columns, raw JSON of the
    unmapped columns); it raises FileRejected if the file turns out to have no data rows or to be
    unreadable further on.
    """
    fh = open(path, "rb")  # noqa: SIM115 - closed by the frames generator
    try:
        encoding = detect_encoding(fh)
        headers = _unique(_header(_Utf8Stream(fh, encoding)))
        mapping, extra = profiles.map_headers(profile_name, headers)
    except profiles.MissingColumns as exc:
        fh.close()
        raise FileRejected(str(exc)) from None
    except BaseException:
        fh.close()
        raise
    stream = UploadStream(encoding=encoding, mapping=mapping, extra_columns=extra, frames=iter(()), file=fh)
    stream.frames = _frames(fh, encoding, headers, mapping, extra, stream, block_bytes)
    return stream


def _frames(fh: BinaryIO, encoding: str, headers: list[str], mapping: dict[str, str], extra: list[str],
            stream: UploadStream, block_bytes: int) -> Iterator[pd.DataFrame]:
    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad = {"reason": f"row has {row.actual_columns} fields, the header has {row.expected_columns}",
               "text": (row.text or "")[:500]}
        if row.number is not None:
            bad["line"] = row.number
        stream.bad_rows.append(bad)
        return "skip"

    with fh:
        try:
            batches = pacsv.open_csv(
                _Utf8Stream(fh, encoding),
                read_options=pacsv.ReadOptions(column_names=headers, skip_rows=1, block_size=block_bytes),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in headers},
                    strings_can_be_null=False, quoted_strings_can_be_null=False,
                ),
            )
            for batch in batches:
                if batch.num_rows:
                    frame = _canonical(batch, mapping, extra, first_row=stream.rows + 1)
                    stream.rows += len(frame)
                    yield frame
        except pa.ArrowInvalid as exc:
            raise FileRejected(f"the file is not readable as CSV: {str(exc)[:300]}") from None
    if stream.rows == 0:
        if stream.bad_rows:
            raise FileRejected(f"no readable data rows: {stream.bad_rows[0]['reason']}")
        raise FileRejected("the file has a header but no data rows")


def _canonical(batch: pa.RecordBatch, mapping: dict[str, str], extra: list[str], first_row: int) -> pd.DataFrame:
    data_frame = batch.to_pandas(types_mapper=pd.ArrowDtype)
    frame = pd.DataFrame(index=data_frame.index)
    frame["row_number"] = pd.RangeIndex(first_row, first_row + len(data_frame))
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
    return frame
