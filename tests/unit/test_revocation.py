"""Revocation by reply: "stop" however it is said revokes; our own quoted footer ("reply STOP to
withdraw") and ordinary replies do not. A seeded fuzz set of each class."""

from __future__ import annotations

import json
import random

import pytest

from orchestration.campaign import consent
from orchestration.events import revocation, webhooks

SAYS_STOP = [
    "STOP", "stop", "Stop.", "STOP!!!", "please stop", "Please stop emailing me", "stop contacting me",
    "Unsubscribe", "unsubscribe me please", "UN-SUBSCRIBE", "opt out", "Opt-out", "remove", "Remove me from your list",
    "please take me off your list", "do not contact me again", "Don't email me", "DONT CALL", "never contact me",
    "never email me again", "leave me alone", "no more emails", "Not interested.", "not interested thanks",
    "wrong person", "You have the wrong email", "Please, do not write to me",
]
ORDINARY = [
    "Yes, tell me more", "What are the rates?", "Please call me tomorrow afternoon", "Interested!",
    "Can you send details", "My husband and I would like to talk", "How much could I get?",
    "Thanks, what's the next step?", "I'm 72 and own my home outright", "Sounds good", "", "   ",
    "Call after 5pm please", "Is this a scam?",
]


def _variants(text: str, rng: random.Random) -> list[str]:
    """The same words as people and mail programs send them."""
    out = [text, text.upper(), text.lower(), text.title(), f"  {text}  ", f"{text}\n\nThanks,\nMary",
           f"Hi,\n{text}\nRegards", text.replace("'", "\u2019"), text.replace(" ", "\u00a0"),
           "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text),       # full-width letters
           text.replace("o", "o\u200b", 1),                                              # a zero-width space
           f"<div>{text}</div><div><br></div>", f"<p>Hello</p><p>{text}</p>",
           f"{text}\r\n", f"{text}\n\nSent from my iPhone"]
    rng.shuffle(out)
    return out


def _quoted_original(rng: random.Random) -> str:
    """Our own e-mail as mail programs quote it under a reply: it ends with the STOP footer."""
    footer = "Reply STOP at any time to withdraw it. To unsubscribe, click here. Do not contact? Reply STOP."
    return rng.choice([
        f"On Mon, Dec 1, 2026 at 9:00 AM Broker A <hello@broker.example> wrote:\n> Hello Mary,\n> {footer}",
        f"On Mon, Dec 1, 2026 at 9:00 AM Broker A\n<hello@broker.example> wrote:\n\nHello Mary,\n{footer}",
        f"-----Original Message-----\nFrom: Broker A\nSent: Monday\n{footer}",
        f"From: Broker A <hello@broker.example>\nSent: Monday, December 1, 2026 9:00 AM\nTo: Mary\n{footer}",
        f"________________________________\nFrom: Broker A\n{footer}",
        "\n".join(f"> {line}" for line in ("Hello Mary,", footer)),
    ])


@pytest.mark.parametrize("words", SAYS_STOP)
def test_every_way_of_saying_stop_revokes(words):
    rng = random.Random(hash(words) & 0xFFFF)
    for text in _variants(words, rng):
        assert revocation.revoking_phrase(text), repr(text)
        # ... also above the quoted e-mail it answers
        assert revocation.revoking_phrase(f"{text}\n\n{_quoted_original(rng)}"), repr(text)


@pytest.mark.parametrize("words", ORDINARY)
def test_ordinary_replies_do_not_revoke_even_above_our_stop_footer(words):
    rng = random.Random(len(words))
    for text in _variants(words, rng)[:6]:
        assert revocation.revoking_phrase(text) is None, repr(text)
        for _ in range(4):
            quoted = f"{text}\n\n{_quoted_original(rng)}"
            assert revocation.revoking_phrase(quoted) is None, repr(quoted)


def test_our_own_pages_footer_is_what_the_quote_rule_protects_against():
    # the consent page and e-mails really do say STOP: unquoted, that text revokes
    assert "STOP" in consent.AGREEMENT and revocation.revoking_phrase(consent.AGREEMENT) == "stop"


def test_labels_from_the_campaign_tool_revoke():
    assert revocation.revocation("lead_not_interested", {}, None) == "label:not_interested"
    assert revocation.revocation("lead_wrong_person", {}, None) == "label:wrong_person"
    for label in ("not interested", "Not-Interested", "WRONG_PERSON", "do not contact", "unsubscribe"):
        assert revocation.revocation("reply", {"label": label}, "yes please").startswith("label:"), label
    assert revocation.revocation("reply", {"label": "interested"}, "yes please") is None
    assert revocation.revocation("reply", {}, "please STOP") == "text:stop"


def _instantly(event_type: str, **extra) -> bytes:
    return json.dumps({"event_type": event_type, "timestamp": "2026-12-01T10:00:00Z",
                       "lead_email": "mary@example.com", "campaign_id": "c1", **extra}).encode()


def test_parsed_events_carry_the_rule_never_the_words():
    e = webhooks.parse_event(_instantly("reply_received", reply_text="Please remove me. Mary",
                                        reply_text_snippet="Please remove me"))
    assert (e.type, e.data["revoked"]) == ("reply", "text:remove")
    assert "Please" not in json.dumps(e.data)                     # the reply's words are not stored
    e = webhooks.parse_event(_instantly("lead_not_interested"))
    assert (e.type, e.data["revoked"]) == ("reply", "label:not_interested")
    e = webhooks.parse_event(_instantly("reply_received", reply_text="Yes, call me\n\nOn Mon wrote:\n> reply STOP"))
    assert e.type == "reply" and "revoked" not in e.data
    # a sender cannot mark a plain reply as revoked by naming the key; our rules decide
    body = json.dumps({"type": "reply", "occurred_at": "2026-12-01T10:00:00Z", "email": "a@example.com",
                       "data": {"text": "sounds good", "revoked": ""}}).encode()
    assert "revoked" not in webhooks.parse_event(body).data
    # revocation is read only from replies
    body = json.dumps({"type": "booked", "occurred_at": "2026-12-01T10:00:00Z", "email": "a@example.com",
                       "data": {"text": "stop"}}).encode()
    assert "revoked" not in webhooks.parse_event(body).data
