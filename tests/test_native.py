"""The optional compiled build: ``hatch_build.py``, ``SERVFLOW_COMPILE`` and what reports it.

The suite runs on the pure build (an editable install) and, in CI, a second time on a wheel
built with ``SERVFLOW_COMPILE=1`` with ``SERVFLOW_EXPECT_NATIVE=1`` set: then each module
the hook names must have been loaded from a C extension, and every other test of the run
holds the compiled engine to the same behaviour as the pure one.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hatchling.metadata.core import ProjectMetadata
from pydantic import BaseModel

from servflow.cli import main
from servflow.engine import native_modules
from servflow.engine.native import build_name
from tests.sources import source_path

ROOT = Path(__file__).resolve().parent.parent
EXPECT_NATIVE = os.environ.get("SERVFLOW_EXPECT_NATIVE") == "1"


def _hook_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("servflow_hatch_build", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook_module()
NAMED = tuple(sorted(path.removesuffix(".py").replace("/", ".") for path in HOOK.NATIVE))


def _hook(target: str = "wheel") -> Any:
    metadata = ProjectMetadata(str(ROOT), None)
    return HOOK.CompileHook(str(ROOT), {}, None, metadata, str(ROOT / "dist"), target)


def test_the_installation_is_the_build_it_was_asked_to_be() -> None:
    if EXPECT_NATIVE:
        assert native_modules() == NAMED
        for name in NAMED:
            module = importlib.import_module(name)
            assert module.__file__ is not None
            assert not module.__file__.endswith(".py"), name
    else:
        # The checkout's own (editable) install: no extension built into the source tree
        # shadows the code being edited.
        assert native_modules() == ()


def test_version_says_which_build(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    said = capsys.readouterr().out.strip()
    assert said.startswith("servflow ")
    expected = f"compiled: {len(NAMED)} modules" if EXPECT_NATIVE else "pure Python"
    assert said.endswith(f"({expected})")
    assert build_name() == expected


@pytest.mark.parametrize("path", HOOK.NATIVE)
def test_each_compiled_module_is_one_mypyc_can_compile(path: str) -> None:
    """The hook names existing engine modules that define no pydantic model: mypyc's
    native classes cannot be pydantic models (those modules stay interpreted)."""
    name = path.removesuffix(".py").replace("/", ".")
    assert name.startswith("servflow.engine.")
    module = importlib.import_module(name)
    assert source_path(module).as_posix().endswith(path)
    own = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == name]
    models = [cls.__name__ for cls in own if issubclass(cls, BaseModel)]
    assert models == [], f"{path} defines pydantic models: {models}"


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        ("1", True),
        ("true", True),
        (" Yes ", True),
        ("on", True),
        ("", False),
        ("0", False),
        ("false", False),
        ("no", False),
        ("compile", False),
    ],
)
def test_the_switch_reads_as_documented(
    monkeypatch: pytest.MonkeyPatch, value: str, wanted: bool
) -> None:
    monkeypatch.setenv(HOOK.SWITCH, value)
    assert HOOK.wanted() is wanted


def test_without_the_switch_the_build_is_pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOOK.SWITCH, raising=False)
    hook = _hook()
    assert hook.dependencies() == []
    build_data: dict[str, Any] = {"force_include": {}, "pure_python": True}
    hook.initialize("standard", build_data)
    assert build_data == {"force_include": {}, "pure_python": True}
    hook.finalize("standard", build_data, str(ROOT / "dist" / "none.whl"))


def test_with_the_switch_the_build_asks_for_mypyc_and_servflows_dependencies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(HOOK.SWITCH, "1")
    needed = _hook().dependencies()
    assert any(d.startswith("mypy") for d in needed)
    assert any(d.startswith("setuptools") for d in needed)
    # mypy reads servflow's configuration, whose pydantic plugin imports pydantic.
    assert any(d.startswith("pydantic") for d in needed)


def test_a_compiled_editable_install_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOOK.SWITCH, "1")
    build_data: dict[str, Any] = {"force_include": {}, "pure_python": True}
    with pytest.raises(RuntimeError, match=r"editable install.*pip install \."):
        _hook().initialize("editable", build_data)
    assert build_data == {"force_include": {}, "pure_python": True}


def test_only_wheels_are_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOOK.SWITCH, "1")
    build_data: dict[str, Any] = {"force_include": {}}
    _hook("sdist").initialize("standard", build_data)
    assert build_data == {"force_include": {}}
