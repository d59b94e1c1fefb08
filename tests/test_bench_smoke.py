"""Smoke tests of the benchmarks in bench/: each runs in quick mode and reports sane numbers.

These tests do not judge speed (a shared CI machine would make that flaky); performance
is measured by the benchmarks themselves and recorded in docs/performance.md.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))  # as when a script runs: the scripts import bench/fire.py


def _load(name: str) -> ModuleType:
    key = f"servflow_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "fire",
            {
                "servflow_full_us",
                "bare_pooled_us",
                "machine_per_case_us",
                "ratio_vs_bare",
                "ratio_per_case",
                "ratio_boundary_vs_bare",
                "history_1_us",
                "history_200_us",
                "history_ratio",
                "callback_satisfied_us",
            },
        ),
        (
            "machine_per_case",
            {
                "machine_per_case_us",
                "case_validate_us",
                "shared_model_bytes",
                "machine_per_case_bytes",
                "case_json_bytes",
                "case_pydantic_bytes",
                "engine_bytes",
            },
        ),
        ("load", {"load_catalogue_ms", "from_directory_ms", "files"}),
        (
            "desk",
            {
                "sqlite_fire_1_writer_per_s",
                "sqlite_fire_8_writers_per_s",
                "sqlite_run_due_100_ms",
                "sqlite_deliver_100_ms",
                "sqlite_queue_ms",
            },
        ),
        (
            "queries",
            {
                "my_queue_ms",
                "my_queue_size",
                "overdue_ms",
                "opened_today_ms",
                "opened_today_page_10_ms",
            },
        ),
        (
            "explore",
            {
                "explore_catalogue_s",
                "explore_steps_per_cpu_s",
                "kit_whole_steps_per_cpu_s",
                "kit_fed_steps_per_cpu_s",
            },
        ),
        (
            "time",
            {
                "calendar_add_warm_us",
                "calendar_add_fresh_us",
                "advance_idle_us",
                "fire_us",
                "advance_idle_share",
                "advance_three_due_us",
            },
        ),
    ],
)
def test_bench_runs_in_quick_mode(
    script: str, expected: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    results = _load(script).main(["--quick"])
    out = capsys.readouterr().out
    assert "==" in out  # it printed its header and tables
    assert expected <= set(results), sorted(expected - set(results))
    for name, value in results.items():
        assert isinstance(value, float), (name, value)
        assert math.isfinite(value), (name, value)
        assert value > 0, (name, value)


def test_fire_profile_mode_runs(capsys: pytest.CaptureFixture[str]) -> None:
    results = _load("fire").main(["--quick", "--profile"])
    assert results["fire_only_us"] > 0
    assert "cProfile" in capsys.readouterr().out
