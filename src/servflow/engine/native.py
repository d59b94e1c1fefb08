"""Which of servflow's modules this installation runs compiled.

servflow's wheel is pure Python unless it was built with ``SERVFLOW_COMPILE=1`` (see
docs/hosting.md, "A compiled engine"): then the engine's hot modules are C extensions
that mypyc made from the same typed sources. Both builds behave alike; the compiled one
is faster. :func:`native_modules` tells a host (or a deployment check) which it has, and
``servflow --version`` prints the same.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def native_modules() -> tuple[str, ...]:
    """The dotted names of servflow's modules installed as C extensions, sorted.

    Python loads an extension module before a source file of the same name, so these are
    the modules that run compiled. The empty tuple means the pure-Python build (an
    editable install, or a wheel built without ``SERVFLOW_COMPILE``).
    """
    # The longest suffix first: ".cpython-311-x86_64-linux-gnu.so" before ".so".
    suffixes = sorted(EXTENSION_SUFFIXES, key=len, reverse=True)
    names: set[str] = set()
    for path in _PACKAGE.rglob("*"):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is not None and path.is_file():
            parts = path.relative_to(_PACKAGE.parent).parts
            names.add(".".join((*parts[:-1], path.name.removesuffix(suffix))))
    return tuple(sorted(names))


def build_name() -> str:
    """``"pure Python"``, or ``"compiled: N modules"`` for a compiled build."""
    native = native_modules()
    return f"compiled: {len(native)} modules" if native else "pure Python"
