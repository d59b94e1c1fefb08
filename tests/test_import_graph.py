"""scripts/import_graph.py: it finds cycles and upward imports, lazy ones too, and passes a
clean tree. Run on small package trees written here, laid out like src/servflow."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_graph.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


graph_script = _script()

# A clean servflow-shaped tree: every import points down or stays in its layer.
CLEAN = {
    "__init__.py": "from servflow.desk import Desk\nfrom servflow.engine import Engine\n",
    "errors.py": "class ServflowError(Exception): ...\n",
    "_hints.py": "import difflib\n",
    "model.py": "from servflow.errors import ServflowError\nfrom servflow import _hints\n",
    "engine/__init__.py": "from servflow.engine.core import Engine\n",
    "engine/core.py": (
        "from servflow.model import X\nfrom .rules import choose\n"
        "def f():\n    from servflow.engine import rules\n"
    ),
    "engine/rules.py": "from servflow.errors import ServflowError\n",
    "procedures/__init__.py": "from servflow.procedures.load import load\n",
    "procedures/load.py": "import yaml\nfrom servflow.engine.rules import choose\n",
    "store/__init__.py": "",
    "store/memory.py": "from servflow.engine import Engine\n",
    "desk.py": "from servflow.store.memory import MemoryStore\n",
    "render/__init__.py": "from servflow.procedures import load\n",
    "testing/__init__.py": "from servflow.render import x\n",
    "commands/__init__.py": "",
    "commands/demo.py": "from servflow.testing import kit\nfrom servflow import Engine\n",
    "cli.py": "import importlib\nfrom servflow.commands import demo\n",
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    package = root / "servflow"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def _run(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(package)],
        capture_output=True,
        text=True,
        check=False,
        cwd=package.parent,
    )


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    result = _run(_tree(tmp_path, CLEAN))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "17 modules, 0 violations"
    # Relative and lazy imports are edges too; `from servflow.engine import rules` is an
    # import of the module servflow.engine.rules.
    assert "servflow.engine.core [engine] -> servflow.engine.rules, servflow.model\n" in (
        result.stdout
    )
    assert "servflow.store.memory [store] -> servflow.engine\n" in result.stdout


def test_a_lazy_upward_import_is_caught(tmp_path: Path) -> None:
    # The engine reaching up to the loader inside a function, as Engine.__init__ once did.
    files = dict(CLEAN)
    files["engine/core.py"] += "def g():\n    from servflow.procedures.load import load\n"
    result = _run(_tree(tmp_path, files))
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("upward:")]
    assert problems == [
        "upward: servflow.engine.core (engine) imports servflow.procedures (language) "
        "at servflow/engine/core.py:6",
        "upward: servflow.engine.core (engine) imports servflow.procedures.load (language) "
        "at servflow/engine/core.py:6",
    ]


def test_the_model_must_not_import_the_engine(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["model.py"] += "from servflow.engine.rules import choose\n"
    result = _run(_tree(tmp_path, files))
    assert result.returncode == 1
    assert (
        "upward: servflow.model (model) imports servflow.engine.rules (engine) "
        "at servflow/model.py:3" in result.stdout
    )
    # ... which also closes a loop through the engine package's __init__.
    assert (
        "cycle: servflow.engine -> servflow.engine.core -> servflow.model -> servflow.engine"
        in result.stdout
    )


def test_a_cycle_inside_one_layer_is_caught(tmp_path: Path) -> None:
    # Both imports point sideways (same layer), so only the cycle is wrong; one of them is
    # written relative and under TYPE_CHECKING, and still counts.
    files = dict(CLEAN)
    files["engine/rules.py"] += (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .core import Engine\n"
    )
    result = _run(_tree(tmp_path, files))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith(("cycle:", "upward:"))] == [
        "cycle: servflow.engine.core -> servflow.engine.rules -> servflow.engine.core"
    ]
    assert lines[-1] == "17 modules, 1 violations"


def test_a_module_no_layer_claims_is_reported(tmp_path: Path) -> None:
    files = dict(CLEAN)
    files["plugins.py"] = ""
    result = _run(_tree(tmp_path, files))
    assert result.returncode == 1
    assert "unplaced: servflow.plugins belongs to no layer" in result.stdout


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("servflow", "api"),
        ("servflow.errors", "base"),
        ("servflow.model", "model"),
        ("servflow.calendar_spec", "model"),
        ("servflow.bounds", "base"),
        ("servflow.engine.calendar", "engine"),
        ("servflow.procedures.load", "language"),
        ("servflow.catalogue", "language"),
        ("servflow.commands.demo", "cli"),
        ("servflow.cli", "cli"),
    ],
)
def test_layers_of_the_real_modules(module: str, layer: str) -> None:
    index = graph_script.layer_of(module, "servflow")
    assert graph_script.LAYERS[index][0] == layer


def test_every_real_module_has_a_layer() -> None:
    modules = graph_script.module_names(SCRIPT.parent.parent / "src" / "servflow")
    assert [m for m in modules if graph_script.layer_of(m, "servflow") is None] == []


def test_cycles_are_found_without_recursion_on_a_long_chain() -> None:
    chain = {f"m{i}": {f"m{i + 1}"} for i in range(5000)}
    chain["m5000"] = {"m0"}
    (group,) = graph_script.cycles(chain)
    assert len(group) == 5001
    assert graph_script.cycles({"a": {"b"}, "b": set()}) == []


def test_the_layer_diagram_leaves_out_what_a_middle_layer_implies(tmp_path: Path) -> None:
    diagram = graph_script.layer_diagram(_tree(tmp_path, CLEAN))
    lines = diagram.splitlines()
    assert lines[0] == "flowchart BT"
    assert '    engine["engine: engine"]' in lines
    assert '    api["api: servflow"]' in lines
    # The desk imports the store, which imports the engine: one path, two arrows.
    assert "    desk --> store" in lines
    assert "    store --> engine" in lines
    assert "    desk --> engine" not in lines
    # The CLI imports the testing kit and the public package, neither through the other.
    assert {"    cli --> testing", "    cli --> api"} <= set(lines)


# -- the real tree -------------------------------------------------------------------------

SRC = SCRIPT.parent.parent / "src" / "servflow"


def test_every_import_of_servflow_points_down() -> None:
    _, problems = graph_script.violations(SRC)
    # No upward import, no unplaced module and no cycle, inside the engine or out: the
    # modules that build a step sit below the Engine that calls them.
    assert problems == []


def test_the_script_passes_on_the_real_tree() -> None:
    """What CI runs: the script itself, exiting 0 on the source as it is."""
    assert graph_script.main(["--quiet"]) == 0


def test_the_architecture_page_shows_the_layers_as_they_are() -> None:
    page = (SCRIPT.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = graph_script.layer_diagram(SRC)
    assert f"```mermaid\n{diagram}```\n" in page, "rerun scripts/import_graph.py --mermaid"


def test_the_layer_diagram_is_mermaid_that_draws_the_edges_it_lists() -> None:
    from tests.parsers import MermaidParser

    diagram = graph_script.layer_diagram(SRC)
    parser = MermaidParser()
    try:
        parsed = parser.parse(diagram)
    finally:
        parser.close()
    assert parsed["ok"], parsed.get("error")
    arrows = [line.split() for line in diagram.splitlines() if " --> " in line]
    assert [(e["start"], e["end"]) for e in parsed["edges"]] == [(a, b) for a, _, b in arrows]
    assert ("engine", "model") in [(a, b) for a, _, b in arrows]
