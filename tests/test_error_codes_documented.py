"""Every diagnostic code the loader, checks and lint can emit is documented in errors.md."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = [
    "commands/check.py",
    "engine/links.py",
    "procedures/advice.py",
    "procedures/checks.py",
    "procedures/counts.py",
    "procedures/labels.py",
    "procedures/lint.py",
    "procedures/load.py",
    "procedures/schedules.py",
    "procedures/measures.py",
    "procedures/source.py",
    "render/forms.py",
]
NOT_CODES = re.compile(r"^(zh|en)-|^utf-")


def test_every_diagnostic_code_is_documented():
    codes: set[str] = set()
    for name in SOURCES:
        text = (REPO / "src" / "servflow" / name).read_text(encoding="utf-8")
        codes |= {
            c for c in re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', text) if not NOT_CODES.match(c)
        }
    assert len(codes) > 30
    documented = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    assert sorted(c for c in codes if f"`{c}`" not in documented) == []


def test_every_rejection_reason_is_documented():
    from typing import get_args

    from servflow.errors import RejectionReason

    documented = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    assert [r for r in get_args(RejectionReason) if f"`{r}`" not in documented] == []
