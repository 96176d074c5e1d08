"""Reading an uploaded CSV into canonical staging columns (pyarrow, all text, nothing inferred).

- Encoding: UTF-8 (with or without BOM), else Windows-1252 (Excel's default); bytes that neither
  can decode fail the file naming the offset. UTF-16 is refused with the fix named. A file read
  as Windows-1252 whose accented letters look like another 8-bit code page (KOI8-R, Windows-1251)
  gets a warning in the run's metadata and the ``staged`` event instead of silent gibberish.
- Every cell stays text: ZIPs keep their zeros, ``=cmd|...`` stays an inert string; only an empty
  cell is empty (``NULL``, ``NA`` or ``nan`` are names like any other).
- Quoted newlines are values, not row breaks; CR-only and mixed line ends read like LF.
- A malformed record (wrong number of fields, an unbalanced quote that would swallow later lines,
  a record over the size bound, a NUL byte) is not fatal: ``records.RecordFilter`` sets it aside
  with its line number and its text (cut to 500 characters), and the file goes on from the next
  line.
- The file is read as a stream of ~4 MB blocks (``open_upload``): memory stays flat whatever the
  file's size. One streaming pass over the bytes first settles the encoding.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from orchestration import constants
from orchestration.ingest import profiles
from orchestration.ingest.records import TEXT_CHARS, HeaderRejected, RecordFilter


class FileRejected(ValueError):
    """The whole file cannot be ingested; the message says why and what to do."""


BLOCK_BYTES = 1 << 22
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def detect_encoding(fh: BinaryIO, chunk: int = 1 << 24) -> str:
    """'utf-8' or 'windows-1252' (Excel's default), checked over the whole stream without holding it.

    UTF-16 (Excel's "Unicode Text") is refused with a message naming the fix rather than decoded:
    those exports are tab-separated, and the receiving door refuses a body with NUL bytes anyway.
    """
    fh.seek(0)
    head = fh.read(1 << 16)
    if head.startswith(_UTF16_BOMS):
        raise FileRejected("the file is UTF-16 (Excel 'Unicode Text'): save it as 'CSV UTF-8' instead")
    if not head.strip():
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


# 8-bit code pages whose letters Windows-1252 would turn into Latin gibberish, most common first.
_OTHER_CODE_PAGES = ("cp1251", "koi8_r", "cp1253", "cp1255", "cp1256", "cp874")
_HIGH_WORDS = re.compile(rb"[^\s,;\"'()]*[\x80-\xff][^\s,;\"'()]*")


def _looks_foreign(word: bytes) -> bool:
    """Mostly 8-bit letters: a whole word of another script (José or Ångström have one or two)."""
    letters = sum(1 for b in word if b >= 0x80 or chr(b).isalpha())
    return letters >= 3 and sum(1 for b in word if b >= 0x80) * 10 >= letters * 6


def _reads_well(text: str) -> bool:
    """Letters only, cased like a word (Иван, ИВАН, иван) or uncased (Hebrew, Arabic, Thai)."""
    return text.isalpha() and (text.istitle() or text.islower() or text.isupper()
                               or not any(c.isupper() or c.islower() for c in text))


def other_code_page(fh: BinaryIO, chunk: int = 1 << 24) -> str | None:
    """For a file read as Windows-1252: the 8-bit code page it more likely is, or None.

    Windows-1252 decodes almost any byte, so a KOI8-R or Windows-1251 export is never refused: it
    would be stored as Latin gibberish. Western text has an accented letter here and there inside
    words; another script's words are made of 8-bit bytes throughout. When most 8-bit words are
    like that, the code page under which they read as real words (letters only, cased like a word)
    is named.
    """
    fh.seek(0)
    words: list[bytes] = []
    while len(words) < 2000 and (block := fh.read(chunk)):
        words.extend(_HIGH_WORDS.findall(block)[:2000])
    fh.seek(0)
    foreign = [w for w in words if _looks_foreign(w)]
    if not words or len(foreign) * 2 < len(words):
        return None
    scores = {cp: sum(_reads_well(w.decode(cp, errors="replace")) for w in foreign) for cp in _OTHER_CODE_PAGES}
    best = max(_OTHER_CODE_PAGES, key=lambda cp: scores[cp])   # ties: the more common one
    return best if scores[best] * 2 >= len(foreign) else "another 8-bit code page"


class _Utf8Stream(io.RawIOBase):
    """A binary file as UTF-8 text holding only good CSV records, without BOM or header.

    Windows-1252 is transcoded as it is read; ``records`` (a RecordFilter) bounds every record,
    normalises line ends and sets malformed records aside (see orchestration.ingest.records).
    """

    def __init__(self, fh: BinaryIO, encoding: str, records: RecordFilter):
        self._fh = fh
        self._decoder = codecs.getincrementaldecoder("cp1252")() if encoding == "windows-1252" else None
        self._records = records
        self._pending = b""
        self._done = False
        fh.seek(0)
        if fh.read(3) != _BOM:
            fh.seek(0)

    def readable(self) -> bool:
        return True

    def _more(self, want: int) -> None:
        block = self._fh.read(max(want, 1 << 20))
        if not block:
            self._pending += self._records.close()
            self._done = True
            return
        if self._decoder is not None:
            block = self._decoder.decode(block).encode("utf-8")
        self._pending += self._records.feed(block)

    def header(self) -> list[str]:
        """Read on until the header record is complete."""
        while self._records.header is None and not self._done:
            self._more(1 << 20)
        if self._records.header is None:
            raise FileRejected("the file has no header row")
        return self._records.header

    def exhausted(self) -> bool:
        """True when no record follows (pyarrow refuses an empty stream)."""
        while not self._pending.strip() and not self._done:
            self._more(1 << 20)
        return not self._pending.strip()

    def readinto(self, buffer) -> int:
        want = len(buffer)
        while len(self._pending) < want and not self._done:
            self._more(want)
        out, self._pending = self._pending[:want], self._pending[want:]
        buffer[:len(out)] = out
        return len(out)


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
    bad_rows: list[dict] = field(default_factory=list)   # complete once ``frames`` is exhausted
    rows: int = 0                                         # likewise
    file: BinaryIO | None = None
    warnings: list[str] = field(default_factory=list)    # file-level doubts (a likely code page)

    @property
    def records(self) -> int:
        """Data records found in the file: good rows plus malformed records."""
        return self.rows + len(self.bad_rows)

    def close(self) -> None:
        """Release the file (also done when ``frames`` is exhausted)."""
        if self.file is not None:
            self.file.close()


def open_upload(path: Path | str, profile_name: str, *, block_bytes: int = BLOCK_BYTES,
                max_record_bytes: int = constants.MAX_RECORD_BYTES,
                max_record_lines: int = constants.MAX_RECORD_LINES) -> UploadStream:
    """Check the encoding and the header now (FileRejected names what is wrong), then stream rows.

    ``frames`` yields canonical frames (row_number, the profile's canonical columns, raw JSON of the
    unmapped columns); it raises FileRejected if the file turns out to have no data rows or to be
    unreadable further on. Malformed records land in ``bad_rows`` with their line number.
    """
    fh = open(path, "rb")  # noqa: SIM115 - closed by the frames generator
    # pyarrow fails a whole file on a record larger than its block ("straddling object straddles
    # two block boundaries"): a record must fit in half a block, or it is malformed.
    records = RecordFilter(max_bytes=min(max_record_bytes, block_bytes // 2), max_lines=max_record_lines)
    try:
        encoding = detect_encoding(fh)
        warnings = []
        if encoding == "windows-1252" and (other := other_code_page(fh)):
            warnings.append(f"the file was read as Windows-1252, but its accented letters look like "
                            f"{other}: check names in a few leads, or export it again as CSV UTF-8")
        text = _Utf8Stream(fh, encoding, records)
        headers = _unique(text.header())
        mapping, extra = profiles.map_headers(profile_name, headers)
    except profiles.MissingColumns as exc:
        fh.close()
        raise FileRejected(str(exc)) from None
    except HeaderRejected as exc:
        fh.close()
        raise FileRejected(str(exc)) from None
    except BaseException:
        fh.close()
        raise
    stream = UploadStream(encoding=encoding, mapping=mapping, extra_columns=extra, frames=iter(()), file=fh,
                          warnings=warnings)
    stream.frames = _frames(fh, text, records, headers, mapping, extra, stream, block_bytes)
    return stream


def _frames(fh: BinaryIO, text: _Utf8Stream, records: RecordFilter, headers: list[str],
            mapping: dict[str, str], extra: list[str], stream: UploadStream,
            block_bytes: int) -> Iterator[pd.DataFrame]:
    parser_bad: list[dict] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # The record filter passes only records with the header's field count, so this is the
        # rare record the two parsers split differently; it is kept without a line number.
        parser_bad.append({"reason": f"the record has {row.actual_columns} fields, the header has "
                                     f"{row.expected_columns}", "text": (row.text or "")[:TEXT_CHARS]})
        return "skip"

    with fh:
        try:
            batches = [] if text.exhausted() else pacsv.open_csv(
                text,
                read_options=pacsv.ReadOptions(column_names=headers, block_size=block_bytes),
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
            # Not expected once records are bounded; the message names no value of the file.
            raise FileRejected(f"the file is not readable as CSV ({type(exc).__name__})") from None
    stream.bad_rows = [m.as_dict() for m in records.malformed] + parser_bad
    if stream.rows == 0:
        if stream.bad_rows:
            raise FileRejected(f"no readable data rows ({len(stream.bad_rows):,} malformed records; the first, "
                               f"line {stream.bad_rows[0].get('line', '?')}: {stream.bad_rows[0]['reason']})")
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
        # Split on LF only: JSON escapes it inside values, but not U+2028 or NEL, which
        # str.splitlines() would also break at.
        frame["raw"] = data_frame[extra].astype("string").to_json(
            orient="records", lines=True, force_ascii=False).rstrip("\n").split("\n")
    else:
        frame["raw"] = "{}"
    return frame
