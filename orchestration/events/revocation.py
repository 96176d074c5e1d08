"""Whether a reply revokes consent — pure rules, no I/O.

Since April 2025 a person may revoke consent "by any reasonable means", and it must be honoured
within 10 business days; a reply saying "stop" is such a means whatever words surround it. A reply
revokes when

- the campaign tool labelled it not-interested, wrong person or unsubscribe (Instantly's
  ``lead_not_interested`` / ``lead_wrong_person`` webhooks, or ``data.label`` in our own shape); or
- its own words (the quoted e-mail it answers is cut off first) hold one of the phrases below.

The rules lean towards revoking: a false "stop" costs one lead, a missed one breaks the law.
So ``stop`` counts as a word wherever it stands ("please stop", "STOP!!!", "stop by" too), and so
do ``remove``, ``unsubscribe``, ``opt out``, "do not / don't / never contact|email|call|text|write",
"leave me alone", "no more emails", "take me off", "not interested" and "wrong person".

What is cut before reading: everything from a quoted-reply header on ("On Mon, … wrote:",
"-----Original Message-----", an Outlook "From: … Sent:" block, a line of underscores), lines
starting with ``>``, and a "Sent from my …" signature. Our own e-mails end with "reply STOP to
withdraw": read in a quoted original, that line would make every reply a revocation. The text is
NFKC-folded (full-width letters, ligatures), lower-cased, with typographic apostrophes, zero-width
characters and HTML tags removed.
"""

from __future__ import annotations

import html
import re
import unicodedata

RULES_VERSION = "revocation-rules-1"

# Campaign-tool labels (and Instantly event names) that revoke.
LABELS = {
    "lead_not_interested": "not_interested",
    "lead_wrong_person": "wrong_person",
    "not_interested": "not_interested",
    "wrong_person": "wrong_person",
    "unsubscribe": "unsubscribe",
    "unsubscribed": "unsubscribe",
    "do_not_contact": "do_not_contact",
    "stop": "stop",
}

_WORDS = r"(?:contact|e-?mail|call|text|write|message|bother|reach out)"
PHRASES: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("stop", r"\bstop\b"),
    ("unsubscribe", r"\bun-?subscribe\b|\bopt[\s-]*out\b"),
    ("remove", r"\bremove\b|\btake\s+(?:me|us|my\s+\w+)\s+off\b"),
    ("do_not_contact", rf"\b(?:do\s*not|dont|don't|never|please\s+no)\s+(?:ever\s+)?{_WORDS}\b"),
    ("leave_alone", r"\bleave\s+(?:me|us|my\s+\w+)\s+alone\b|\bno\s+(?:more|further)\s+(?:e-?mails?|contact|calls?|messages?)\b"),
    ("not_interested", r"\bnot\s+interested\b"),
    ("wrong_person", r"\bwrong\s+(?:person|address|e-?mail|number)\b"),
))

_QUOTE_HEADERS = re.compile(
    r"(?mis)^[ \t]*(?:on\b[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\bwrote:[ \t]*$"
    r"|-{2,}[ \t]*(?:original|forwarded)\s+message[ \t]*-*"
    r"|from:[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*(?:sent|date):"
    r"|_{5,}[ \t]*$"
    r"|sent\s+from\s+my\b)")
_QUOTED_LINE = re.compile(r"(?m)^[ \t]*>.*$")
_TAGS = re.compile(r"(?s)<(?:style|script)\b.*?</(?:style|script)>|<[^>]{0,500}>")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u0060": "'", "\u00b4": "'"})


def own_words(text: str) -> str:
    """The reply's own text, folded for matching (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    if "<" in text and ">" in text:
        text = html.unescape(_TAGS.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = _QUOTE_HEADERS.search(text)
    if cut:
        text = text[:cut.start()]
    text = _QUOTED_LINE.sub(" ", text)
    text = text.translate(_APOSTROPHES).casefold()
    return re.sub(r"\s+", " ", text).strip()


def revoking_phrase(text: str | None) -> str | None:
    """The first rule whose phrase the reply's own words hold, else None."""
    if not text:
        return None
    words = own_words(str(text))
    for name, pattern in PHRASES:
        if pattern.search(words):
            return name
    return None


def revocation(named: str, data: dict, text: str | None) -> str | None:
    """Why this reply revokes consent (``label:<label>`` or ``text:<rule>``), else None.

    ``named``: the event type as sent; ``data``: its data; ``text``: the reply's text, if any."""
    if named in LABELS:
        return f"label:{LABELS[named]}"
    label = data.get("label")
    if isinstance(label, str):
        key = re.sub(r"[\s-]+", "_", label.strip().lower())
        if key in LABELS:
            return f"label:{LABELS[key]}"
    phrase = revoking_phrase(text)
    return f"text:{phrase}" if phrase else None
