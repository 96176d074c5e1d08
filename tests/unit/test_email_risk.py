"""Risky e-mail addresses: every spelling of a role mailbox, every listed throw-away domain (and its
subdomains), every vendor status that could not confirm a mailbox — and a person's own address
at a mail provider is none of them. A seeded fuzz set of each class."""

from __future__ import annotations

import random

import pandas as pd
from disposable_email_domains import blocklist

from orchestration.identity import email_risk
from orchestration.identity.normalize import email as normalise

PEOPLE = ["mary.smith", "jsmith1950", "robert", "pat.o.neil", "grandma.jo", "linda_w", "infoseeker",
          "salesman.bob", "officer.dan", "helen", "teamster"]
PROVIDERS = ["gmail.com", "yahoo.com", "aol.com", "comcast.net", "att.net", "outlook.com", "icloud.com"]


def classify(addresses: list[str], codes: list[str] | None = None) -> list:
    emails = normalise(pd.Series(addresses, dtype="string"))
    out = email_risk.classify(emails, pd.Series(codes or [""] * len(addresses), dtype="string"))
    return [None if pd.isna(v) else v for v in out]


def test_role_mailboxes_in_every_spelling():
    rng = random.Random(11)
    roles = sorted(email_risk.ROLE_LOCAL_PARTS)
    addresses = []
    for _ in range(300):
        local = rng.choice(roles)
        if rng.random() < 0.3:
            local = local.upper()
        if rng.random() < 0.3 and len(local) > 3:
            local = local[:2] + "." + local[2:]           # dots do not make another mailbox
        if rng.random() < 0.3:
            local += "+" + rng.choice(["leads", "2026", "x"])
        addresses.append(f"  {local}@{rng.choice(PROVIDERS + ['smithfamilylaw.com', 'example.org'])} ")
    assert classify(addresses) == ["role"] * len(addresses)


def test_every_listed_throwaway_domain_and_its_subdomains():
    rng = random.Random(12)
    domains = rng.sample(sorted(blocklist), 200)
    addresses = [f"{rng.choice(PEOPLE)}@{d}" for d in domains] + [f"mary@mx.{d}" for d in domains[:50]]
    assert classify(addresses) == ["disposable"] * len(addresses)


def test_vendor_statuses_that_could_not_confirm_the_mailbox():
    rng = random.Random(13)
    codes = [rng.choice(sorted(email_risk.VENDOR_RISKY)) for _ in range(100)]
    codes = [c.upper() if rng.random() < 0.3 else f" {c} " for c in codes]
    assert classify([f"{rng.choice(PEOPLE)}@gmail.com" for _ in codes], codes) == ["vendor_risky"] * len(codes)


def test_a_persons_own_address_is_not_risky():
    rng = random.Random(14)
    addresses = [f"{rng.choice(PEOPLE)}{rng.randrange(100)}@{rng.choice(PROVIDERS)}" for _ in range(300)]
    codes = [rng.choice(["valid", "deliverable", "verified", ""]) for _ in addresses]
    assert classify(addresses, codes) == [None] * len(addresses)
    assert classify([None, ""]) == [None, None]                      # no e-mail, no label


def test_a_role_or_disposable_address_is_that_whatever_the_vendor_said():
    assert classify(["info@mailinator.com", "mary@mailinator.com", "info@gmail.com"],
                    ["valid", "catch-all", "risky"]) == ["role", "disposable", "role"]
