"""Where a module's source is, whichever build of servflow is installed.

Tests that read servflow's code (to check what a module imports, or what its docstrings
name) need the ``.py`` file. In the pure build that is ``module.__file__``; in the compiled
build (``SERVFLOW_COMPILE=1``, see docs/hosting.md) ``__file__`` names the C extension,
and the wheel carries the source beside it.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType


def source_path(module: ModuleType) -> Path:
    """The ``.py`` file ``module`` was built from."""
    assert module.__file__ is not None, module.__name__
    path = Path(module.__file__)
    for suffix in EXTENSION_SUFFIXES:
        if path.name.endswith(suffix):
            path = path.with_name(path.name.removesuffix(suffix) + ".py")
            break
    assert path.suffix == ".py", path
    assert path.is_file(), path
    return path


def source_text(module: ModuleType) -> str:
    return source_path(module).read_text(encoding="utf-8")
