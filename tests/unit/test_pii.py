"""Sealed e-mails and phones (orchestration.privacy.pii): round trips, blind indexes, key rings, tampering,
rotation, and records a DLQ item quotes — over a seeded fuzz of values."""

import base64
import random
import string

import pytest

from orchestration.privacy import pii
from orchestration.privacy.blind_index import IndexKey

RING = "# test ring\nold:" + "11" * 32 + "\nnew:" + "22" * 32 + "\n"


@pytest.fixture
def sealer() -> pii.Sealer:
    return pii.Sealer(pii.parse_ring(RING, "test ring"), IndexKey(b"\x07" * 32))


def fuzz_values(seed: int, n: int) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        if rnd.random() < 0.5:
            local = "".join(rnd.choice(string.ascii_letters + string.digits + "._+-") for _ in range(rnd.randint(1, 30)))
            out.append(("email", f"{local}@{rnd.choice(['example.com', 'mail.co', 'ünïcode.org'])}"))
        else:
            out.append(("phone", "+1" + "".join(rnd.choice(string.digits) for _ in range(10))))
    return out


def test_every_value_opens_to_itself_and_one_value_under_one_key_is_one_token(sealer):
    seen_nonces = set()
    for channel, value in fuzz_values(1, 300):
        a, b = sealer.seal(channel, value), sealer.seal(channel, value)
        assert pii.TOKEN.match(a) and a == b                 # a re-run changes no row
        seen_nonces.add((pii.normalise(channel, value), base64.urlsafe_b64decode(a.rsplit(".", 1)[1])[:pii.NONCE]))
        assert sealer.open(channel, a) == sealer.open(channel, b) == pii.normalise(channel, value)
        assert pii.index_of(a) == pii.index_of(b) == sealer.blind(channel, value)
        assert value.lower() not in a.lower() and value.strip("+") not in a
        assert pii.key_id_of(a) == "new"               # the last line of the ring seals
    # the synthetic nonce: distinct values never share one (GCM must never reuse a nonce under a key)
    assert len({nonce for _, nonce in seen_nonces}) == len({value for value, _ in seen_nonces})
    other_key = pii.Sealer(pii.parse_ring("old:" + "11" * 32, "r"), sealer.index).seal("phone", "+14155550100")
    assert other_key != sealer.seal("phone", "+14155550100")
    assert pii.index_of(other_key) == pii.index_of(sealer.seal("phone", "+14155550100"))


def test_seal_many_matches_seal_one_by_one_and_keeps_gaps(sealer):
    values = [v for _, v in fuzz_values(2, 200) if "@" in v]
    values[3:3] = [None, "", values[0], float("nan")]
    tokens = sealer.seal_many("email", values)
    assert len(tokens) == len(values)
    for value, token in zip(values, tokens):
        if value is None or value != value or value == "":
            assert token is None
        else:
            assert sealer.open("email", token) == value.lower()
            assert pii.index_of(token) == sealer.blind("email", value)
    assert sealer.seal_many("email", tokens[:2]) == tokens[:2]      # a token is never sealed twice


def test_e_mails_compare_case_insensitively_phones_exactly(sealer):
    assert pii.index_of(sealer.seal("email", "Ann@Example.COM ")) == pii.index_of(sealer.seal("email", "ann@example.com"))
    assert pii.index_of(sealer.seal("phone", "+14155550100")) != pii.index_of(sealer.seal("phone", "+14155550101"))
    assert sealer.blind("email", "a@b.co") != sealer.blind("phone", "a@b.co")     # channels never collide


def test_a_token_opens_only_as_its_own_channel_and_any_change_is_refused(sealer):
    rnd = random.Random(3)
    for channel, value in fuzz_values(4, 60):
        token = sealer.seal(channel, value)
        other = "phone" if channel == "email" else "email"
        with pytest.raises(Exception):
            sealer.open(other, token)
        head, body = token.rsplit(".", 1)
        raw = bytearray(base64.urlsafe_b64decode(body))
        raw[rnd.randrange(len(raw))] ^= 1 << rnd.randrange(8)
        with pytest.raises(Exception):
            sealer.open(channel, head + "." + base64.urlsafe_b64encode(bytes(raw)).decode())
        # a blind index swapped for another value's is caught too
        forged = token.replace(pii.index_of(token), sealer.blind(channel, value + "x"), 1)
        with pytest.raises(ValueError, match="blind index"):
            sealer.open(channel, forged)


def test_a_plain_value_where_a_token_belongs_is_refused_not_passed_through(sealer):
    with pytest.raises(ValueError, match="reencrypt"):
        sealer.open("email", "ann@example.com")
    assert sealer.open("email", None) is None


def test_rotation_reseals_under_the_new_key_and_an_old_key_still_opens(sealer):
    old_only = pii.Sealer(pii.parse_ring("old:" + "11" * 32, "old ring"), sealer.index)
    token = old_only.seal("phone", "+14155550100")
    assert pii.key_id_of(token) == "old"
    moved = sealer.reseal("phone", token)
    assert pii.key_id_of(moved) == "new" and sealer.open("phone", moved) == "+14155550100"
    assert pii.index_of(moved) == pii.index_of(token)          # lookups unchanged by rotation
    assert sealer.reseal("phone", moved) == moved              # already under the active key
    assert pii.key_id_of(sealer.reseal("phone", "+14155550100")) == "new"   # plain text gets sealed
    retired = pii.Sealer(pii.parse_ring("new:" + "22" * 32, "ring"), sealer.index)
    with pytest.raises(pii.UnknownKey, match="'old'"):
        retired.open("phone", token)


def test_records_are_sealed_whole_and_indexed_by_the_channels_they_mention(sealer):
    text = 'Ann,"(415) 555-0100",ann@Example.com,not-a-phone 12,1-800-555-01'
    record = sealer.seal_record(text)
    assert record.startswith(pii.BLOB_PREFIX) and "555" not in record and "ann" not in record.lower()
    assert sealer.open_record(record) == text
    assert set(sealer.record_indexes(text)) == {sealer.blind("email", "ann@example.com"),
                                                sealer.blind("phone", "+14155550100")}
    assert pii.key_id_of(sealer.reseal_record(record)) == "new"


@pytest.mark.parametrize("ring, problem", [
    ("", "holds no key"),
    ("k1 " + "11" * 32, "expected 'key_id:64 hex"),
    ("k1:" + "zz" * 32, "not hexadecimal"),
    ("k1:" + "11" * 16, "64 hex characters"),
    ("k1:" + "11" * 32 + "\nk1:" + "22" * 32, "appears twice"),
    ("bad.id:" + "11" * 32, "key id"),
])
def test_a_key_ring_that_cannot_be_used_is_refused_with_the_reason_and_no_key(ring, problem):
    with pytest.raises(pii.KeyRingError, match=problem) as info:
        pii.parse_ring(ring, "ring file")
    assert "11" * 8 not in str(info.value) and "22" * 8 not in str(info.value)


def test_no_key_is_ever_shown(sealer):
    assert "11" * 8 not in repr(sealer) and "22" * 8 not in repr(sealer.ring) and "07" * 8 not in repr(sealer)
