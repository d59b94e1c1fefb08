"""The procedure language: YAML files -> validated, frozen models, with precise diagnostics.

Loading runs in layers: :func:`~servflow.procedures.source.read_yaml` (safe YAML with
positions) -> the pydantic models of :mod:`servflow.model` -> the static checks of
:mod:`servflow.procedures.checks`. Every problem comes back as a
:class:`~servflow.errors.Diagnostic` with file, line, column and a stable code.
"""

import warnings
from typing import Any

from servflow.errors import DefinitionError, Diagnostic
from servflow.model import (
    Branch,
    EffectSpec,
    FieldSpec,
    Invariant,
    Procedure,
    Role,
    Start,
    State,
    TimeLimit,
    TimeLimitTarget,
)
from servflow.procedures.checks import check_procedure
from servflow.procedures.load import (
    CalendarFile,
    Catalogue,
    LoadResult,
    digest_of,
    load_catalogue,
    load_file,
    load_procedure,
    load_text,
)
from servflow.procedures.source import SourceMap, read_yaml

__all__ = [
    "Branch",
    "CalendarFile",
    "Catalogue",
    "DefinitionError",
    "Diagnostic",
    "EffectSpec",
    "FieldSpec",
    "Invariant",
    "LoadResult",
    "Procedure",
    "Role",
    "SourceMap",
    "Start",
    "State",
    "TimeLimit",
    "TimeLimitTarget",
    "check_procedure",
    "digest_of",
    "load_catalogue",
    "load_file",
    "load_procedure",
    "load_text",
    "read_yaml",
]


def __getattr__(name: str) -> Any:
    # A deprecated name only (PEP 562): see servflow.model.EffectSpec.
    if name == "Effect":
        warnings.warn(
            "servflow.procedures.Effect is deprecated: the YAML specification of an effect "
            "is EffectSpec (servflow.Effect is what the engine returns)",
            DeprecationWarning,
            stacklevel=2,
        )
        return EffectSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
