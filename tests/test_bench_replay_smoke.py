"""Smoke test of bench/replay.py: it runs in quick mode and reports sane numbers.

Like tests/test_bench_smoke.py, it does not judge speed; the figures are recorded in
docs/performance.md.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_replay_bench_runs_in_quick_mode(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(BENCH))  # as when the script runs: it imports bench/fire.py
    spec = importlib.util.spec_from_file_location("servflow_bench_replay", BENCH / "replay.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--quick"])
    assert "==" in capsys.readouterr().out
    assert {
        "chases_objects_events_per_s",
        "clocks_json_us_per_event",
        "chases_verify_us_per_event",
    } <= set(results)
    for name, value in results.items():
        assert isinstance(value, float), (name, value)
        assert math.isfinite(value), (name, value)
        assert value > 0, (name, value)
