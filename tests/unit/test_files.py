"""One atomic write and one reloading file for the whole pipeline (exports, manifests, key rings,
redactions; upload and event keys)."""

from __future__ import annotations

import os
import random
import stat

import pytest

from orchestration.core.files import Reloading, write_atomic
from orchestration.events import webhooks
from orchestration.events.receiver import KeysFile
from orchestration.ingest import signing


def test_write_atomic_replaces_the_file_privately_and_leaves_no_temp(tmp_path):
    target = tmp_path / "export.csv"
    target.write_text("old")
    write_atomic(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]
    write_atomic(target, "text too")
    assert target.read_text() == "text too"


def test_a_failed_write_keeps_the_old_file_and_removes_its_temp(tmp_path, monkeypatch):
    target = tmp_path / "ring"
    target.write_text("good")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "half")
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ring"]


def _bump(path, text):
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))   # a new stamp even within one tick


def test_reloading_follows_edits_and_keeps_the_last_good_value(tmp_path):
    path = tmp_path / "numbers"
    follow = Reloading(path, lambda text: [int(x) for x in text.split()], missing=[])
    assert follow.current() == [] and follow.error is None
    _bump(path, "1 2")
    assert follow.current() == [1, 2]
    _bump(path, "1 2 x")
    assert follow.current() == [1, 2] and "numbers" in follow.error
    reads = []
    follow.parse = lambda text: reads.append(text) or [int(x) for x in text.split()]
    assert follow.current() == [1, 2] and reads == []        # a broken file is not re-read until it changes
    _bump(path, "3")
    assert follow.current() == [3] and follow.error is None
    path.unlink()
    assert follow.current() == []


def _half_written(rng: random.Random, good: str) -> str:
    """A keys file caught mid-save: cut anywhere inside a line, or a line garbled."""
    kind = rng.choice(["cut", "garble", "no_colon", "short_secret"])
    lines = good.splitlines()
    if kind == "cut":
        i = rng.randrange(len(lines))
        line = lines[i]
        return "\n".join(lines[:i] + [line[: rng.randrange(1, line.index(":") + 8)]])
    if kind == "garble":
        return good.replace("whsec_", "whsec_" + rng.choice("!*%~"), 1)
    if kind == "no_colon":
        return good + "\nsenderwithoutsecret"
    return good + "\nshort:whsec_AAAA"


@pytest.mark.parametrize("seed", range(40))
def test_a_half_written_event_keys_file_keeps_the_last_good_senders(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "event_keys"
    good = "\n".join(f"sender{i}:{webhooks.new_secret()}" for i in range(rng.randint(1, 4)))
    _bump(path, good)
    keys = KeysFile(path)
    before = keys.secrets()
    assert before
    _bump(path, _half_written(rng, good))
    try:
        webhooks.parse_event_keys(path.read_text())
    except ValueError:
        assert keys.secrets() == before and keys.error
        # the reason never quotes a secret, whole or in part
        assert not any(line.split(":", 1)[1][6:14] in keys.error for line in good.splitlines())
    else:                                      # the cut happened to leave a valid file
        assert keys.secrets() == webhooks.parse_event_keys(path.read_text())


def test_the_upload_key_ring_reads_its_file_the_same_way(tmp_path):
    path = tmp_path / "upload_keys"
    _bump(path, "a:" + "s" * 32)
    ring = signing.KeyRing([signing.parse_keys("fixed:" + "f" * 32)[0]], path)
    assert [k.key_id for k in ring.current()] == ["fixed", "a"]
    _bump(path, "a:" + "s" * 32 + "\nbroken line")
    assert [k.key_id for k in ring.current()] == ["fixed", "a"] and ring.error
