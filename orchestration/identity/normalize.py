"""Normalisation of lead fields, vectorised over pandas Series.

Every function takes and returns pandas objects so a million rows cost seconds, not minutes. The
libraries named by the production plan stay the source of truth:
- street addresses follow USPS Publication 28 using the abbreviation tables that ship with
  usaddress-scourgify (suffixes, directionals, unit designators). Its parser is ~2k addresses/s per
  core, too slow for million-row files, and it refuses PO boxes and rural routes; the token rules
  here never refuse: every non-empty address has exactly one normal form, so formatting variants
  always hash alike and nothing silently gets a different key;
- phone validity uses the US patterns of phonenumbers' own metadata (the same patterns
  ``phonenumbers.is_valid_number`` applies), evaluated vectorised; output is E.164;
- e-mail syntax: a strict ASCII fast path, and email-validator for everything else.
Tests compare the fast paths to the libraries on tricky samples.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache, wraps

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scourgify import address_constants as usps

# --- addresses ------------------------------------------------------------------------------

_DIRECTIONALS: dict[str, str] = dict(usps.DIRECTIONAL_REPLACEMENTS)
_DIRECTIONALS.update({v: v for v in usps.DIRECTIONAL_REPLACEMENTS.values()})
_SUFFIXES: dict[str, str] = dict(usps.STREET_TYPE_ABBREVIATIONS)
_UNIT_WORDS: dict[str, str] = {k: v for k, v in usps.OCCUPANCY_TYPE_ABBREVIATIONS.items()}
_UNIT_WORDS.update({v: v for v in usps.OCCUPANCY_TYPE_ABBREVIATIONS.values()})
_UNIT_WORDS.update({"NO": "#", "NUM": "#", "NUMBER": "#"})

_PO_BOX = re.compile(r"^(?:P\s*O|POST\s+OFFICE)\s*BOX\b")


def per_distinct(fn):
    """Run a Series -> Series normaliser on the distinct values only, then spread the results.

    Cities, states, ZIPs, names, flags and money cells repeat across a list (a million rows hold a
    few thousand cities); the regex work then costs per distinct value, not per row.
    """
    @wraps(fn)
    def wrapper(text: pd.Series) -> pd.Series:
        codes, uniques = pd.factorize(text, use_na_sentinel=False)
        if len(uniques) * 2 > len(text):
            return fn(text)
        done = fn(pd.Series(uniques, dtype=text.dtype))
        return pd.Series(done.array.take(codes), index=text.index, name=text.name)
    return wrapper


def string_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    """A pyarrow string array as a pandas string Series on ``index`` (positionally, never aligned)."""
    return pd.Series(arr.to_pandas(types_mapper=pd.ArrowDtype).array, index=index).astype("string")


def _ascii_upper(text: pd.Series) -> pd.Series:
    """Upper case with accents folded (PEÑASCO -> PENASCO), as USPS writes addresses."""
    s = text.fillna("").astype("string")
    arr = pa.array(s.to_numpy(dtype=object), type=pa.large_string())
    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return s.str.upper()
    arr = pc.utf8_upper(pc.utf8_normalize(arr, "NFKD"))
    arr = pc.replace_substring_regex(arr, r"\p{M}", "")
    return string_series(arr, text.index)


def _clean(text: pd.Series) -> pd.Series:
    s = _ascii_upper(text)
    s = s.str.replace(r"\b([NS])\. ?([EW])\b\.?", r"\1\2", regex=True)  # S.W. -> SW, not S W
    s = s.str.replace(r"[^A-Z0-9#/\- ]", " ", regex=True)   # keep # (units), / (1/2), - (123-45)
    s = s.str.replace(r" -+|-+ |^-+|-+$", " ", regex=True)
    s = s.str.replace(r"# *", "# ", regex=True)
    return s.str.replace(r" +", " ", regex=True).str.strip()


# Road families written many ways, each to one canonical form (USPS Publication 28, appendix C1
# and the highway forms of section 232): a route word followed by the route's number.
_ROUTES: dict[tuple[str, ...], tuple[str, ...]] = {}
for _canon, _forms in {
    ("COUNTY", "ROAD"): ["CR", "CO RD", "CO ROAD", "COUNTY RD", "COUNTY ROAD", "CNTY RD", "CNTY ROAD",
                         "CTY RD", "CTY ROAD", "COUNTY RT", "COUNTY RTE", "COUNTY ROUTE"],
    ("HIGHWAY",): ["HWY", "HIGHWAY", "HWAY", "HIWAY", "HIGHWY", "SH", "ST HWY", "STATE HWY", "STATE HIGHWAY",
                   "ST HIGHWAY"],
    ("STATE", "ROUTE"): ["SR", "ST RT", "ST RTE", "ST ROUTE", "STATE RT", "STATE RTE", "STATE ROUTE",
                         "STATE RD", "STATE ROAD"],
    ("US", "HIGHWAY"): ["US", "US HWY", "US HIGHWAY", "U S HWY", "U S HIGHWAY", "USHWY", "US RT", "US RTE",
                        "US ROUTE"],
    ("INTERSTATE",): ["I", "IH", "INTERSTATE", "INTERSTATE HWY", "INTERSTATE HIGHWAY"],
    ("RANCH", "ROAD"): ["RR", "RANCH RD", "RANCH ROAD"],
    ("FARM", "TO", "MARKET", "ROAD"): ["FM", "FM RD", "FARM TO MARKET", "FARM TO MARKET RD",
                                      "FARM TO MARKET ROAD", "FARM RD"],
}.items():
    for _form in _forms:
        _ROUTES[tuple(_form.split(" "))] = _canon
_ROUTE_LENGTHS = sorted({len(k) for k in _ROUTES}, reverse=True)
_ROUTE_NUMBER = re.compile(r"[0-9]+[A-Z]?|[A-Z]")

# Words in a street *name* written short or long: one form each (the long one, as USPS prints
# names: ST JOHNS RD is SAINT JOHNS RD; the suffix ST stays a suffix).
_NAME_WORDS = {"ST": "SAINT", "STE": "SAINTE", "MT": "MOUNT", "FT": "FORT", "PT": "POINT"}
_MLK = [("MLK",), ("M", "L", "K"), ("M", "L", "KING"), ("MARTIN", "L", "KING"), ("MARTIN", "LUTHER", "KING"),
        ("M", "LUTHER", "KING"), ("ML", "KING")]
_MLK_CANON = ("MARTIN", "LUTHER", "KING")

_UNITS_WORDS = ["", "FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH", "EIGHTH", "NINTH"]
_TEENS_WORDS = ["TENTH", "ELEVENTH", "TWELFTH", "THIRTEENTH", "FOURTEENTH", "FIFTEENTH", "SIXTEENTH",
                "SEVENTEENTH", "EIGHTEENTH", "NINETEENTH"]
_TENS = {"TWENTY": 20, "THIRTY": 30, "FORTY": 40, "FIFTY": 50, "SIXTY": 60, "SEVENTY": 70, "EIGHTY": 80,
         "NINETY": 90}
_TENS_ORDINAL = {"TWENTIETH": 20, "THIRTIETH": 30, "FORTIETH": 40, "FIFTIETH": 50, "SIXTIETH": 60,
                 "SEVENTIETH": 70, "EIGHTIETH": 80, "NINETIETH": 90, "HUNDREDTH": 100}
_ORDINAL_WORDS = {w: i for i, w in enumerate(_UNITS_WORDS) if w}
_ORDINAL_WORDS.update({w: 10 + i for i, w in enumerate(_TEENS_WORDS)})
_ORDINAL_WORDS.update(_TENS_ORDINAL)
_BARE_UNIT = re.compile(r"[0-9]{1,5}[A-Z]?|[A-Z][0-9]{0,4}")


def ordinal(n: int) -> str:
    """18 -> '18TH', 21 -> '21ST', 112 -> '112TH' (the numeric ordinals of Publication 28)."""
    if 10 <= n % 100 <= 20:
        return f"{n}TH"
    return f"{n}{ {1: 'ST', 2: 'ND', 3: 'RD'}.get(n % 10, 'TH')}"


def _ordinals(name: list[str]) -> list[str]:
    """FOURTH -> 4TH, TWENTY FIRST / TWENTY-FIRST -> 21ST, inside a street name."""
    out: list[str] = []
    i = 0
    while i < len(name):
        word = name[i]
        parts = word.split("-")
        if len(parts) == 2 and parts[0] in _TENS and parts[1] in _ORDINAL_WORDS and _ORDINAL_WORDS[parts[1]] < 10:
            out.append(ordinal(_TENS[parts[0]] + _ORDINAL_WORDS[parts[1]]))
        elif (word in _TENS and i + 1 < len(name) and name[i + 1] in _ORDINAL_WORDS
              and _ORDINAL_WORDS[name[i + 1]] < 10):
            out.append(ordinal(_TENS[word] + _ORDINAL_WORDS[name[i + 1]]))
            i += 1
        elif word in _ORDINAL_WORDS:
            out.append(ordinal(_ORDINAL_WORDS[word]))
        else:
            out.append(word)
        i += 1
    return out


def _mlk(name: list[str]) -> list[str]:
    for form in _MLK:
        for i in range(len(name) - len(form) + 1):
            if tuple(name[i:i + len(form)]) == form:
                return [*name[:i], *_MLK_CANON, *name[i + len(form):]]
    return name


def _route(tokens: list[str], at: int) -> list[str] | None:
    """tokens with a road-family form at ``at`` (followed by its number) made canonical, else None."""
    for n in _ROUTE_LENGTHS:
        form = tuple(tokens[at:at + n])
        if len(form) == n and form in _ROUTES and at + n < len(tokens) and _ROUTE_NUMBER.fullmatch(tokens[at + n]):
            return [*tokens[:at], *_ROUTES[form], *tokens[at + n:]]
    return None


@lru_cache(maxsize=1 << 20)
def _street(line: str) -> tuple[str, str]:
    """One cleaned line -> (street part, unit part), each in Publication 28 form.

    After the house number: an optional pre-directional (SW; S W and S.W. alike), the street name,
    an optional suffix (ST, AVE) and post-directional, then the unit. Within the name, ordinals are
    numeric (FOURTH and a bare 4 before a suffix are 4TH), SAINT/MOUNT/FORT are spelled out, MLK is
    MARTIN LUTHER KING, and each road family (CR, CO RD, COUNTY RD; SH, STATE HWY, HWY; SR; US HWY)
    has one form followed by its number. A lone short token after the suffix, or after the suffix
    and a post-directional (``12 OAK DR C``, ``12 OAK DR SW 7``), is a unit without a designator
    (``# C``).
    """
    if not line:
        return "", ""
    line = _PO_BOX.sub("PO BOX", line)
    tokens = line.split(" ")
    unit: list[str] = []
    # The unit starts at the first unit designator after the house number and street name.
    for i in range(2, len(tokens)):
        word = tokens[i]
        if word in _UNIT_WORDS and not line.startswith("PO BOX"):
            designator = _UNIT_WORDS[word]
            rest = tokens[i + 1:]
            if rest and rest[0] in _UNIT_WORDS:  # "APT # 4"
                rest = rest[1:]
            unit = [designator, *rest] if rest else [designator]
            tokens = tokens[:i]
            break
    if len(tokens) >= 3 and not tokens[0].startswith("PO"):
        # S W MAIN ST: a directional written as two letters.
        if len(tokens) >= 5 and tokens[1] in ("N", "S") and tokens[2] in ("E", "W"):
            tokens = [tokens[0], tokens[1] + tokens[2], *tokens[3:]]
        # Pre-directional right after the house number, when a street name follows it.
        start = 1
        if tokens[1] in _DIRECTIONALS and len(tokens) >= 4:
            tokens[1] = _DIRECTIONALS[tokens[1]]
            start = 2
        routed = _route(tokens, start)
        if routed is not None:
            tokens = routed
        elif (not unit and len(tokens) >= 4 and _BARE_UNIT.fullmatch(tokens[-1])
              and tokens[-1] not in _DIRECTIONALS and tokens[-2] in _SUFFIXES and len(tokens) - 2 > start):
            unit = ["#", tokens[-1]]                        # 12 OAK DR C: a unit with no designator
            tokens = tokens[:-1]
        elif (not unit and len(tokens) >= 5 and _BARE_UNIT.fullmatch(tokens[-1])
              and tokens[-1] not in _DIRECTIONALS and tokens[-2] in _DIRECTIONALS
              and tokens[-3] in _SUFFIXES and len(tokens) - 3 > start):
            unit = ["#", tokens[-1]]                        # 12 OAK DR SW 7: after a post-directional
            tokens = tokens[:-1]
        last = len(tokens) - 1
        if tokens[last] in _DIRECTIONALS and last >= 3:       # post-directional
            tokens[last] = _DIRECTIONALS[tokens[last]]
            last -= 1
        has_suffix = tokens[last] in _SUFFIXES and last >= 2 and last > start
        if has_suffix:
            tokens[last] = _SUFFIXES[tokens[last]]
        if routed is None:
            end = last if has_suffix else last + 1
            name = tokens[start:end]
            name = [_NAME_WORDS.get(w, w) if i < len(name) - 1 or has_suffix else w for i, w in enumerate(name)]
            name = _ordinals(_mlk(name))
            if has_suffix and len(name) == 1 and name[0].isdigit():
                name = [ordinal(int(name[0]))]                  # 18 ST -> 18TH ST
            tokens = [*tokens[:start], *name, *tokens[end:]]
    return " ".join(tokens), " ".join(unit)


# A line whose first token is a house number-like token (not a PO box): its normal form is that
# token followed by the normal form of the rest, which repeats across the houses of a street.
_HOUSE_AND_REST = r"^(?P<house>[0-9A-OQ-Z#/\-][^ ]*) (?P<rest>.+)$"


def _street_after_house(rest: str) -> tuple[str, str]:
    """_street of '<house> <rest>' without the house number (any house number gives the same rest)."""
    street, unit = _street("0 " + rest)
    return street[2:], unit


def _map_unique(values: pd.Series, fn) -> tuple[pd.Series, pd.Series]:
    """Apply a (str) -> (str, str) function once per distinct value, then spread the results."""
    codes, uniques = pd.factorize(values)
    pairs = [fn(u) for u in uniques]
    first = pa.array([p[0] for p in pairs], type=pa.large_string()).take(pa.array(codes))
    second = pa.array([p[1] for p in pairs], type=pa.large_string()).take(pa.array(codes))
    return string_series(first, values.index), string_series(second, values.index)


def street_and_unit(address: pd.Series, unit: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """Normalise street lines; a separate unit column (PropStream ``Unit #``) joins the line's unit.

    ``_street`` (one line at a time) is the rule; it runs once per distinct rest-of-line after the
    house number ("MAIN STREET APT 4" for every house on Main Street), which is what makes a million
    addresses cost seconds. It never rewrites the house number, so the split changes no result.
    """
    cleaned = _clean(address)
    parts = pc.extract_regex(pa.array(cleaned.to_numpy(dtype=object, na_value=None), type=pa.large_string()),
                             _HOUSE_AND_REST)
    split = pd.Series(pc.is_valid(parts).to_numpy(zero_copy_only=False), index=address.index)
    house = string_series(pc.struct_field(parts, [0]), address.index)
    rest = string_series(pc.struct_field(parts, [1]), address.index)
    rest_street, rest_unit = _map_unique(rest[split], _street_after_house)
    whole_street, whole_unit = _map_unique(cleaned[~split], _street)
    street = pd.concat([house[split] + " " + rest_street, whole_street]).reindex(address.index)
    line_unit = pd.concat([rest_unit, whole_unit]).reindex(address.index)
    if unit is not None:
        extra = per_distinct(_unit_cell)(unit)
        _, extra_norm = _map_unique(extra, lambda x: ("", _street("0 X " + x)[1] if x else ""))
        line_unit = line_unit.where(line_unit.ne(""), extra_norm)
    return keep_identity(street, address).astype("string"), line_unit.astype("string")


_PLAIN = "#/-.,'"


def _unit_cell(unit: pd.Series) -> pd.Series:
    """A unit column's cells, cleaned; a bare "4B" gets the generic designator ("# 4B")."""
    extra = _clean(unit)
    return extra.where(extra.eq("") | extra.str.split(" ").str[0].isin(list(_UNIT_WORDS)), "# " + extra)


def _verbatim(original: str) -> str:
    return " ".join(original.upper().split())


def keep_identity(normal: pd.Series, original: pd.Series) -> pd.Series:
    """Where normalising left no Latin letter although the original had more than digits and
    punctuation (a Cyrillic or Greek street, a city in another script, symbols), the original
    text — upper-cased, spaces collapsed — stands instead: '12 Улица Ленина' and '12 Проспект Мира'
    must not both become '12' and share one key."""
    suspect = ~normal.fillna("").str.contains(r"[A-Z]", regex=True).astype(bool) & original.notna()
    if not suspect.any():
        return normal
    words = original[suspect].astype(str)
    lost = words.map(lambda v: any(not (c.isdigit() or c.isspace() or c in _PLAIN) for c in v)).astype(bool)
    out = normal.copy()
    out[lost[lost].index] = words[lost].map(_verbatim)
    return out


def full_address(street: pd.Series, unit: pd.Series) -> pd.Series:
    return (street + " " + unit.fillna("")).str.strip()


@per_distinct
def city(text: pd.Series) -> pd.Series:
    return keep_identity(_clean(text), text)


STATES = frozenset(usps.STATE_ABBREVIATIONS.values()) | {"DC", "PR", "GU", "VI", "AS", "MP"}
_STATE_NAMES = {k.upper(): v for k, v in usps.STATE_ABBREVIATIONS.items()}


@per_distinct
def state(text: pd.Series) -> pd.Series:
    s = _clean(text)
    return s.map(_STATE_NAMES).astype("string").fillna(s)


def _extract(text: pd.Series, pattern: str) -> pd.Series:
    """The first group of a full-string match, NA otherwise (pyarrow's RE2: pandas' str.extract
    runs Python's re row by row)."""
    arr = pa.array(text.astype("string").to_numpy(dtype=object, na_value=None), type=pa.large_string())
    found = pc.extract_regex(arr, pattern)
    group = pc.if_else(pc.is_valid(found), pc.struct_field(found, [0]), pa.scalar(None, pa.large_string()))
    return string_series(group, text.index)


@per_distinct
def zip5(text: pd.Series) -> pd.Series:
    """ZIP or ZIP+4 -> five digits; Excel-dropped leading zeros (e.g. 2134) are restored."""
    digits = _extract(text.str.strip(), r"^(?P<zip>[0-9]{3,5})(?:-?[0-9]{4})?(?:\.0)?$")
    return digits.str.zfill(5).astype("string")


# The designators the normaliser writes (APT, STE, #, ...): in a stored address, the first of
# them after the house number and one street word starts the unit.
UNIT_DESIGNATORS = tuple(sorted(set(_UNIT_WORDS.values())))
_KEY_LINE = (r"^(?P<street>[^ ]+ [^ ]+(?: [^ ]+)*?) (?P<des>"
             + "|".join(re.escape(d) for d in UNIT_DESIGNATORS) + r")(?: (?P<id>.+))?$")


def addr_key_line(address: pd.Series) -> pd.Series:
    """A stored address with its unit reduced to ``#<id>``: APT 4B, UNIT 4B and # 4B are one unit
    (``123 MAIN ST APT 4 B`` -> ``123 MAIN ST #4B``; a designator alone, REAR, is its own id)."""
    arr = pa.array(address.astype("string").to_numpy(dtype=object, na_value=None), type=pa.large_string())
    parts = pc.extract_regex(arr, _KEY_LINE)
    given = pc.struct_field(parts, [2])             # "" (not NULL) when the optional group is absent
    unit_id = pc.if_else(pc.equal(given, ""), pc.struct_field(parts, [1]), given)
    unit_id = pc.replace_substring(unit_id, " ", "")
    keyed = pc.binary_join_element_wise(pc.struct_field(parts, [0]), unit_id, pa.scalar(" #", pa.large_string()))
    return string_series(pc.if_else(pc.is_valid(parts), keyed, arr), address.index)


_KEY_LINE_RE = re.compile(_KEY_LINE)


def addr_key_line_one(address: str) -> str:
    """``addr_key_line`` of one address (the same pattern, Python's re)."""
    m = _KEY_LINE_RE.match(address)
    if not m:
        return address
    return f"{m['street']} #{(m['id'] or m['des']).replace(' ', '')}"


def addr_hash(address: pd.Series, city_: pd.Series, state_: pd.Series, zip_: pd.Series) -> pd.Series:
    """The property's address key, anchored on the ZIP: SHA-256 hex of 'key line|zip5', or of
    'key line|city|state' when the ZIP is missing. The city is not part of a ZIP-anchored key, so
    a USPS alternate city name or a misspelt city does not split a property.

    ``address`` is the stored form (street and unit, as ``full_address`` writes it); the SQL twin
    ``lead_addr_hash(address, city, state, zip5)`` gives the same key from the stored columns.
    """
    def present(s: pd.Series) -> pd.Series:
        s = s.astype("string")
        return s.where(s.ne(""))

    line, zip5_, city__, state__ = present(addr_key_line(address)), present(zip_), present(city_), present(state_)
    joined = (line + "|" + zip5_).fillna(line + "|" + city__ + "|" + state__)
    out = [hashlib.sha256(v.encode()).hexdigest() if isinstance(v, str) else None for v in joined.tolist()]
    return pd.Series(out, index=address.index, dtype="string")


def apn(text: pd.Series) -> pd.Series:
    """APN canonical form: upper case, separators and spaces removed, then the leading zeros of the
    whole number (``06-41-123`` and ``6-41-123`` are ``641123``: spreadsheets drop a leading
    zero); empty or all zeros -> NA. Scoped by state where it is used."""
    s = text.fillna("").astype(str).str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)
    s = s.str.replace(r"^0+", "", regex=True)
    return s.where(s.ne("")).astype("string")


_COUNTY_WORDS = r" (COUNTY|CNTY|CO|PARISH|PAR|BOROUGH|BORO|CENSUS AREA|CITY AND BOROUGH|MUNICIPALITY|MUNICIPIO)$"


@per_distinct
def county(text: pd.Series) -> pd.Series:
    """A county as vendors write it, one form: 'Los Angeles County', 'LOS ANGELES CO.', 'los angeles'
    -> 'LOS ANGELES'; 'St. Louis' and 'Saint Louis' -> 'SAINT LOUIS'; a FIPS code stays its digits
    (five, the state's two first). Scopes an APN: parcel numbers repeat across a state's counties."""
    s = _clean(text)
    s = s.str.replace(_COUNTY_WORDS, "", regex=True).str.replace(r"^(ST|SAINT) ", "SAINT ", regex=True)
    s = s.str.replace(r"^(STE|SAINTE) ", "SAINTE ", regex=True).str.replace(r"^(MT|MOUNT) ", "MOUNT ", regex=True)
    return s.where(s.ne("")).astype("string")


def mak(text: pd.Series) -> pd.Series:
    s = text.fillna("").astype(str).str.strip()
    return s.where(s.ne("")).astype("string")


# --- names, numbers, flags --------------------------------------------------------------------

@per_distinct
def name(text: pd.Series) -> pd.Series:
    s = text.fillna("").astype(str).str.replace(r"[ \t\r\n]+", " ", regex=True).str.strip()
    return s.str.title().where(s.ne("")).astype("string")


# Words of an owner's name that say what kind of owner it is, not who: "SMITH FAMILY TRUST",
# "ESTATE OF JOHN SMITH", "JOHN SMITH TR", "SMITH JOHN & MARY ETAL".
_OWNER_NOISE = frozenset("""
    TRUST TR TRS TRST TRUSTEE TRUSTEES TTEE TTEES FAMILY FAM LIVING LIV REVOCABLE REV IRREVOCABLE IRREV
    ESTATE EST OF THE ETAL ET AL AND JR SR II III IV LLC INC CO LP LTD DECEASED DEC DECD LIFE HEIRS
    JT JTWROS TEN COM TIC MR MRS MS DR SURVIVOR SURV MARRIED HUSBAND WIFE HW HUSB
""".split())
_SOUNDEX = str.maketrans("BFPVCGJKQSXZDTLMNR", "111122222222334556")


def soundex(word: str) -> str:
    """American Soundex (SMITH = SMYTH = S530): surnames spelt or typed differently compare equal."""
    word = "".join(c for c in word.upper() if "A" <= c <= "Z")
    if not word:
        return ""
    digits = word.translate(_SOUNDEX)
    out, last = [word[0]], digits[0] if digits[0].isdigit() else ""
    for ch, d in zip(word[1:], digits[1:]):
        if d.isdigit():
            if d != last:
                out.append(d)
            last = d
        elif ch not in "HW":            # H and W do not separate two equal codes; vowels do
            last = ""
    return ("".join(out) + "000")[:4]


def _owner_words(text: str) -> list[str]:
    return [w for w in re.sub(r"[^A-Z ]", " ", text.upper()).split() if len(w) > 1 and w not in _OWNER_NOISE]


def _surname_key(last: str) -> str | None:
    return " ".join(sorted({soundex(w) for w in _owner_words(last)})) or None


def _given_name_key(first: str) -> str | None:
    given = _owner_words(first)          # the first-name cell's last word ("JOHN SMITH"), never a
    return soundex(given[-1]) if len(given) > 1 else None     # lone first name


def owner_key(first: pd.Series, last: pd.Series) -> pd.Series:
    """Who owns the property, as the Soundex codes of the owner's surnames ('S530', 'J520 S530').

    Two records name the same owner (or household) when their keys share a code: spouses and
    co-owners share a surname, trusts and estates carry the family name, and a misspelt surname
    keeps its code. Records whose keys share none name different owners: a sale. NA when the
    record names nobody (then nothing can be said about the owner)."""
    def per_value(fn, text: pd.Series) -> pd.Series:       # once per distinct name
        codes, uniques = pd.factorize(text.fillna("").astype(str))
        return pd.Series(pd.array([fn(u) for u in uniques], dtype="string").take(codes), index=text.index,
                         dtype="string")

    key = per_value(_surname_key, last)
    missing = key.isna()
    if missing.any():                    # no surname in the last-name cell: what the first one says
        key[missing] = per_value(_given_name_key, first[missing])
    return key


@per_distinct
def date(text: pd.Series) -> pd.Series:
    """M/D/YYYY, YYYY-MM-DD and the like -> ISO date text; anything else -> NA."""
    s = text.fillna("").astype(str).str.strip()
    iso = pd.to_datetime(s.where(s.ne("")), errors="coerce", format="mixed")
    ok = iso.notna() & (iso.dt.year >= 1800) & (iso.dt.year <= 2200)
    return iso.dt.strftime("%Y-%m-%d").where(ok).astype("string")


MONEY_LIMIT = 1e12  # numeric(14, 2) in leads: a larger amount is a broken cell, not a price


@per_distinct
def money(text: pd.Series) -> pd.Series:
    """'$123,456' / '123456.00' -> float; anything else (or beyond MONEY_LIMIT) -> NA."""
    s = text.fillna("").astype(str).str.replace(r"[ \t\r\n$,]", "", regex=True)
    value = pd.to_numeric(s.where(s.ne("")), errors="coerce")
    return value.where(value.abs() < MONEY_LIMIT)


@per_distinct
def integer(text: pd.Series) -> pd.Series:
    """Whole numbers (an age); beyond +-1e9 or unparseable -> NA (the range check rejects oddities)."""
    value = pd.to_numeric(text.fillna("").astype(str).str.strip().replace("", None), errors="coerce")
    return value.where(value.abs() < 1e9).round().astype("Int64")


_TRUE = {"Y", "YES", "TRUE", "T", "1"}
_FALSE = {"N", "NO", "FALSE", "F", "0"}


@per_distinct
def yes_no(text: pd.Series) -> pd.Series:
    s = text.fillna("").astype(str).str.strip().str.upper()
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[s.isin(_TRUE)] = True
    out[s.isin(_FALSE)] = False
    return out


# --- phones -----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _us_phone_pattern() -> str:
    import phonenumbers

    md = phonenumbers.PhoneMetadata.metadata_for_region("US")
    kinds = ("fixed_line", "mobile", "toll_free", "premium_rate", "personal_number", "voip", "uan")
    pats = [getattr(md, k).national_number_pattern for k in kinds
            if getattr(md, k) is not None and getattr(md, k).national_number_pattern]
    # [0-9] instead of \d keeps pandas on pyarrow's RE2 path (\d forces Python's re).
    return ("(?:" + "|".join(f"(?:{p})" for p in pats) + ")").replace(r"\d", "[0-9]")


def phone_e164(text: pd.Series) -> pd.Series:
    """US numbers -> '+1XXXXXXXXXX' when phonenumbers' US metadata calls them valid, else NA.

    A spreadsheet float ('8135550142.0', a number column saved by Excel) is its digits without the
    '.0'; the fraction's zero must not become a tenth digit of a nine-digit cell. Any other cell
    that is not a whole number (too few or too many digits) is never padded into one: NA.
    """
    s = text.fillna("").astype(str).str.strip()
    floats = s.str.fullmatch(r"[0-9]+\.0+").fillna(False).astype(bool)
    if floats.any():
        s = s.where(~floats, s.str.replace(r"\.0+$", "", regex=True))
    digits = s.str.replace(r"[^0-9]", "", regex=True)
    national = digits.where(~(digits.str.len().eq(11) & digits.str.startswith("1")), digits.str[1:])
    ok = national.str.fullmatch(_us_phone_pattern()).fillna(False).astype(bool)
    return ("+1" + national).where(ok).astype("string")


# --- e-mail -----------------------------------------------------------------------------------

_EMAIL_FAST = (r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
               r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@lru_cache(maxsize=1 << 16)
def _email_slow(value: str) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def email(text: pd.Series) -> pd.Series:
    """Lower-cased, syntax-checked e-mail; invalid -> NA."""
    s = text.fillna("").astype(str).str.strip().str.lower()
    fast = s.str.fullmatch(_EMAIL_FAST) & s.str.len().le(254) & s.str.match(r"[^@]{1,64}@")
    fast = fast.fillna(False).astype(bool)
    out = s.where(fast).astype("string")
    slow = s.ne("") & ~fast
    if slow.any():
        out[slow] = [_email_slow(v) for v in s[slow].tolist()]
    return out


def one(normaliser, value: str) -> str | None:
    """A column normaliser of the ingest applied to one value (so an e-mail or phone given by an
    event, a command or a suppression list takes the form the leads' columns hold)."""
    out = normaliser(pd.Series([value], dtype="string"))[0]
    return None if out is None or out is pd.NA or (isinstance(out, float) and out != out) else str(out)
