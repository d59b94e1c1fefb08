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

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from servflow.errors import EvaluationError

__all__ = ["Expression", "ExpressionSyntaxError", "compile_expression", "constants_of"]


class _Sandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, with repetition (``'x' * n``) bounded as in the fast path."""

    intercepted_binops = frozenset({"*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            return _mul(left, right)
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False)
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
        except (
            UndefinedError,
            SecurityError,
            TypeError,
            ValueError,
            ArithmeticError,
            AttributeError,
            LookupError,
        ) as exc:
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
    if "**" in source:
        # Powers are not needed in a guard, and 9**9**9 would never finish.
        raise ExpressionSyntaxError(
            "'**' (power) is not allowed in expressions", source.index("**")
        )
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
    try:
        # Both compile the tree, which is when jinja2 finds unknown filters and tests
        # (`a o| b` reads as the filter `b`): a TemplateAssertionError, a syntax error too.
        names = frozenset(meta.find_undeclared_variables(tree))
        compiled = _ENV.compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(exc.message or "syntax error", _offset(source, exc)) from None
    template = compiled._template
    root = template.root_render_func
    new_context = template.new_context

    def sandboxed(scope: Mapping[str, Any]) -> Any:
        context = new_context(dict(scope))
        for _ in root(context):
            pass
        return context.vars["result"]

    output = tree.body[0]
    assert isinstance(output, nodes.Output)
    fast = _closure(output.nodes[0])
    return Expression(source, names, fast if fast is not None else sandboxed)


# -- the fast path ---------------------------------------------------------------------
#
# Guards are small: names, constants, comparisons, and/or/not, `is none`. For those, the
# parsed jinja2 tree is turned into nested Python closures, which evaluate about ten
# times faster than rendering the compiled template (no Context object per call). Anything
# else (attribute access, calls, other filters) runs through the sandboxed template, so
# the fast path never widens what an expression can do. `tests/test_expressions.py`
# checks that both paths agree.

Fn = Callable[[Mapping[str, Any]], Any]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lteq": operator.le,
    "gt": operator.gt,
    "gteq": operator.ge,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}

_TESTS: dict[str, Callable[[Any], bool]] = {
    "none": lambda v: v is None,
    "true": lambda v: v is True,
    "false": lambda v: v is False,
    "boolean": lambda v: v is True or v is False,
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "defined": lambda v: True,
}

_FILTERS: dict[str, Callable[[Any], Any]] = {
    "length": len,
    "count": len,
    "lower": lambda v: v.lower(),
    "upper": lambda v: v.upper(),
    "trim": lambda v: v.strip(),
    "abs": abs,
}

_MAX_PRODUCT = 10_000


def _mul(a: Any, b: Any) -> Any:
    # "x" * 10**9 would exhaust memory: repetition of text or lists is bounded.
    if isinstance(a, str | list | tuple) or isinstance(b, str | list | tuple):
        count = b if isinstance(a, str | list | tuple) else a
        if (
            isinstance(count, int)
            and count * len(a if isinstance(a, str | list | tuple) else b) > _MAX_PRODUCT
        ):
            raise ValueError("repetition too large")
    return a * b


_BINARY: dict[type[nodes.BinExpr], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: _mul,
    nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv,
    nodes.Mod: operator.mod,
}


def _closure(node: nodes.Node) -> Fn | None:
    """A closure computing ``node``, or None if the node is outside the fast subset."""
    if isinstance(node, nodes.Const):
        value = node.value
        return lambda scope: value
    if isinstance(node, nodes.Name):
        name = node.name

        def read(scope: Mapping[str, Any]) -> Any:
            try:
                return scope[name]
            except KeyError:
                raise ValueError(f"{name!r} is undefined") from None

        return read
    if isinstance(node, nodes.List | nodes.Tuple):
        items = [_closure(i) for i in node.items]
        if any(i is None for i in items):
            return None
        parts = [i for i in items if i is not None]
        if isinstance(node, nodes.List):
            return lambda scope: [p(scope) for p in parts]
        return lambda scope: tuple(p(scope) for p in parts)
    if isinstance(node, nodes.And | nodes.Or):
        left, right = _closure(node.left), _closure(node.right)
        if left is None or right is None:
            return None
        lf, rf = left, right
        if isinstance(node, nodes.And):
            return lambda scope: lf(scope) and rf(scope)
        return lambda scope: lf(scope) or rf(scope)
    if isinstance(node, nodes.Not):
        inner = _closure(node.node)
        if inner is None:
            return None
        nf = inner
        return lambda scope: not nf(scope)
    if isinstance(node, nodes.Neg):
        inner = _closure(node.node)
        if inner is None:
            return None
        neg = inner
        return lambda scope: -neg(scope)
    if isinstance(node, nodes.Compare):
        first = _closure(node.expr)
        ops = [(_COMPARE.get(op.op), _closure(op.expr)) for op in node.ops]
        if first is None or any(f is None or c is None for f, c in ops):
            return None
        chain = [(f, c) for f, c in ops if f is not None and c is not None]
        head = first
        if len(chain) == 1:
            compare, other = chain[0]
            return lambda scope: compare(head(scope), other(scope))

        def compare_chain(scope: Mapping[str, Any]) -> bool:
            left = head(scope)
            for compare, other in chain:
                right = other(scope)
                if not compare(left, right):
                    return False
                left = right
            return True

        return compare_chain
    if isinstance(node, nodes.Test) and not node.args and not node.kwargs:
        test = _TESTS.get(node.name)
        inner = _closure(node.node)
        if test is None or inner is None:
            return None
        tf, tinner = test, inner
        return lambda scope: tf(tinner(scope))
    if (
        isinstance(node, nodes.Filter)
        and node.node is not None
        and not node.args
        and not node.kwargs
    ):
        filt = _FILTERS.get(node.name)
        inner = _closure(node.node)
        if filt is None or inner is None:
            return None
        ff, finner = filt, inner
        return lambda scope: ff(finner(scope))
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        cond, yes, no = _closure(node.test), _closure(node.expr1), _closure(node.expr2)
        if cond is None or yes is None or no is None:
            return None
        cf, yf, nf2 = cond, yes, no
        return lambda scope: yf(scope) if cf(scope) else nf2(scope)
    if type(node) in _BINARY:
        assert isinstance(node, nodes.BinExpr)
        left, right = _closure(node.left), _closure(node.right)
        if left is None or right is None:
            return None
        fn, bl, br = _BINARY[type(node)], left, right
        return lambda scope: fn(bl(scope), br(scope))
    return None


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
