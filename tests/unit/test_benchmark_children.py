"""`benchmarks/ingest.py` measures each ingest in a child process: a child that raises or dies
fails the benchmark at once with its reason, never leaves it waiting for a result."""

from __future__ import annotations

import importlib
import os

import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("benchmarks.ingest")


def test_a_childs_result_comes_back(bench):
    assert bench.in_child(divmod, 17, 5) == (3, 2)


def test_a_child_that_raises_fails_with_its_traceback(bench):
    with pytest.raises(RuntimeError, match="invalid literal"):
        bench.in_child(int, "not a number")


@pytest.mark.parametrize("code", [1, 9, 137])
def test_a_child_that_dies_without_a_word_fails_at_once(bench, code):
    with pytest.raises(RuntimeError, match=f"exit code {code}"):
        bench.in_child(os._exit, code)
