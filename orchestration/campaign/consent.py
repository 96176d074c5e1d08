"""One-time consent links: the token, the page, and the exact words a person agrees to.

A fed lead's export and push carry ``{EC_PUBLIC_BASE_URL}/consent/<token>``. The token is 256
bits, URL-safe, derived from a random token id and the form secret (HMAC-SHA256; the secret lives
in a file outside the database, like the upload keys): only its SHA-256 (``nonce_hash``) is
stored, so a database reader cannot make a working link, while a re-run of a batch's delivery can
make the same link again from the id. A token lives 7 days and works once.

``GET`` shows a small page (plain HTML, no script) naming the broker and what the person agrees
to; ``POST`` with ``agree=yes`` records the consent on the lead and a permanent, append-only
``lead_consent_audit`` row (``evidence``): the words agreed to, the page's version and the
SHA-256 of the page as shown (with the link's token written as ``{token}``, so the page can be
rebuilt and checked without the token, which is never stored), a keyed hash of the IP, the user
agent, the token's lead, batch and feed date.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

TOKEN_TTL = timedelta(days=7)
# The version of the consent page: its template and the agreement's words. A change to either is
# a new version (a unit test pins the page's fingerprint to this name), so every recorded consent
# names the page its person saw.
PAGE_VERSION = "consent-page-2026-12-06"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

AGREEMENT = (
    "I agree that {broker} (NMLS #{nmls}), a licensed mortgage broker, may call and text me about a reverse "
    "mortgage for {property}, including with automated dialing systems and prerecorded or artificial voice "
    "messages, at the phone number on file for me. I understand that my consent is not a condition of any "
    "purchase and that I can withdraw it at any time by replying STOP or by asking the broker."
)


def new_form_secret() -> str:
    return secrets.token_hex(32)


def token_for(secret: bytes, token_id: uuid.UUID) -> str:
    """The link token of a consent_tokens row (43 URL-safe characters, 256 bits)."""
    mac = hmac.new(secret, b"consent-token:" + token_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return bool(_TOKEN.match(token))


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/consent/{token}"


@dataclass
class Offer:
    first_name: str | None
    broker: str
    nmls: str
    property: str

    @property
    def text(self) -> str:
        return AGREEMENT.format(broker=self.broker, nmls=self.nmls, property=self.property)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:1.25rem/1.6 system-ui,sans-serif;max-width:38rem;margin:2rem auto;padding:0 1rem;color:#111}}
button{{font-size:1.25rem;padding:.6rem 1.4rem}} label{{display:block;margin:1rem 0}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""


def page(title: str, body_html: str) -> str:
    return _PAGE.format(title=html.escape(title), body=body_html)


def offer_page(offer: Offer, action: str) -> str:
    hello = f"Hello {html.escape(offer.first_name.title())}," if offer.first_name else "Hello,"
    return page(f"Hear from {offer.broker}", (
        f"<p>{hello}</p><p>{html.escape(offer.text)}</p>"
        f'<form method="post" action="{html.escape(action)}">'
        '<label><input type="checkbox" name="agree" value="yes" required> I agree</label>'
        '<button type="submit">Give my consent</button></form>'
        "<p>If you do not want to hear from us, close this page: nothing is recorded.</p>"))


def thanks_page(offer: Offer) -> str:
    return page("Thank you", f"<p>Your consent is recorded. {html.escape(offer.broker)} may now contact you. "
                             "Reply STOP at any time to withdraw it.</p>")


def gone_page() -> str:
    return page("This link has been used or has expired",
                "<p>Each consent link works once and for 7 days. Nothing more is needed from you.</p>")


def unknown_page() -> str:
    return page("Link not found", "<p>This consent link is not valid. Please check the address.</p>")


def page_sha256(offer: Offer) -> str:
    """SHA-256 of the offer page as shown, with the link's token written as ``{token}``."""
    return hashlib.sha256(offer_page(offer, "/consent/{token}").encode()).hexdigest()


def ip_hash(ip: str, key: bytes | None) -> str:
    """The hash kept instead of the IP address: HMAC-SHA256 under the blind-index key (an IPv4
    address has only 2^32 values, so a plain hash could be reversed by trying them all), or a
    plain SHA-256 marked as such where no key is configured."""
    if key:
        return "hmac-sha256:" + hmac.new(key, b"consent-ip:" + ip.encode(), hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(ip.encode()).hexdigest()


@dataclass(frozen=True)
class Evidence:
    """What a consent row proves: the words, the page, when (the database's clock), from where
    (hashed), with what browser."""
    agreed_text: str
    page_version: str
    page_sha256: str
    ip_hash: str
    user_agent: str


def evidence(offer: Offer, ip: str, user_agent: str, key: bytes | None) -> Evidence:
    return Evidence(offer.text, PAGE_VERSION, page_sha256(offer), ip_hash(ip, key), user_agent[:500])
