"""Blind indexes: stable under one key, different under another, channel-separated, normalised
like the stored values, never showing the key."""

import random

import pytest

from orchestration.privacy import blind_index


def key(byte: int) -> blind_index.IndexKey:
    return blind_index.IndexKey(bytes([byte]) * 32)


def test_one_key_one_index_per_value_and_channel():
    k = key(1)
    assert k.of("email", " Ann@Example.com ") == k.of("email", "ann@example.com")
    assert len(k.of("email", "ann@example.com")) == blind_index.HEX_CHARS
    assert k.of("email", "x") != k.of("phone", "x")             # channels never collide
    assert k.of("email", "ann@example.com") != key(2).of("email", "ann@example.com")
    assert k.of("phone", None) is None and k.of("phone", "  ") is None
    with pytest.raises(ValueError):
        k.of("address", "1 Main St")


def test_many_equals_one_by_one_and_indexes_do_not_collide():
    rng = random.Random(3)
    values = [f"user{rng.randint(0, 400)}@example.com" for _ in range(2000)] + [None]
    k = key(7)
    many = k.many("email", values)
    assert many == [k.of("email", v) for v in values]
    distinct = {v for v in values if v}
    assert len({k.of("email", v) for v in distinct}) == len(distinct)


def test_the_key_never_shows_and_key_files_are_checked(tmp_path):
    k = key(9)
    assert "\\x09" not in repr(k) and "hidden" in repr(k)
    good = tmp_path / "k"
    good.write_text("# comment\n" + blind_index.new_key_text())
    assert len(blind_index.load(good).key) == 32
    for text in ("", "abc\n", "zz" * 32 + "\n", "ab" * 32 + "\n" + "cd" * 32 + "\n"):
        bad = tmp_path / "bad"
        bad.write_text(text)
        with pytest.raises(ValueError):
            blind_index.load(bad)
