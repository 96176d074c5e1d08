"""Splitting an upload's text into CSV records, and resynchronising after a malformed one.

A CSV reader that trusts quotes lets one stray ``"`` swallow every later line into a single
field: one person's lead would then carry the names, addresses and e-mails of the people after
it. ``RecordFilter`` sits between the decoded bytes and the columnar parser and bounds every
record:

- a quoted field may span at most ``max_lines`` physical lines and a record at most ``max_bytes``
  bytes; a record that would run past either bound, has another number of fields than the header,
  or holds a NUL byte is *malformed*: it is set aside with its line number and its raw text (cut
  to ``TEXT_CHARS``), and reading resumes at the **next physical line**, so every good record
  after it is read;
- line ends are normalised (CRLF and CR-only become LF, also when mixed), so old Mac exports read
  like any other file;
- the header is the first record (a quoted header cell may contain a line break) and is returned
  parsed; it is never passed on.

The common case costs a few vectorised passes over each block (quote parity at every line end,
separators outside quotes per record, record lengths): a block in which every record is in bounds
is passed on untouched. Only a block that holds a suspect record is walked line by line with the
``csv`` module, which decides record by record exactly as the columnar parser would (a quote is
special only at the start of a field; ``""`` inside quotes is a literal quote).

The output is UTF-8 text with LF line ends, holding only good records (and empty lines, which
parsers skip and which are not records).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from orchestration import constants

TEXT_CHARS = 500
_HEAD_BYTES = TEXT_CHARS * 4          # enough UTF-8 for TEXT_CHARS characters
_NL, _QUOTE, _COMMA, _NUL = 10, 34, 44, 0
_AROUND = np.array([_COMMA, _NL, _QUOTE], np.uint8)   # what may stand next to a field's quotes


class HeaderRejected(ValueError):
    """The first record cannot serve as a header; the message says why."""


@dataclass(frozen=True)
class Malformed:
    line: int          # physical line (1 = the header's first line) where the record starts
    reason: str        # names the problem, never a value from the record
    text: str          # the line's raw text, cut to TEXT_CHARS characters

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason, "text": self.text}


def _text(raw: bytes) -> str:
    return raw[:_HEAD_BYTES].decode("utf-8", errors="replace").replace("\x00", "\\0")[:TEXT_CHARS]


class RecordFilter:
    """Feed decoded UTF-8 bytes in any chunks; get back the bytes of good records only.

    ``header`` is set once the first record is complete; ``malformed`` lists every record set
    aside; ``records`` counts the good (non-empty) records passed on.
    """

    def __init__(self, *, max_bytes: int = constants.MAX_RECORD_BYTES,
                 max_lines: int = constants.MAX_RECORD_LINES):
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        self.header: list[str] | None = None
        self.malformed: list[Malformed] = []
        self.records = 0
        self._buf = b""            # undecided bytes; they start at a record start
        self._line = 1             # physical line number of the start of _buf
        self._cr = False           # the previous chunk ended in CR (its LF may follow)
        self._skipping: bytes | None = None  # inside an overlong line: its head, kept for the record
        if csv.field_size_limit() < max_bytes + 1:
            csv.field_size_limit(max_bytes + 1)   # a field is bounded by the record, not by csv

    # -- input -------------------------------------------------------------------------------
    def _normalise(self, data: bytes) -> bytes:
        if self._cr and data.startswith(b"\n"):
            data = data[1:]
        self._cr = data.endswith(b"\r")
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data

    def feed(self, data: bytes) -> bytes:
        data = self._normalise(data)
        if self._skipping is not None:
            end = data.find(b"\n")
            self._skipping = (self._skipping + data[:end if end >= 0 else len(data)])[:_HEAD_BYTES]
            if end < 0:
                return b""
            data = data[end + 1:]
            self._end_skip()
        buf = self._buf + data if self._buf else data
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            self._buf = buf
            if len(buf) > self.max_bytes:
                self._too_long_line()
            return b""
        self._buf = buf[cut:]
        out, rest = self._process(buf[:cut], final=False)
        if rest:
            self._buf = rest + self._buf
        if len(self._buf) > self.max_bytes:
            # The undecided record is already past the bound: its first line is set aside now (a
            # quoted field followed by a 50 MB line must not be held until that line ends).
            first = self._buf.find(b"\n")
            if first < 0:
                self._too_long_line()
            else:
                self._set_aside(self._line, self._buf[:first], self._too_long)
                self._line += 1
                self._buf = self._buf[first + 1:]
                out += self.feed(b"")
        return out

    def close(self) -> bytes:
        """The last record (a file need not end with a line break)."""
        if self._skipping is not None:
            self._end_skip()
            return b""
        if not self._buf:
            return b""
        buf, self._buf = self._buf if self._buf.endswith(b"\n") else self._buf + b"\n", b""
        out, _ = self._process(buf, final=True)
        return out

    def _too_long_line(self) -> None:
        """The undecided bytes are one line past the bound: drop the rest of it as it arrives."""
        if self.header is None:
            raise HeaderRejected(f"the header row cannot be read: {self._too_long}")
        self._skipping, self._buf = self._buf[:_HEAD_BYTES], b""

    def _end_skip(self) -> None:
        self._set_aside(self._line, self._skipping, self._too_long)
        self._skipping = None
        self._line += 1

    @property
    def _too_long(self) -> str:
        return f"the record is longer than {self.max_bytes:,} bytes"

    def _set_aside(self, line: int, raw: bytes, reason: str) -> None:
        if self.header is None:
            raise HeaderRejected(f"the header row cannot be read: {reason}")
        self.malformed.append(Malformed(line, reason, _text(raw)))

    # -- deciding ----------------------------------------------------------------------------
    def _process(self, chunk: bytes, *, final: bool) -> tuple[bytes, bytes]:
        """Decide the complete lines of ``chunk`` (it ends with LF and starts at a record start).
        Returns (good bytes, undecided tail: a record that may continue in the next chunk)."""
        if self.header is None:
            pos = 0                                   # empty lines before the header are skipped
            while (end_of_line := chunk.find(b"\n", pos)) >= 0 and not chunk[pos:end_of_line].strip():
                pos = end_of_line + 1
                self._line += 1
            chunk = chunk[pos:]
            if not chunk:
                return b"", b""
            lines = chunk.split(b"\n", self.max_lines)[:-1]   # the header spans max_lines at most
            status, end, fields = self._record(lines, 0, final)
            if status == "more":
                return b"", chunk
            if status != "ok":
                self._set_aside(self._line, lines[0], status)
            self._set_header(fields)
            self._line += end
            chunk = chunk[sum(len(line) + 1 for line in lines[:end]):]
            if not chunk:
                return b"", b""
        if self._clean(chunk):
            return chunk, b""
        return self._walk(chunk.split(b"\n")[:-1], final)

    def _set_header(self, fields: list[str]) -> None:
        names = [f.strip() for f in fields]
        if not any(names):
            raise HeaderRejected("the header row is empty")
        for i, name in enumerate(names, 1):
            if len(name) > constants.MAX_HEADER_CHARS:
                raise HeaderRejected(
                    f"header cell {i} is {len(name):,} characters long (at most "
                    f"{constants.MAX_HEADER_CHARS:,}): the first line is not a header row")
        self.header = names

    def _clean(self, chunk: bytes) -> bool:
        """True when every record of the chunk is in bounds (the vectorised fast path); counts them."""
        if b"\x00" in chunk:
            return False
        buf = np.frombuffer(chunk, np.uint8)
        nl = np.flatnonzero(buf == _NL)
        if b'"' in chunk:
            is_quote = buf == _QUOTE
            # Quote parity is the parser's truth only when every opening quote starts a field and
            # every closing quote ends one (or doubles a quote): a quote inside a word (5'10")
            # is text to the parser, so such a chunk takes the careful path.
            quotes = np.flatnonzero(is_quote)
            opens, closes = quotes[0::2], quotes[1::2]
            before = buf[opens[opens > 0] - 1]
            after = buf[closes[closes < len(buf) - 1] + 1]
            if not (np.isin(before, _AROUND).all() and np.isin(after, _AROUND).all()):
                return False
            inside_at = np.logical_xor.accumulate(is_quote)   # True inside a quoted field
            inside = inside_at[nl]
            commas = np.count_nonzero((buf == _COMMA) & ~inside_at)
        else:
            inside = np.zeros(len(nl), bool)
            commas = chunk.count(b",")
        if inside[-1]:
            return False
        end_at = np.flatnonzero(~inside)
        if (np.diff(end_at, prepend=-1) > self.max_lines).any():
            return False
        ends = nl[end_at]
        lengths = np.diff(ends, prepend=-1) - 1
        if (lengths > self.max_bytes).any():
            return False
        # Separators outside quotes, summed over the chunk: exactly (columns - 1) per record.
        # (A record one field short and another one long would pass here; the parser's own
        # field-count check still sets them aside, without a line number.)
        filled = int(np.count_nonzero(lengths))
        if commas != filled * (len(self.header) - 1):
            return False
        self.records += filled
        self._line += len(nl)
        return True

    def _walk(self, lines: list[bytes], final: bool) -> tuple[bytes, bytes]:
        """The careful path: record by record, setting aside what is malformed."""
        keep: list[bytes] = []
        i = 0
        while i < len(lines):
            if not lines[i]:
                keep.append(b"\n")                    # as the fast path: parsers skip empty lines
                i += 1
                self._line += 1
                continue
            status, end, _ = self._record(lines, i, final)
            if status == "more":
                return b"".join(keep), b"".join(line + b"\n" for line in lines[i:])
            if status == "ok":
                keep.extend(line + b"\n" for line in lines[i:end])
                self.records += 1
                self._line += end - i
                i = end
            else:
                # Only this physical line is set aside: the next line may start a good record.
                self._set_aside(self._line, lines[i], status)
                self._line += 1
                i += 1
        return b"".join(keep), b""

    def _record(self, lines: list[bytes], i: int, final: bool) -> tuple[str, int, list[str]]:
        """The record starting at lines[i]: ("ok", end, fields), ("more", ...) when it may go on
        in the next chunk, or (reason, i + 1, []) when it is malformed."""
        size = 0
        for end in range(i + 1, min(i + self.max_lines, len(lines)) + 1):
            size += len(lines[end - 1]) + 1
            if size > self.max_bytes:
                return self._too_long, i + 1, []
            raw = b"\n".join(lines[i:end])
            fields = _parse(raw)
            if fields is None:
                continue                                   # a quoted field goes on
            if b"\x00" in raw:
                return "the record holds a NUL byte (0x00)", i + 1, []
            if self.header is not None and len(fields) != len(self.header):
                why = f"the record has {len(fields)} fields, the header has {len(self.header)}"
                if end - i > 1:
                    why += (f" (a quote opened on this line closes {end - i - 1} line(s) further on: "
                            "likely an unbalanced quote)")
                return why, i + 1, []
            return "ok", end, fields
        if i + self.max_lines > len(lines) and not final:
            return "more", i, []
        return (f"a quoted field is not closed within {self.max_lines} lines (unbalanced quote); "
                "reading resumed on the next line"), i + 1, []


def _parse(raw: bytes) -> list[str] | None:
    """The fields of one record's text, or None when it ends inside a quoted field. More than one
    record in the text (a quote closed and a line break followed) counts as not one record."""
    text = raw.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return None
        rows = list(csv.reader(io.StringIO(text)))        # lenient, as the columnar parser is
    if len(rows) == 1:
        return rows[0]
    # Several records where one was expected: their fields together (plus one, so the count can
    # never pass for a header-sized record) make the caller set the first line aside.
    return [f for row in rows for f in row] + [""]
