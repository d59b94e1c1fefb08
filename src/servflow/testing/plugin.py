"""servflow's pytest plugin: scenario files become test items; procedures can be explored.

pytest loads this module for every run in an environment where servflow is installed
(the ``pytest11`` entry point), so it registers nothing but a collector for files whose
name ends in ``.scenario.yaml`` or ``.scenario.yml``, and imports servflow's scenario
runner only when such a file is found. A failing scenario is reported the way
``servflow test`` reports it: the step, its line, expected against actual and the
timeline so far. The procedures folder is the ``servflow_procedures`` ini option
(default: ``./procedures`` if it exists, else the standard catalogue).

With ``--servflow-explore`` (``pytest --servflow-explore procedures/``), every procedure
file among the paths collected becomes one test item per procedure, which fails with the
findings of :func:`servflow.testing.explore.explore` (``servflow explore``). The random
lives' seed is 0 under ``CI=true`` (a run is repeatable) and random otherwise; a seed
that found something is saved in hypothesis' example database (``.hypothesis/``) and
tried first on the next runs until the procedure explores clean with it. The budgets are
the ``servflow_explore_steps`` and ``servflow_explore_lives`` ini options.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from servflow.engine import Engine

__all__ = [
    "ExplorationFailed",
    "ExploreFile",
    "ExploreItem",
    "ScenarioFailed",
    "ScenarioFile",
    "ScenarioItem",
]

_SUFFIXES = (".scenario.yaml", ".scenario.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "servflow_procedures",
        "folder of procedure files that *.scenario.yaml files run against",
        default="",
    )
    parser.addoption(
        "--servflow-explore",
        action="store_true",
        default=False,
        help="explore every procedure file collected (servflow explore) as test items",
    )
    parser.addini("servflow_explore_steps", "engine steps per explored procedure", default="")
    parser.addini("servflow_explore_lives", "random lives per explored procedure", default="")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(_SUFFIXES):
        collector: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return collector
    if (
        file_path.suffix in (".yaml", ".yml")
        and parent.config.getoption("servflow_explore", False)
        and _is_procedure(file_path)
    ):
        explored: ExploreFile = ExploreFile.from_parent(parent, path=file_path)
        return explored
    return None


def _is_procedure(path: Path) -> bool:
    from servflow.procedures.source import peek_source

    text = peek_source(path)
    return text is not None and "\nservflow:" in f"\n{text}" and "\nstates:" in f"\n{text}"


class ScenarioFailed(Exception):
    """A scenario did not go as written; the message is the runner's report."""


class ScenarioFile(pytest.File):
    """One scenario file: one test item."""

    def collect(self) -> list[pytest.Item]:
        return [ScenarioItem.from_parent(self, name=self.path.name)]


# Engines built in this run, by (procedures folder, procedure): one per session, so a
# changed procedure file is read afresh by the next run.
_ENGINES = pytest.StashKey[dict[tuple[str, str], "Engine"]]()


class ScenarioItem(pytest.Item):
    """Runs one scenario file in memory; fails with the runner's report."""

    def runtest(self) -> None:
        from servflow.testing import engine_for, load_scenario, run_scenario

        scenario = load_scenario(self.path)
        folder = str(self.config.getini("servflow_procedures") or "") or None
        target = scenario.procedure_path
        key = (folder or "", str(target.resolve()) if target is not None else scenario.procedure)
        engines = self.config.stash.setdefault(_ENGINES, {})
        if key not in engines:
            engines[key] = engine_for(scenario, folder)
        result = run_scenario(scenario, engines[key])
        if not result.passed:
            raise ScenarioFailed(result.report())

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        from servflow.errors import DefinitionError

        if isinstance(excinfo.value, ScenarioFailed | DefinitionError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"scenario {self.path.name}"


# -- exploration ---------------------------------------------------------------------------


class ExplorationFailed(Exception):
    """Exploration found something; the message lists the findings and the seed."""


class ExploreFile(pytest.File):
    """A procedure file explored with ``--servflow-explore``: one item per procedure."""

    def collect(self) -> list[pytest.Item]:
        from servflow.procedures.load import load_catalogue

        catalogue = load_catalogue([self.path])
        own = [r for r in catalogue.results if Path(r.file).resolve() == self.path.resolve()]
        if not own or own[0].procedure is None or not own[0].ok:
            return [ExploreItem.from_parent(self, name=f"explore {self.path.name}", procedure="")]
        proc = own[0].procedure
        return [ExploreItem.from_parent(self, name=f"explore {proc.id}", procedure=proc.id)]


def _seed_key(path: Path, procedure: str) -> bytes:
    return f"servflow-explore:{path.resolve()}:{procedure}".encode()


class ExploreItem(pytest.Item):
    """Explores one procedure; fails with its findings."""

    def __init__(self, *, procedure: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.procedure = procedure

    def _budget(self, name: str, default: int) -> int:
        value = str(self.config.getini(name) or "").strip()
        return int(value) if value else default

    def runtest(self) -> None:
        import os
        import random

        from hypothesis import settings

        from servflow.catalogue import Engine
        from servflow.errors import DefinitionError
        from servflow.procedures.load import latest_with_links, linked_procedures, load_catalogue
        from servflow.testing.explore import DEFAULT_LIVES, DEFAULT_STEPS, explore

        catalogue = load_catalogue([self.path])
        if catalogue.errors:
            raise DefinitionError(catalogue.errors)  # shown as is
        # With the procedures its links open, read from beside the file (a repair opens
        # its callback), as `servflow explore` runs it.
        procs = catalogue.procedures
        linked = linked_procedures(procs, latest_with_links(catalogue))
        engine = Engine([*procs, *linked], calendars=catalogue.calendars)
        steps = self._budget("servflow_explore_steps", DEFAULT_STEPS)
        lives = self._budget("servflow_explore_lives", DEFAULT_LIVES)
        database = settings().database
        key = _seed_key(self.path, self.procedure)
        saved = sorted(int(v) for v in database.fetch(key)) if database is not None else []
        ci = os.environ.get("CI", "").lower() == "true"
        fresh = 0 if ci else random.SystemRandom().randrange(2**31)
        for seed in [*saved, *([fresh] if fresh not in saved else [])]:
            result = explore(
                engine, self.procedure, lives=lives, steps=steps, seed=seed, file=self.path
            )
            if result.findings:
                if database is not None:
                    database.save(key, str(seed).encode())
                lines = [
                    f"servflow explore found {len(result.findings)} problem(s) in "
                    f"{self.path.name} (seed {seed}; reproduce with "
                    f"`servflow explore --seed {seed} --steps {steps} --lives {lives} "
                    f"{self.path}`):"
                ]
                lines += [f"  {f.kind} {f.subject}: {f.message}" for f in result.findings]
                raise ExplorationFailed("\n".join(lines))
            if database is not None and seed in saved:
                database.delete(key, str(seed).encode())

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        from servflow.errors import DefinitionError

        if isinstance(excinfo.value, ExplorationFailed | DefinitionError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"explore {self.procedure or self.path.name}"
