"""The harness of the hardening corpora catches what it is there to catch."""

from __future__ import annotations

import time

from tests.bounded import run_bounded


def _spin() -> None:
    while True:
        time.sleep(0.01)


def _hog() -> int:
    return len("x" * (2 * 1024 * 1024 * 1024))


def _boom() -> None:
    raise KeyError("nope")


def test_a_value_comes_back() -> None:
    result = run_bounded(sum, [1, 2, 3])
    assert (result.verdict, result.value) == ("returned", 6)


def test_an_exception_comes_back_by_name() -> None:
    result = run_bounded(_boom)
    assert (result.verdict, result.error_type) == ("raised", "KeyError")
    assert "nope" in result.error


def test_a_hang_is_killed_at_the_ceiling() -> None:
    result = run_bounded(_spin, seconds=0.5)
    assert result.verdict == "timeout"
    assert result.seconds < 2


def test_memory_is_capped() -> None:
    result = run_bounded(_hog, memory_mb=64)
    assert result.verdict == "memory"
