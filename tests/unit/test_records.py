"""RecordFilter over seeded random files: the vectorised fast path and the careful line walk agree,
chunking never changes a result, well-formed files pass through intact, and every malformed
record's line number points at its text."""

from __future__ import annotations

import csv
import io
import random

import pytest

from orchestration.ingest.records import HeaderRejected, RecordFilter

SEEDS = range(150)


def well_formed(rng: random.Random, ncols: int) -> tuple[list[list[str]], str]:
    """Random rows written by the csv module (quotes, doubled quotes, commas, line breaks inside
    values), with a random line terminator."""
    pieces = ["a", "Bob", "12 Main St", "x,y", 'say "hi"', "line\nbreak", "two\r\nlines", "", " ", "é", "👵"]
    rows = [[rng.choice(pieces) + str(rng.randint(0, 9)) * rng.randint(0, 1) for _ in range(ncols)]
            for _ in range(rng.randint(1, 40))]
    buf = io.StringIO()
    csv.writer(buf, lineterminator=rng.choice(["\n", "\r\n"])).writerows([[f"c{i}" for i in range(ncols)], *rows])
    return rows, buf.getvalue()


def hostile(rng: random.Random) -> bytes:
    """Physical lines mixing good records, stray quotes, wrong field counts, NULs, long lines."""
    lines = ["h1,h2,h3"]
    for _ in range(rng.randint(1, 60)):
        roll = rng.random()
        if roll < 0.5:
            lines.append(f"{rng.randint(0, 99)},b,c")
        elif roll < 0.6:
            lines.append('"open,b,c')
        elif roll < 0.7:
            lines.append('a,"multi\nline",c')
        elif roll < 0.8:
            lines.append("only,two")
        elif roll < 0.85:
            lines.append("a,b\x00,c")
        elif roll < 0.9:
            lines.append("a," + "L" * rng.randint(100, 400) + ",c")
        elif roll < 0.93:
            lines.append('a,5\'10",c')
        elif roll < 0.95:
            lines.append('a,"opens\n' + "W" * rng.randint(250, 400) + '",c')   # a long line inside quotes
        else:
            lines.append("")
    ends = rng.choice([["\n"], ["\r\n"], ["\r"], ["\n", "\r", "\r\n"]])
    return "".join(line + rng.choice(ends) for line in lines).encode()


def run(data: bytes, chunks: list[int] | None = None, *, careful: bool = False, **kw) -> tuple:
    f = RecordFilter(max_bytes=kw.pop("max_bytes", 300), max_lines=kw.pop("max_lines", 3))
    if careful:
        f._clean = lambda chunk: False
    out, i = b"", 0
    for size in chunks or [len(data) or 1]:
        out += f.feed(data[i:i + size])
        i += size
    out += f.feed(data[i:]) + f.close()
    return f.header, out, f.malformed, f.records


def random_chunks(rng: random.Random, n: int) -> list[int]:
    out = []
    while sum(out) < n:
        out.append(rng.choice([1, 2, 3, 7, 64, 1000]))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_chunking_and_path_never_change_the_result(seed):
    rng = random.Random(seed)
    data = hostile(rng)
    whole = run(data)
    assert run(data, random_chunks(rng, len(data))) == whole
    assert run(data, careful=True) == whole
    assert run(data, random_chunks(rng, len(data)), careful=True) == whole


@pytest.mark.parametrize("seed", SEEDS)
def test_well_formed_files_pass_through_intact(seed):
    rng = random.Random(seed)
    ncols = rng.randint(1, 6)
    rows, text = well_formed(rng, ncols)
    header, out, malformed, records = run(text.encode(), random_chunks(rng, len(text)), max_bytes=10_000,
                                          max_lines=10)
    assert header == [f"c{i}" for i in range(ncols)] and malformed == []
    parsed = list(csv.reader(io.StringIO(out.decode())))
    expected = [[c.replace("\r\n", "\n") for c in row] for row in rows]
    assert [r for r in parsed if r] == expected and records == len(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_malformed_line_numbers_point_at_their_text(seed):
    rng = random.Random(seed)
    data = hostile(rng)
    _, out, malformed, records = run(data)
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").decode().split("\n")
    for m in malformed:
        assert lines[m.line - 1].replace("\x00", "\\0")[:500] == m.text, (m, lines[m.line - 1][:60])
    # Every physical line after the header is passed on or set aside as one malformed record:
    # nothing is dropped silently, nothing is counted twice.
    norm = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    physical = norm.count(b"\n") + (0 if norm.endswith(b"\n") else 1)
    assert out.count(b"\n") + len(malformed) == physical - 1


def test_an_unbalanced_quote_costs_one_line():
    data = b"a,b,c\n1,2,3\n\"4,5,6\n7,8,9\n10,11,12\n13,14,15\n"
    header, out, malformed, records = run(data)
    assert out == b"1,2,3\n7,8,9\n10,11,12\n13,14,15\n" and records == 4
    assert [(m.line, m.text) for m in malformed] == [(3, '"4,5,6')]


def test_the_last_record_may_lack_a_line_end_and_may_be_malformed():
    assert run(b"a,b\n1,2")[1:] == (b"1,2\n", [], 1)
    _, out, malformed, _ = run(b'a,b\n1,2\n"3,4')
    assert out == b"1,2\n" and [m.line for m in malformed] == [3]


def test_header_problems_refuse_the_file():
    with pytest.raises(HeaderRejected, match="header cell 2 is 1,001 characters long"):
        run(b"a," + b"h" * 1001 + b"\n1,2\n", max_bytes=10_000)
    with pytest.raises(HeaderRejected, match="unbalanced quote"):
        run(b'"a,b\n1,2\n3,4\n5,6\n7,8\n')
    with pytest.raises(HeaderRejected, match="empty"):
        run(b" , \n1,2\n")


def test_a_quoted_field_running_into_an_overlong_line_is_bounded_in_any_chunking():
    data = b'a,b\n1,2\n3,"x\n' + b"Z" * 5000 + b'",4\n5,6\n'
    results = [run(data, [size] * (len(data) // size + 1), max_bytes=1000)[1:] for size in (7, 100, len(data))]
    assert results[0] == results[1] == results[2]
    out, malformed, records = results[0]
    assert out == b"1,2\n5,6\n" and records == 2 and [m.line for m in malformed] == [3, 4]
