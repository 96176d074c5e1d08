"""A seeded generator of hostile and messy upload files, one class per way real files go wrong.

Every case knows its *good* rows by a unique e-mail each, and what the pipeline must make of the
file as a whole:

- ``"a"``    ingested: every good row's e-mail is in ``leads`` and the records add up;
- ``"b"``    refused as a whole: an ``upload_failed`` event and a DLQ row, the run failed with the
             pipeline's one-line reason;
- ``"door"`` refused at the signed door (4xx): an ``upload_refused`` event and a DLQ row;
- ``"any"``  either "a" or "b" (the file is hostile enough that refusing it is also right), but
             never anything else.

Rows are built so that good rows never merge with each other (distinct streets, no MAK or APN):
each good row must come out as its own lead.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

HEADER = ["address", "city", "state", "zip", "first_name", "last_name", "email", "phone"]
EMAIL = HEADER.index("email")


@dataclass
class Case:
    name: str
    body: bytes
    expect: str
    good: list[str] = field(default_factory=list)      # e-mails that must be in leads (state a)
    records: int | None = None                          # data records in the file, when known
    malformed: int | None = None                        # malformed records expected, when known


def good_row(tag: str, i: int) -> list[str]:
    return [f"{i + 1} {tag.upper()}R{i} Oak St", "Springfield", "IL", "62704", f"Ann{i}", f"Lee{tag}",
            f"{tag}.r{i}@example.com", f"(217) 555-{i % 100:04d}"]


def to_csv(rows: list[list[str]], *, header: list[str] = HEADER, newline: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def rows_of(tag: str, n: int) -> list[list[str]]:
    return [good_row(tag, i) for i in range(n)]


def emails(rows: list[list[str]]) -> list[str]:
    return [r[EMAIL] for r in rows]


# -- the classes -------------------------------------------------------------------------------
Gen = Callable[[random.Random, str], Case]
CLASSES: dict[str, tuple[int, Gen]] = {}


def cls(variants: int):
    def register(fn: Gen) -> Gen:
        CLASSES[fn.__name__] = (variants, fn)
        return fn
    return register


@cls(14)
def unbalanced_quote(rng, tag):
    n = rng.randint(8, 30)
    rows = rows_of(tag, n)
    bad = rng.randrange(n)
    col = rng.choice([0, 1, 4, 5, 7])        # a quote opening any cell but the e-mail
    lines = to_csv(rows).splitlines(keepends=True)
    cells = lines[bad + 1].rstrip("\n").split(",")
    cells[col] = '"' + cells[col]
    lines[bad + 1] = ",".join(cells) + "\n"
    good = emails(rows[:bad] + rows[bad + 1:])
    return Case("unbalanced_quote", "".join(lines).encode(), "a", good, records=n, malformed=1)


@cls(10)
def nul_byte(rng, tag):
    rows = rows_of(tag, rng.randint(5, 120))
    body = bytearray(to_csv(rows).encode())
    at = rng.randrange(len(HEADER), len(body))
    body[at:at] = b"\x00" * rng.randint(1, 3)
    return Case("nul_byte", bytes(body), "door")


@cls(10)
def line_ends(rng, tag):
    rows = rows_of(tag, rng.randint(3, 25))
    lines = to_csv(rows).splitlines()
    style = rng.choice(["cr", "mixed"])
    ends = ["\r"] * len(lines) if style == "cr" else [rng.choice(["\r", "\n", "\r\n"]) for _ in lines]
    body = "".join(line + end for line, end in zip(lines, ends))
    if rng.random() < 0.5:
        body = body.rstrip("\r\n")            # no line end after the last record
    return Case("line_ends", body.encode(), "a", emails(rows), records=len(rows), malformed=0)


@cls(3)
def huge_header_cell(rng, tag):
    header = [*HEADER, "x" * rng.randint(131_073, 200_000)]
    rows = [[*r, ""] for r in rows_of(tag, 3)]
    return Case("huge_header_cell", to_csv(rows, header=header).encode(), "b")


NULL_WORDS = ["NULL", "null", "NA", "N/A", "NaN", "nan", "None", "none", "#N/A", "nil"]


@cls(8)
def null_words(rng, tag):
    rows = rows_of(tag, rng.randint(4, 12))
    for r in rows:
        r[5] = rng.choice(NULL_WORDS)
        if rng.random() < 0.3:
            r[4] = rng.choice(NULL_WORDS)
    return Case("null_words", to_csv(rows).encode(), "a", emails(rows), records=len(rows), malformed=0)


SCRIPTS = ["Улица Ленина", "Проспект Мира", "Οδός Αθηνάς", "שדרות רוטשילד", "شارع الملك", "銀座通り",
           "Νέα Σμύρνη", "Улица Пушкина", "강남대로", "ถนนสุขุมวิท"]


@cls(8)
def other_scripts(rng, tag):
    n = rng.randint(2, len(SCRIPTS))
    rows = rows_of(tag, n)
    house = rng.randint(1, 99)
    for r, street in zip(rows, rng.sample(SCRIPTS, n)):
        r[0] = f"{house} {street}"            # one house number, streets only in another script
        r[1] = "Springfield" + tag           # the city keeps them apart from other variants
    return Case("other_scripts", to_csv(rows).encode(), "a", emails(rows), records=n, malformed=0)


@cls(8)
def eight_bit(rng, tag):
    enc = rng.choice(["koi8_r", "cp1251", "cp1252", "latin_1"])
    rows = rows_of(tag, rng.randint(3, 10))
    names = {"koi8_r": ["Иван", "Мария", "Пётр"], "cp1251": ["Ольга", "Дмитрий"],
             "cp1252": ["José", "Zoë", "François"], "latin_1": ["Müller", "Ångström"]}[enc]
    for r in rows:
        r[4] = rng.choice(names)
    return Case(f"eight_bit_{enc}", to_csv(rows).encode(enc), "a", emails(rows), records=len(rows), malformed=0)


@cls(8)
def spreadsheet_numbers(rng, tag):
    rows = rows_of(tag, rng.randint(3, 10))
    for r in rows:
        r[7] = rng.choice(["2175550142.0", "813555014.0", "8.13555E+09", "18135550142.00", "2175550142"])
        r[3] = rng.choice(["62704", "62704.0", "62704-1234"])
    # ZIPs written as floats are not ZIPs: such rows may be rejected; their e-mails are not required.
    good = [r[EMAIL] for r in rows if r[3] != "62704.0"]
    return Case("spreadsheet_numbers", to_csv(rows).encode(), "any", good, records=len(rows), malformed=0)


@cls(2)
def large_field(rng, tag):
    rows = rows_of(tag, rng.randint(5, 15))
    bad = rng.randrange(len(rows))
    rows[bad][4] = "Z" * rng.randint(1_100_000, 1_600_000)
    good = emails(rows[:bad] + rows[bad + 1:])
    return Case("large_field", to_csv(rows).encode(), "a", good, records=len(rows), malformed=1)


@cls(8)
def long_cells(rng, tag):
    rows = rows_of(tag, rng.randint(6, 20))
    bad = rng.randrange(len(rows))
    rows[bad][rng.choice([0, 4, 5])] = "Q" * rng.randint(256, 10_000)
    good = emails(rows[:bad] + rows[bad + 1:])
    return Case("long_cells", to_csv(rows).encode(), "a", good, records=len(rows), malformed=0)


@cls(6)
def header_line_break(rng, tag):
    header = list(HEADER)
    i = rng.choice([0, 4, 5])
    header[i] = header[i][:3] + "\n" + header[i][3:]
    rows = rows_of(tag, rng.randint(3, 10))
    return Case("header_line_break", to_csv(rows, header=header).encode(), "a", emails(rows),
                records=len(rows), malformed=0)


@cls(4)
def empty(rng, tag):
    # Each variant differs (the replay guard would refuse the same bytes twice).
    return Case("empty", rng.choice([b"", b"\n", b"\r\n", b" \t"]) * (int(tag[-1]) + 1), "any")


@cls(4)
def header_only(rng, tag):
    body = ",".join([*HEADER, tag]) + rng.choice(["", "\n", "\r\n", "\n\n\n"])
    return Case("header_only", body.encode(), "b")


BINARY = [b"PK\x03\x04", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\x1f\x8b\x08", b"\xd0\xcf\x11\xe0\xa1\xb1",
          b"GIF89a", b"\xff\xd8\xff\xe0"]


@cls(8)
def binary(rng, tag):
    return Case("binary", rng.choice(BINARY) + tag.encode() + rng.randbytes(rng.randint(10, 2000)), "door")


@cls(6)
def boms(rng, tag):
    rows = rows_of(tag, rng.randint(2, 8))
    text = to_csv(rows)
    kind = rng.choice(["utf8", "utf16le", "utf16be", "utf8"])
    if kind == "utf8":
        return Case("bom_utf8", b"\xef\xbb\xbf" + text.encode(), "a", emails(rows), records=len(rows), malformed=0)
    return Case(f"bom_{kind}", text.encode("utf-16-le" if kind == "utf16le" else "utf-16-be").join(
        [b"\xff\xfe" if kind == "utf16le" else b"\xfe\xff", b""]), "door")


@cls(6)
def mixed_encodings(rng, tag):
    rows = rows_of(tag, rng.randint(4, 12))
    parts = [(",".join(HEADER) + "\n").encode()]
    for r in rows:
        r[4] = rng.choice(["José", "Zoë", "Renée"])
        parts.append((",".join(r) + "\n").encode(rng.choice(["utf-8", "cp1252"])))
    return Case("mixed_encodings", b"".join(parts), "a", emails(rows), records=len(rows), malformed=0)


@cls(8)
def quoted_newlines(rng, tag):
    rows = rows_of(tag, rng.randint(3, 12))
    for r in rng.sample(rows, max(1, len(rows) // 2)):
        col = rng.choice([0, 4, 5])
        r[col] = r[col] + rng.choice(["\n", "\r\n", "\n\n"]) + "more"
    return Case("quoted_newlines", to_csv(rows).encode(), "a", emails(rows), records=len(rows), malformed=0)


@cls(2)
def wide(rng, tag):
    extra = [f"col{i}" for i in range(5000 - len(HEADER))]
    rows = [[*r, *(str(i) for i in range(len(extra)))] for r in rows_of(tag, rng.randint(2, 4))]
    return Case("wide_5000", to_csv(rows, header=HEADER + extra).encode(), "a", emails(rows),
                records=len(rows), malformed=0)


@cls(6)
def odd_headers(rng, tag):
    rows = rows_of(tag, rng.randint(3, 8))
    header = [*HEADER, rng.choice(["email", "Email", "", " ", "address"]), ""]
    rows = [[*r, "x@y.example", ""] for r in rows]
    return Case("odd_headers", to_csv(rows, header=header).encode(), "a", emails(rows), records=len(rows),
                malformed=0)


@cls(4)
def missing_required(rng, tag):
    """No column identifies a property (no street address, MAK or APN): refused whole."""
    drop = {"address", *rng.sample(["city", "state", "zip"], rng.randint(0, 2))}
    keep = [h for h in HEADER if h not in drop]
    rows = [[v for h, v in zip(HEADER, r) if h not in drop] for r in rows_of(tag, 3)]
    return Case("missing_required", to_csv(rows, header=keep).encode(), "b")


@cls(4)
def partial_address_columns(rng, tag):
    """A city, state or ZIP column missing: the ZIP or the city and state still place every row."""
    drop = rng.choice(["city", "state", "zip"])
    keep = [h for h in HEADER if h != drop]
    rows = rows_of(tag, 3)
    body = to_csv([[v for h, v in zip(HEADER, r) if h != drop] for r in rows], header=keep).encode()
    return Case("partial_address_columns", body, "a", good=emails(rows), records=3)


INJECTIONS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1,2)", "=HYPERLINK(\"http://x\")",
              "'; DROP TABLE leads;--", "Robert'); DROP TABLE students;--", "1' OR '1'='1", "$(rm -rf /)",
              "<script>alert(1)</script>", "{{consent_link}}", "%s%s%n", "\\N", "\\."]


@cls(10)
def injections(rng, tag):
    rows = rows_of(tag, rng.randint(3, 10))
    for r in rows:
        for col in rng.sample([0, 4, 5], rng.randint(1, 2)):
            r[col] = (r[col] + " " if col == 0 else "") + rng.choice(INJECTIONS)
    return Case("injections", to_csv(rows).encode(), "a", emails(rows), records=len(rows), malformed=0)


@cls(6)
def money_and_dates(rng, tag):
    header = [*HEADER, "Est. Value", "Est. Equity", "Last Sale Recording Date", "age"]
    rows = [[*r, rng.choice(["$999,999,999,999,999", "-$5", "$0.001", "1e308", "$", "12,34,5"]),
             rng.choice(["-100%", "$1,000,000,000,000", "NaN", ""]),
             rng.choice(["1/1/0001", "99/99/9999", "2/30/2024", "yesterday"]),
             rng.choice(["-1", "250", "65.5", "9" * 30, "sixty"])] for r in rows_of(tag, rng.randint(3, 8))]
    # An age outside 0..120 rejects its row; the rest must arrive.
    good = [r[EMAIL] for r in rows if r[-1] in ("65.5",)]
    return Case("money_and_dates", to_csv(rows, header=header).encode(), "any", good, records=len(rows),
                malformed=0)


@cls(8)
def non_us(rng, tag):
    rows = rows_of(tag, rng.randint(10, 20))
    bad = rng.sample(range(len(rows)), 2)
    foreign = [("10 Downing St", "London", "", "SW1A 2AA"), ("1 Rue de Rivoli", "Paris", "IDF", "75001"),
               ("100 Queen St W", "Toronto", "ON", "M5H 2N2"), ("1 Chome", "Tokyo", "13", "100-0001")]
    for i in bad:
        rows[i][0:4] = list(rng.choice(foreign))
    good = [r[EMAIL] for i, r in enumerate(rows) if i not in bad]
    return Case("non_us", to_csv(rows).encode(), "a", good, records=len(rows), malformed=0)


@cls(10)
def unusual_text(rng, tag):
    rows = rows_of(tag, rng.randint(3, 10))
    odd = ["👵🏽", "\u202eevil", "\u200b", "\x01\x02", "\x0b\x0c", "\u2028", "\x85", "\x1e", "ℌ𝔢𝔩𝔩𝔬", "ﬁ"]
    for r in rows:
        col = rng.choice([0, 4, 5])
        r[col] = r[col] + rng.choice(odd)
    return Case("unusual_text", to_csv(rows).encode(), "a", emails(rows), records=len(rows), malformed=0)


@cls(2)
def one_good_among_bad_records(rng, tag):
    good = rows_of(tag, 1)
    lines = [",".join(HEADER)] + [f"junk,{i}" for i in range(999)]
    lines.insert(rng.randint(1, len(lines)), ",".join(good[0]))
    return Case("1_good_999_malformed", ("\n".join(lines) + "\n").encode(), "a", emails(good),
                records=1000, malformed=999)


@cls(1)
def one_good_among_rejects(rng, tag):
    rows = rows_of(tag, 1000)
    for r in rows[1:]:
        r[0] = ""                               # no street: every row but one is rejected
    return Case("1_good_999_rejected", to_csv(rows).encode(), "b")


@cls(2)
def one_bad_among_good(rng, tag):
    rows = rows_of(tag, 1000)
    lines = to_csv(rows).splitlines(keepends=True)
    at = rng.randint(1, len(lines) - 1)
    lines[at] = '"' + lines[at]
    good = emails(rows[:at - 1] + rows[at:])
    return Case("999_good_1_bad", "".join(lines).encode(), "a", good, records=1000, malformed=1)


@cls(10)
def field_counts(rng, tag):
    rows = rows_of(tag, rng.randint(6, 20))
    out, good, bad = [], [], 0
    for r in rows:
        roll = rng.random()
        if roll < 0.2:
            out.append(r[:rng.randint(1, len(r) - 1)])
            bad += 1
        elif roll < 0.35:
            out.append(r + ["extra"] * rng.randint(1, 3))
            bad += 1
        else:
            out.append(r)
            good.append(r[EMAIL])
    if not good:
        out.append(rows[0])
        good.append(rows[0][EMAIL])
    return Case("field_counts", to_csv(out).encode(), "a", good, records=len(out), malformed=bad)


@cls(4)
def other_delimiters(rng, tag):
    rows = rows_of(tag, 3)
    sep = rng.choice([";", "\t", "|"])
    return Case("other_delimiters", "\n".join(sep.join(r) for r in [HEADER, *rows]).encode(), "b")


@cls(6)
def blank_lines(rng, tag):
    rows = rows_of(tag, rng.randint(3, 10))
    lines = to_csv(rows).splitlines()
    out = []
    for line in lines:
        out.append(line)
        out.extend([""] * rng.randint(0, 2))
    return Case("blank_lines", "\n".join(out).encode(), "a", emails(rows), records=len(rows), malformed=0)


@cls(10)
def stray_quotes(rng, tag):
    """Quotes inside unquoted cells (5'10", a nickname) are text, not field delimiters."""
    rows = rows_of(tag, rng.randint(4, 15))
    lines = to_csv(rows).splitlines(keepends=True)
    for i in rng.sample(range(1, len(lines)), max(1, len(lines) // 3)):
        cells = lines[i].rstrip("\n").split(",")
        cells[5] = cells[5] + rng.choice(['5\'10"', 'x"y', 'ab""c'])
        lines[i] = ",".join(cells) + "\n"
    return Case("stray_quotes", "".join(lines).encode(), "a", emails(rows), records=len(rows), malformed=0)


@cls(6)
def repeated_header(rng, tag):
    """Files glued together: the header comes again mid-file (that row is rejected, nothing else)."""
    rows = rows_of(tag, rng.randint(4, 12))
    lines = to_csv(rows).splitlines(keepends=True)
    lines.insert(rng.randint(2, len(lines)), lines[0])
    return Case("repeated_header", "".join(lines).encode(), "a", emails(rows), records=len(rows) + 1, malformed=0)


@cls(3)
def trailing_delimiter(rng, tag):
    """Every data row ends in a stray comma the header lacks (an Excel quirk): refusing the file or
    reading it are both acceptable, losing rows silently is not."""
    rows = rows_of(tag, rng.randint(3, 8))
    lines = to_csv(rows).splitlines()
    return Case("trailing_delimiter", ("\n".join([lines[0]] + [ln + "," for ln in lines[1:]]) + "\n").encode(),
                "any", emails(rows))


def tag_of(name: str, variant: int) -> str:
    """A short tag unique per class and variant: it goes into every e-mail and street of the case."""
    return "".join(w[:2] for w in name.split("_")) + str(variant)


def generate(seed: int = 20261128) -> Iterator[Case]:
    """Every class, each with its variants, in a fixed order from a fixed seed."""
    for name, (variants, gen) in CLASSES.items():
        for v in range(variants):
            rng = random.Random(f"{seed}:{name}:{v}")
            yield gen(rng, tag_of(name, v))


def by_class(seed: int = 20261128) -> dict[str, list[Case]]:
    out: dict[str, list[Case]] = {}
    for name, (variants, gen) in CLASSES.items():
        out[name] = [gen(random.Random(f"{seed}:{name}:{v}"), tag_of(name, v)) for v in range(variants)]
    return out
