"""Guards and rules: analyst-written expressions, compiled once in a jinja2 sandbox.

An expression such as ``priority != 'emergency' or technician_on_call`` is compiled when
the procedure loads, by jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`
(no attribute access to internals, no mutation of values, no imports). Nothing an analyst
writes ever reaches ``eval`` or ``exec``. Compilation also lists the names the expression
reads, so that the loader can report an unknown field at its position, and so that the
engine hands each expression only the values it needs.

``compile_expression`` is called with ``undefined_to_none=False`` and ``StrictUndefined``:
jinja2 would otherwise turn a misspelt name quietly into ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from servflow.errors import EvaluationError

__all__ = ["Expression", "ExpressionSyntaxError", "compile_expression", "constants_of"]

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
# Expressions see the case, not the global helpers jinja2 offers templates.
_ENV.globals.clear()

# Longest expression accepted: guards are one-liners; this bounds compile cost.
MAX_LENGTH = 2000


class ExpressionSyntaxError(ValueError):
    """The expression does not parse; ``offset`` is where, within the text (0-based)."""

    def __init__(self, message: str, offset: int | None) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled expression and the names it reads."""

    source: str
    names: frozenset[str]
    _call: Callable[..., Any]

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The expression's value in ``scope``; an :class:`EvaluationError` if it fails."""
        try:
            value = self._call(scope)
        except (UndefinedError, SecurityError, TypeError, ValueError, ArithmeticError) as exc:
            raise EvaluationError(self.source, str(exc)) from None
        if isinstance(value, Undefined):
            # e.g. an attribute the sandbox refused: never let the placeholder escape.
            raise EvaluationError(self.source, "the expression reads something that is not there")
        return value

    def holds(self, scope: Mapping[str, Any]) -> bool:
        return bool(self.evaluate(scope))


def _parse(source: str) -> nodes.Template:
    if len(source) > MAX_LENGTH:
        raise ExpressionSyntaxError(f"expression longer than {MAX_LENGTH} characters", 0)
    if "{{" in source or "}}" in source or "{%" in source or "%}" in source:
        raise ExpressionSyntaxError("write the expression without {{ }} or {% %}", 0)
    try:
        return _ENV.parse("{{ (" + source + "\n) }}")
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(exc.message or "syntax error", _offset(source, exc)) from None


def _offset(source: str, exc: TemplateSyntaxError) -> int | None:
    # jinja2 reports the line only; expressions are almost always one line.
    lines = source.split("\n")
    line = max(1, min(exc.lineno, len(lines)))
    return sum(len(part) + 1 for part in lines[: line - 1])


def compile_expression(source: str) -> Expression:
    """Compile ``source`` in the sandbox; raises :class:`ExpressionSyntaxError`."""
    tree = _parse(source)
    names = frozenset(meta.find_undeclared_variables(tree))
    try:
        compiled = _ENV.compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:  # pragma: no cover - _parse saw the same text
        raise ExpressionSyntaxError(exc.message or "syntax error", 0) from None
    template = compiled._template
    root = template.root_render_func
    new_context = template.new_context

    def call(scope: Mapping[str, Any]) -> Any:
        context = new_context(dict(scope))
        for _ in root(context):
            pass
        return context.vars["result"]

    return Expression(source, names, call)


def constants_of(source: str) -> dict[str, set[Any]]:
    """Literal constants compared with each name (``priority == 'x'`` gives {'priority': {'x'}}).

    Used by the static checks to search small value domains for overlapping guards.
    """
    found: dict[str, set[Any]] = {}
    tree = _parse(source)
    for compare in tree.find_all(nodes.Compare):
        operands = [compare.expr, *(op.expr for op in compare.ops)]
        names = [n.name for n in operands if isinstance(n, nodes.Name)]
        consts = [c.value for c in operands if isinstance(c, nodes.Const)]
        for op in compare.ops:
            if isinstance(op.expr, nodes.List | nodes.Tuple):
                consts.extend(i.value for i in op.expr.items if isinstance(i, nodes.Const))
        for name in names:
            found.setdefault(name, set()).update(c for c in consts if _hashable(c))
    return found


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
