"""The engine is a pure core: no I/O modules, no clock, no mutation of its inputs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
