"""Hostile templates (``tests/hostile/templates.yaml``), each under a time and memory ceiling.

A template is written by an analyst, but rendered with a case's data on every
notification: a sandbox escape, a loop or a value that grows without end must be refused
with a :class:`~servflow.render.forms.FormError` that says why, never run. Each case runs
in a child process (:func:`tests.bounded.run_bounded`) so that a regression fails one
test instead of taking the suite down.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from servflow import Actor, Case, Engine
from servflow.render.forms import FormError, Forms
from tests.bounded import run_bounded

CORPUS = yaml.safe_load(
    (Path(__file__).parent / "hostile" / "templates.yaml").read_text(encoding="utf-8")
)
CEILING = {"seconds": 5.0, "memory_mb": 256}
ENGINE = Engine.standard()
REPAIR = ENGINE.procedure("repair")
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CASE = ENGINE.start(
    "repair",
    actor=Actor(id="u7", roles={"repair_reception"}),
    data={
        "resident_name": "王小明",
        "address": "A-1203",
        "phone": "138 0000 0000",
        "fault": "<script>alert(1)</script>",
        "appointment_at": NINE + timedelta(hours=3),
    },
    at=NINE,
    case_id="R-1",
).case


def _render(folder: str, source: str, html: bool, case: Case) -> str:
    name = "住戶報修記錄表" if html else "work_order"
    path = Path(folder) / "templates" / "repair" / f"{name}.en.{'html' if html else 'txt'}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    try:
        return Forms(folder).render(REPAIR, case, name, "en")
    except FormError as exc:
        return f"FormError: {exc}"


@pytest.mark.parametrize("case", CORPUS["refused"], ids=lambda c: c["source"][:40])
def test_refused_with_a_reason(case: dict[str, Any], tmp_path: Path) -> None:
    result = run_bounded(_render, str(tmp_path), case["source"], False, CASE, **CEILING)
    assert result.verdict == "returned", str(result)
    assert result.value.startswith("FormError: "), result.value[:200]
    assert case["message"] in result.value
    # The message names the file and line, never a value of the case.
    assert "work_order.en.txt" in result.value
    for secret in ("王小明", "A-1203", "138 0000 0000", "alert"):
        assert secret not in result.value


@pytest.mark.parametrize("case", CORPUS["renders"], ids=lambda c: c["source"][:40])
def test_rendered_within_bounds(case: dict[str, Any], tmp_path: Path) -> None:
    html = case.get("html", False)
    result = run_bounded(_render, str(tmp_path), case["source"], html, CASE, **CEILING)
    assert result.verdict == "returned", str(result)
    assert not result.value.startswith("FormError"), result.value
    assert case["holds"] in result.value
    if "lacks" in case:
        assert case["lacks"] not in result.value


def test_the_corpus_covers_every_ceiling():
    messages = " ".join(c["message"] for c in CORPUS["refused"])
    for needed in ("unsafe", "loop turns", "longer than", "writes more than", "No filter"):
        assert needed in messages
