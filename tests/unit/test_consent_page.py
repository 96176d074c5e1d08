"""The consent page's version names what people saw: a change to the page or the agreement's
words must come with a new PAGE_VERSION, so recorded consents never point at a page they did not see."""

from __future__ import annotations

import hashlib

from orchestration.campaign import consent

# The fingerprint of each page version (a new version adds a line; old lines stay as the record).
FINGERPRINTS = {
    "consent-page-2026-12-06": "732c3f586bf38f5c3654b24932d00b01ec48d1696a29ef487f2d336681ecc879",
}


def _fingerprint() -> str:
    offer = consent.Offer(first_name="Mary", broker="Broker A", nmls="123456", property="1 Main St, Springfield")
    return hashlib.sha256((consent.page_sha256(offer) + consent.thanks_page(offer)).encode()).hexdigest()


def test_the_page_version_matches_the_page():
    assert consent.PAGE_VERSION in FINGERPRINTS, "a new PAGE_VERSION needs its line in FINGERPRINTS"
    assert FINGERPRINTS[consent.PAGE_VERSION] == _fingerprint(), (
        f"the consent page or its words changed: give it a new PAGE_VERSION and record its fingerprint "
        f"{_fingerprint()} here")


def test_the_page_hash_does_not_depend_on_the_token_and_does_on_the_words():
    a = consent.Offer(first_name="Mary", broker="Broker A", nmls="1", property="1 Main St")
    b = consent.Offer(first_name="Mary", broker="Broker B", nmls="1", property="1 Main St")
    assert consent.page_sha256(a) == consent.page_sha256(a) and consent.page_sha256(a) != consent.page_sha256(b)
    assert consent.ip_hash("10.0.0.1", b"k" * 32) != consent.ip_hash("10.0.0.1", b"j" * 32)
    assert consent.ip_hash("10.0.0.1", None).startswith("sha256:") and "10.0.0.1" not in consent.ip_hash("10.0.0.1", None)
