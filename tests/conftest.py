"""Shared fixtures: the engine over the repository's procedures, actors, fixed times."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings

from servflow import Actor, Case, Engine, Rejected

# CI runs the property tests with a fixed seed, so that a submission is judged on the same
# examples every time; a developer's runs explore new ones (and keep the failures found in
# .hypothesis/, which CI never sees).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# `servflow check` warns of calendars whose published schedule ends within 60 days of
# today; the suite takes a fixed today so that it passes whatever the date it runs on.
os.environ.setdefault("SERVFLOW_TODAY", "2026-06-01")

# The loader's disk cache: a folder of this run's own, so that the suite neither reads
# what another run (or the developer's tools) left nor leaves anything behind. Files the
# suite loads twice are read from it the second time, so the cached path runs throughout.
if "SERVFLOW_CACHE" not in os.environ:
    os.environ["SERVFLOW_CACHE"] = tempfile.mkdtemp(prefix="servflow-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SERVFLOW_CACHE"], ignore_errors=True)

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")

SEED_ROLES = (
    "resident",
    "operator",
    "cs_staff",
    "cs_supervisor",
    "cs_manager",
    "repair_reception",
    "maintenance",
    "callback_officer",
    "cashier",
    "responsible_department",
)


@pytest.fixture(scope="session")
def seed_engine() -> Engine:
    """The engine over the standard procedures in ``<repo>/procedures``."""
    return Engine.from_directory(REPO / "procedures")


@pytest.fixture(scope="session")
def seed_actors() -> dict[str, Actor]:
    """One actor per role, holding only that role: ``seed_actors["cs_staff"]``."""
    return {role: Actor(id=f"u-{role}", roles=frozenset({role})) for role in SEED_ROLES}


@pytest.fixture(scope="session")
def seed_t0() -> datetime:
    """Monday 9 November 2026, 09:00 in Shanghai: a working day, office open."""
    return datetime(2026, 11, 9, 9, 0, tzinfo=SHANGHAI)


SeedReject = Callable[..., Rejected]


@pytest.fixture(scope="session")
def seed_reject(seed_engine: Engine) -> SeedReject:
    """Fire an event that must be refused; check the reason and that nothing changed."""

    def reject(
        case: Case,
        trigger: str,
        reason: str,
        *,
        actor: Actor,
        at: datetime,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Rejected:
        before = case.model_dump(mode="json")
        version = case.version
        with pytest.raises(Rejected) as info:
            seed_engine.fire(
                case, trigger, actor=actor, data=data, at=at, expected_version=expected_version
            )
        assert info.value.reason == reason, info.value
        assert case.version == version
        assert case.model_dump(mode="json") == before
        assert Case.model_validate(case.model_dump(mode="json")) == case
        return info.value

    return reject
