"""The engine is a pure core: no I/O modules, no clock, nothing above it imported.

Read from the source (no module of the engine names an I/O module or reads the clock) and
seen at run time: a subprocess builds an engine from procedures written in Python, runs a
case through it (time limits, an automatic step, replay, verification) and lists the
modules that got loaded, so a lazy import of the loader cannot slip back in.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ENGINE_DIR = Path(__file__).resolve().parent.parent / "src" / "servflow" / "engine"
FORBIDDEN = {
    "yaml",
    "sqlite3",
    "sqlalchemy",
    "time",
    "threading",
    "os",
    "random",
    "socket",
    "subprocess",
    "uuid",
}


def test_engine_modules_import_no_io():
    for path in sorted(ENGINE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            assert not set(names) & FORBIDDEN, f"{path.name}:{node.lineno} imports {names}"


def test_engine_never_reads_the_clock():
    for path in sorted(ENGINE_DIR.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in (".now(", ".today(", "utcnow(", "time.time", "monotonic("):
            assert needle not in text, f"{path.name} reads the clock ({needle})"


def test_importing_the_engine_loads_no_yaml_or_database():
    code = (
        "import sys, servflow.engine\n"
        "bad = sorted(m for m in ('yaml', 'sqlite3', 'sqlalchemy', 'psycopg') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


# -- building and running an engine loads nothing above it ---------------------------------

GRAPH_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_graph.py"

# A procedure built in Python (no file, no loader), with a time limit that counts in a
# calendar of its own, and a whole life: open, breach, fire, replay, verify. Whatever of the
# engine runs here is imported here, lazy imports included.
RUN_AN_ENGINE = """
import json, sys
from datetime import datetime, timedelta, timezone
from servflow.calendar_spec import CalendarSpec
from servflow.engine import Actor, Engine
from servflow.model import Procedure

proc = Procedure.model_validate({
    "servflow": 1, "id": "mini", "version": 1, "title": {"en": "Mini"}, "calendar": "office",
    "roles": {"clerk": {}},
    "fields": {"note": {"type": "text"}},
    "states": {"open": {}, "late": {}, "done": {"final": True}},
    "start": {"to": "open", "roles": ["clerk"], "requires": ["note"]},
    "transitions": {
        "overdue": {"from": "open", "to": "late", "roles": ["clerk"]},
        "finish": {"from": ["open", "late"], "to": "done", "roles": ["clerk"]},
    },
    "time_limits": {"reply": {
        "starts": {"entered": "open"}, "stops": {"left": "open"},
        "within": [{"limit": "2h"}], "warn_at": ["50%"],
        "on_breach": [{"notify": "clerk"}, {"fire": "overdue"}],
    }},
})
office = CalendarSpec.model_validate({
    "timezone": "Asia/Shanghai",
    "hours": {day: ["09:00-12:00", "13:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
})
engine = Engine([proc], calendars={"office": office})
clerk = Actor(id="u1", roles={"clerk"})
at = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))
out = engine.start("mini", actor=clerk, data={"note": "x"}, at=at, case_id="c1")
late = engine.advance(out.case, at=at + timedelta(days=1))
assert late.case.state == "late", late.case.state
done = engine.fire(late.case, "finish", actor=clerk, at=at + timedelta(days=2))
events = [*out.events, *late.events, *done.events]
assert engine.replay(events) == done.case
assert engine.verify(events, stored=done.case).ok
engine.available(done.case, clerk, at=at + timedelta(days=2))
print(json.dumps(sorted(sys.modules)))
"""

# Run with a bare `servflow` package in place of the real one, whose __init__ re-exports
# the desk and the public Engine: what loads is what the engine itself pulls in.
ENGINE_ALONE = """
import importlib.util, sys, types
spec = importlib.util.find_spec("servflow")
root = types.ModuleType("servflow")
root.__path__ = list(spec.submodule_search_locations)
sys.modules["servflow"] = root
"""

# YAML and storage, which an engine must not need. (Standard modules such as `socket` are
# loaded by the libraries the engine uses, pydantic's e-mail support among them; that the
# engine's own modules name none of them is the source check above.)
NOT_FOR_THE_ENGINE = ("yaml", "sqlite3", "sqlalchemy", "psycopg")


def _graph_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph_for_isolation", GRAPH_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _modules_after(prelude: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", prelude + RUN_AN_ENGINE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_an_engine_built_and_run_loads_nothing_above_it():
    graph = _graph_script()
    names = [name for name, _ in graph.LAYERS]
    highest = names.index("engine")
    loaded = _modules_after(ENGINE_ALONE)
    ours = [m for m in loaded if m == "servflow" or m.startswith("servflow.")]
    above = [m for m in ours if (graph.layer_of(m, "servflow") or 0) > highest and m != "servflow"]
    assert above == [], f"building and running an engine imported {above}"
    assert [m for m in ours if graph.layer_of(m, "servflow") is None] == []
    # The check must be able to fail: the engine and the model did load.
    assert {"servflow.engine.core", "servflow.engine.verify", "servflow.model"} <= set(ours)
    assert [m for m in NOT_FOR_THE_ENGINE if m in loaded] == []


def test_the_public_package_loads_no_loader_until_a_file_is_read():
    loaded = _modules_after("import servflow\n")
    # `import servflow` brings the desk and the stores (re-exported there), not the loader,
    # the renderers, the testing kit or a database driver.
    above = {"procedures", "render", "testing", "commands", "cli"}
    unwanted = [
        m
        for m in loaded
        if m in NOT_FOR_THE_ENGINE or (m.startswith("servflow.") and m.split(".")[1] in above)
    ]
    assert unwanted == []
    assert "servflow.catalogue" in loaded  # where servflow.Engine lives, loaded but idle
