"""Hashed deletion lists: every way a line may carry a hash is read, nothing else is; each value
is hashed in every form the list's sender may have used."""

from __future__ import annotations

import hashlib
import random

from orchestration.privacy import deletion_list


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_lines_of_every_shape_are_read():
    rng = random.Random(5)
    for _ in range(200):
        digest = sha(str(rng.random()))
        shown = digest.upper() if rng.random() < 0.3 else digest
        kind = rng.choice(["email", "EMAIL", "e-mail", "phone", "Phone", "tel", None])
        sep = rng.choice([",", "\t", " ", ";", " , "])
        line = shown if kind is None else rng.choice([f"{kind}{sep}{shown}", f"{shown}{sep}{kind}"])
        line = rng.choice(["", "  "]) + line + rng.choice(["", "\r", " "])
        channel, got = deletion_list.parse_line(line)
        assert got == digest, line
        want = "any" if kind is None else "email" if kind.lower() in ("email", "e-mail") else "phone"
        assert channel == want, line


def test_lines_without_exactly_one_hash_are_not_read():
    digest = sha("x")
    for line in ("sha256", "email,hash", digest[:63], digest + "0", "g" + digest[1:], f"{digest},{sha('y')}",
                 "jane@example.com", "2085550100", ""):
        assert deletion_list.parse_line(line) is None, line


def test_values_are_hashed_in_every_form_a_list_may_use():
    assert deletion_list.hashes_of("email", " Jane.Doe@Example.com ") == [sha("jane.doe@example.com")]
    forms = deletion_list.hashes_of("phone", "+12085550100")
    assert forms == [sha("2085550100"), sha("+12085550100"), sha("12085550100")]
