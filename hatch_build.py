"""servflow's optional compiled build: the engine's hot modules compiled with mypyc.

``SERVFLOW_COMPILE=1 pip install servflow`` (or ``pip install .``, ``pip wheel .``) builds
a wheel in which the modules listed in :data:`NATIVE` are C extensions made by mypyc, the
compiler that ships with mypy, from the same typed sources the pure wheel carries: there is
no second implementation to keep in step, and ``mypy --strict`` already holds the types
mypyc relies on. Any other build is pure Python and installs everywhere; an editable
install is refused, since it runs the sources as they are edited and a compiled module
would shadow them.

docs/hosting.md says when the compiled build pays and how to check an installation;
docs/performance.md has what it gives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SWITCH = "SERVFLOW_COMPILE"

# The engine's arithmetic, rules, checks and replay: what a fire and a replay spend their
# time in. Modules that hosts subclass (core: Engine), that are weakly referenced
# (compiled: CompiledProcedure) or that define pydantic models stay interpreted, since
# mypyc's native classes allow none of these; so does durations, whose public Duration
# and parse_duration check their arguments with messages of their own (a compiled
# function checks its arguments' types first, in words of mypyc's).
NATIVE = (
    "servflow/engine/calendar.py",
    "servflow/engine/due.py",
    "servflow/engine/expr.py",
    "servflow/engine/integrity.py",
    "servflow/engine/limits.py",
    "servflow/engine/provisional.py",
    "servflow/engine/rules.py",
    "servflow/engine/schedule.py",
    "servflow/engine/step.py",
    "servflow/engine/timing.py",
    "servflow/engine/values.py",
    "servflow/engine/verify.py",
)

# mypyc's setup script, run in a directory of its own: setuptools must not read
# servflow's pyproject.toml (hatchling builds the wheel, setuptools only the extensions).
_SETUP = """\
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="servflow-native",
    ext_modules=mypycify({args!r}, opt_level="3"),
)
"""


def wanted() -> bool:
    """Whether this build was asked to compile (``SERVFLOW_COMPILE`` set to a true value)."""
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles :data:`NATIVE` into the wheel when :func:`wanted`; does nothing otherwise."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        if not wanted():
            return []
        # mypy (with mypyc) and setuptools build the extensions; mypy reads servflow's
        # configuration, whose pydantic plugin needs servflow's own dependencies.
        return [
            "mypy>=1.10",
            "setuptools>=69",
            "types-PyYAML",
            "types-python-dateutil",
            *self.metadata.core.dependencies,
        ]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._work: Path | None = None
        if not wanted() or self.target_name != "wheel":
            return
        if version == "editable":
            raise RuntimeError(
                f"{SWITCH} asks for a compiled build, and an editable install runs the "
                "sources as they are edited: install a wheel instead "
                f"({SWITCH}=1 pip install .), or leave {SWITCH} unset"
            )
        root = Path(self.root)
        sources = [str(root / "src" / module) for module in NATIVE]
        args = ["--config-file", str(root / "pyproject.toml"), *sources]
        work = Path(tempfile.mkdtemp(prefix="servflow-native-"))
        self._work = work
        (work / "setup.py").write_text(_SETUP.format(args=args), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "setup.py", "build_ext", "--build-lib", "lib", "--build-temp", "tmp"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(
                "mypyc could not compile servflow's engine:\n"
                + done.stdout.decode("utf-8", "replace")
            )
        lib = work / "lib"
        built = [p for p in sorted(lib.rglob("*")) if p.is_file() and p.suffix in {".so", ".pyd"}]
        expected = {Path(module).with_suffix("").as_posix() for module in NATIVE}
        made = {p.relative_to(lib).as_posix().split(".")[0] for p in built}
        if not expected <= made:
            raise RuntimeError(f"mypyc built no extension for {sorted(expected - made)}")
        for path in built:
            build_data["force_include"][str(path)] = path.relative_to(lib).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work: Path | None = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
