"""servflow's pytest plugin: scenario files named ``*.scenario.yaml`` become test items.

pytest loads this module for every run in an environment where servflow is installed
(the ``pytest11`` entry point), so it registers nothing but a collector for files whose
name ends in ``.scenario.yaml`` or ``.scenario.yml``, and imports servflow's scenario
runner only when such a file is found. A failing scenario is reported the way
``servflow test`` reports it: the step, its line, expected against actual and the
timeline so far. The procedures folder is the ``servflow_procedures`` ini option
(default: ``./procedures`` if it exists, else the standard catalogue).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from servflow.engine import Engine

__all__ = ["ScenarioFailed", "ScenarioFile", "ScenarioItem"]

_SUFFIXES = (".scenario.yaml", ".scenario.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "servflow_procedures",
        "folder of procedure files that *.scenario.yaml files run against",
        default="",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(_SUFFIXES):
        collector: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return collector
    return None


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
