"""From jinja2's parse tree to closures, within the closed grammar of :mod:`.grammar`.

:func:`build` walks the tree that :mod:`servflow.engine.expr` parsed and accepts only the
nodes that have a method below (named after the jinja2 node), each checked for the
filters, tests, methods and arguments :mod:`servflow.engine.grammar` lists. Anything else
is an :class:`~servflow.engine.grammar.ExpressionSyntaxError` at the node's offset. Each
accepted node becomes a closure over its children's closures: the only evaluator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes

from servflow._hints import did_you_mean
from servflow.engine.grammar import (
    ACTOR_ATTRIBUTES,
    BINARY,
    COMPARE,
    FILTERS,
    MAX_DIGITS,
    MAX_NODES,
    METHODS,
    NUMBER_LIMIT,
    TESTS,
    ExpressionSyntaxError,
    Failure,
    Fn,
    Wrong,
    bounded_number,
    concat,
    items_bound,
    shown,
    size_of,
)

__all__ = ["Built", "build"]


def _at(node: nodes.Node) -> int:
    # expr.py hands jinja2 tokens whose "line number" is their offset + 1.
    return max(0, (node.lineno or 1) - 1)


class Built:
    """The closure of an expression, the names it reads and where, its constant parts."""

    def __init__(self, tokens: list[tuple[int, str, str]]) -> None:
        self.tokens = tokens
        self.names: dict[str, int] = {}
        self.constant_parts: list[tuple[int, Fn]] = []
        self.count = 0

    def refuse(self, message: str, offset: int) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, offset, "expression-unsupported")

    def name_after(self, offset: int, skip: frozenset[str] = frozenset()) -> int:
        """Offset of the first name token after ``offset`` (the name of a test, say)."""
        for start, kind, text in self.tokens:
            if start > offset and kind == "name" and text not in skip:
                return start
        return offset

    def node(self, node: nodes.Node) -> tuple[Fn, bool]:
        """The closure for ``node`` and whether it reads no name (a constant)."""
        self.count += 1
        if self.count > MAX_NODES:
            raise ExpressionSyntaxError(
                f"the expression has more than {MAX_NODES} parts; split it into simpler rules",
                _at(node),
                "expression-nesting",
            )
        method = _ACCEPTED.get(type(node))
        try:
            if method is None:
                raise self.refuse(
                    _UNSUPPORTED.get(
                        type(node).__name__, "this is not part of the expression language"
                    ),
                    _at(node),
                )
            result: tuple[Fn, bool] = method(self, node)
        except ExpressionSyntaxError as exc:
            if exc.settled:  # raised below this node, and already the first in its part
                raise
            exc.settled = True
            # A filter, test, method or subscript is checked before the value it applies
            # to, which stands before it in the text: report the first problem in reading
            # order, so check a throwaway copy of that value first. Only the node that
            # raised does this, once, so the cost stays linear in the nodes above it.
            subject = getattr(node, "node", None)
            if isinstance(node, nodes.Call) and isinstance(subject, nodes.Getattr):
                subject = subject.node  # the receiver of a method
            if isinstance(node, _SUBJECT_FIRST) and isinstance(subject, nodes.Node):
                Built(self.tokens).node(subject)
            raise
        return result

    def parts(self, *children: nodes.Node) -> tuple[list[Fn], bool]:
        """Closures for ``children``; constant children of a non-constant parent are noted."""
        # Plain loops: a comprehension would add a stack frame per level of the tree.
        fns: list[Fn] = []
        flags: list[bool] = []
        for child in children:
            fn, is_const = self.node(child)
            fns.append(fn)
            flags.append(is_const)
        constant = all(flags)
        if not constant:
            for fn, is_const, child in zip(fns, flags, children, strict=True):
                if is_const and not _literal(child):
                    self.constant_parts.append((_start(child), fn))
        return fns, constant

    # Each method below is named after the jinja2 node it accepts (see _ACCEPTED).

    def _Const(self, node: nodes.Const) -> tuple[Fn, bool]:
        value = node.value
        if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and abs(value) >= NUMBER_LIMIT
        ):
            raise ExpressionSyntaxError(
                f"a number beyond {MAX_DIGITS} digits", _at(node), "expression-bound"
            )
        if not (value is None or isinstance(value, bool | int | float | str)):
            raise self.refuse("this constant is not part of the expression language", _at(node))
        return (lambda scope: value), True

    def _Name(self, node: nodes.Name) -> tuple[Fn, bool]:
        return self._read(node.name, _at(node)), False

    def _read(self, name: str, offset: int) -> Fn:
        self.names.setdefault(name, offset)

        def read(scope: Mapping[str, Any]) -> Any:
            try:
                return scope[name]
            except KeyError:
                raise Failure(f"{name!r} is undefined") from None

        return read

    def _List(self, node: nodes.List | nodes.Tuple) -> tuple[Fn, bool]:
        fns, constant = self.parts(*node.items)
        make: Callable[[Any], Any] = list if isinstance(node, nodes.List) else tuple
        if constant and all(_literal(i) for i in node.items):
            value = make(fn({}) for fn in fns)
            return (lambda scope: value), True

        def build_list(scope: Mapping[str, Any]) -> Any:
            value = make(fn(scope) for fn in fns)
            items_bound(size_of(value), "a list")
            return value

        return build_list, constant

    _Tuple = _List

    def _And(self, node: nodes.And) -> tuple[Fn, bool]:
        (lf, rf), constant = self.parts(node.left, node.right)
        return (lambda scope: lf(scope) and rf(scope)), constant

    def _Or(self, node: nodes.Or) -> tuple[Fn, bool]:
        (lf, rf), constant = self.parts(node.left, node.right)
        return (lambda scope: lf(scope) or rf(scope)), constant

    def _Not(self, node: nodes.Not) -> tuple[Fn, bool]:
        (inner,), constant = self.parts(node.node)
        return (lambda scope: not inner(scope)), constant

    def _Neg(self, node: nodes.Neg | nodes.Pos) -> tuple[Fn, bool]:
        (inner,), constant = self.parts(node.node)
        sign, label = (
            ("-", _label(node.node)) if isinstance(node, nodes.Neg) else ("+", _label(node.node))
        )
        negate = isinstance(node, nodes.Neg)

        def unary(scope: Mapping[str, Any]) -> Any:
            value = inner(scope)
            try:
                return bounded_number(-value if negate else +value)
            except Failure:
                raise
            except Exception:
                raise Failure(
                    f"unary '{sign}' applies to numbers, not {shown(value, label)}"
                ) from None

        return unary, constant

    _Pos = _Neg

    def _CondExpr(self, node: nodes.CondExpr) -> tuple[Fn, bool]:
        if node.expr2 is None:
            raise self.refuse(
                "'... if ...' needs an 'else': write 'a if condition else b'", _at(node)
            )
        (cf, yf, nf), constant = self.parts(node.test, node.expr1, node.expr2)
        return (lambda scope: yf(scope) if cf(scope) else nf(scope)), constant

    def _binary(self, node: nodes.BinExpr) -> tuple[Fn, bool]:
        symbol, fn = BINARY[type(node)]
        (lf, rf), constant = self.parts(node.left, node.right)
        labels = _label(node.left), _label(node.right)

        def binary(scope: Mapping[str, Any]) -> Any:
            a, b = lf(scope), rf(scope)
            try:
                return fn(a, b)
            except Failure:
                raise
            except ZeroDivisionError:
                raise Failure(f"'{symbol}' divides by zero") from None
            except Exception:
                raise Failure(
                    f"'{symbol}' cannot combine {shown(a, labels[0])} and {shown(b, labels[1])}"
                ) from None

        return binary, constant

    _Add = _Sub = _Mul = _Div = _FloorDiv = _Mod = _binary

    def _Pow(self, node: nodes.Pow) -> tuple[Fn, bool]:
        raise ExpressionSyntaxError("'**' (power) is not allowed in expressions", _at(node))

    def _Concat(self, node: nodes.Concat) -> tuple[Fn, bool]:
        fns, constant = self.parts(*node.nodes)
        labels = [_label(n) for n in node.nodes]

        def join_texts(scope: Mapping[str, Any]) -> str:
            result = ""
            for fn, label in zip(fns, labels, strict=True):
                value = fn(scope)
                try:
                    result = concat(result, value)
                except Wrong:
                    raise Failure(
                        f"'~' joins text and numbers, not {shown(value, label)}"
                    ) from None
            return result

        return join_texts, constant

    def _Compare(self, node: nodes.Compare) -> tuple[Fn, bool]:
        operands = [node.expr, *(op.expr for op in node.ops)]
        fns, constant = self.parts(*operands)
        labels = [_label(o) for o in operands]
        chain = [
            (COMPARE[op.op], fns[i + 1], labels[i], labels[i + 1]) for i, op in enumerate(node.ops)
        ]
        head = fns[0]

        def compare(scope: Mapping[str, Any]) -> Any:
            left = head(scope)
            for (symbol, fn), other, llabel, rlabel in chain:
                right = other(scope)
                try:
                    if not fn(left, right):
                        return False
                except Exception:
                    raise Failure(
                        f"'{symbol}' cannot compare {shown(left, llabel)} with {shown(right, rlabel)}"
                    ) from None
                left = right
            return True

        if len(chain) > 1:
            return compare, constant
        # One comparison, the usual guard: no loop. Equality never fails in Python.
        ((symbol, fn), other, llabel, rlabel) = chain[0]
        if symbol in ("==", "!="):
            return (lambda scope: fn(head(scope), other(scope))), constant

        def compare_one(scope: Mapping[str, Any]) -> Any:
            left, right = head(scope), other(scope)
            try:
                return fn(left, right)
            except Exception:
                raise Failure(
                    f"'{symbol}' cannot compare {shown(left, llabel)} with {shown(right, rlabel)}"
                ) from None

        def contained(scope: Mapping[str, Any]) -> Any:
            left, right = head(scope), other(scope)
            try:
                return (left in right) if symbol == "in" else (left not in right)
            except Exception:
                raise Failure(
                    f"'{symbol}' cannot look for {shown(left, llabel)} in {shown(right, rlabel)}"
                ) from None

        return (contained if symbol in ("in", "not in") else compare_one), constant

    def _arguments(
        self,
        node: nodes.Filter | nodes.Test | nodes.Call,
        what: str,
        params: tuple[str, ...],
        keywords: frozenset[str],
        at: int,
    ) -> tuple[list[nodes.Node], dict[str, nodes.Node]]:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise self.refuse(f"{what} takes no '*' or '**' arguments", at)
        if len(node.args) > len(params):
            takes = (
                f"at most {len(params)} argument{'s' if len(params) != 1 else ''}"
                if params
                else "no argument"
            )
            raise self.refuse(f"{what} takes {takes}", at)
        given: dict[str, nodes.Node] = {}
        for kw in node.kwargs:
            key = str(kw.key)
            if key not in keywords:
                allowed = ", ".join(f"{k}=" for k in sorted(keywords)) or "none"
                raise self.refuse(f"{what} has no argument {key}= (it takes {allowed})", at)
            given[key] = kw.value
        return list(node.args), given

    def _Filter(self, node: nodes.Filter) -> tuple[Fn, bool]:
        at = self.name_after(_at(node) - 1)
        spec = FILTERS.get(node.name)
        if spec is None:
            raise self.refuse(
                f"{node.name!r} is not a filter of the expression language (filters: "
                f"{', '.join(FILTERS)})" + did_you_mean(node.name, FILTERS),
                at,
            )
        if node.node is None:
            raise self.refuse("a filter needs a value before its '|'", at)
        args, kwargs = self._arguments(
            node, f"filter {node.name!r}", spec.params, spec.keywords, at
        )
        keys = list(kwargs)
        fns, constant = self.parts(node.node, *args, *kwargs.values())
        inner, arg_fns, kw_fns = fns[0], fns[1 : 1 + len(args)], fns[1 + len(args) :]
        label, name, fn, domain = _label(node.node), node.name, spec.fn, spec.domain

        def apply(scope: Mapping[str, Any]) -> Any:
            value = inner(scope)
            try:
                return fn(
                    value,
                    *(a(scope) for a in arg_fns),
                    **{k: f(scope) for k, f in zip(keys, kw_fns, strict=True)},
                )
            except Wrong:
                raise Failure(
                    f"filter {name!r} applies to {domain}, not {shown(value, label)}"
                ) from None
            except Failure:
                raise
            except Exception:
                raise Failure(
                    f"filter {name!r} cannot be applied to {shown(value, label)}"
                ) from None

        if not args and not kwargs:

            def apply_plain(scope: Mapping[str, Any]) -> Any:
                value = inner(scope)
                try:
                    return fn(value)
                except Wrong:
                    raise Failure(
                        f"filter {name!r} applies to {domain}, not {shown(value, label)}"
                    ) from None
                except Failure:
                    raise
                except Exception:
                    raise Failure(
                        f"filter {name!r} applies to {domain}, not {shown(value, label)}"
                    ) from None

            return apply_plain, constant
        return apply, constant

    def _Test(self, node: nodes.Test) -> tuple[Fn, bool]:
        at = self.name_after(_at(node), frozenset({"not"}))
        spec = TESTS.get(node.name)
        if spec is None:
            raise self.refuse(
                f"{node.name!r} is not a test of the expression language (tests: "
                f"{', '.join(TESTS)})" + did_you_mean(node.name, TESTS),
                at,
            )
        fn, arity = spec
        params = ("value",) if arity else ()
        args, _ = self._arguments(node, f"test {node.name!r}", params, frozenset(), at)
        if len(args) != arity:
            raise self.refuse(
                f"test {node.name!r} needs an argument, e.g. 'x is divisibleby(3)'", at
            )
        fns, constant = self.parts(node.node, *args)
        inner, arg_fns = fns[0], fns[1:]
        label, name = _label(node.node), node.name

        def test(scope: Mapping[str, Any]) -> bool:
            value = inner(scope)
            try:
                return fn(value, *[a(scope) for a in arg_fns])
            except Wrong:
                raise Failure(
                    f"test {name!r} applies to whole numbers, not {shown(value, label)}"
                ) from None

        if name == "none":  # the most frequent test, `x is none`: one call, no lookup
            return (lambda scope: inner(scope) is None), constant
        return test, constant

    def _Call(self, node: nodes.Call) -> tuple[Fn, bool]:
        callee = node.node
        if not isinstance(callee, nodes.Getattr):
            raise self.refuse(
                "functions cannot be called in an expression; the methods of text are "
                + ", ".join(f".{m}()" for m in METHODS),
                _at(node),
            )
        at = self.name_after(_at(callee))
        spec = METHODS.get(callee.attr)
        if spec is None:
            raise self.refuse(
                f"'.{callee.attr}()' is not a method of the expression language (methods: "
                + ", ".join(METHODS)
                + ")"
                + did_you_mean(callee.attr, METHODS),
                at,
            )
        fn, arity = spec
        params = ("value",) * arity
        args, _ = self._arguments(node, f"method '.{callee.attr}()'", params, frozenset(), at)
        if len(args) != arity:
            raise self.refuse(f"method '.{callee.attr}()' needs {arity} argument", at)
        fns, constant = self.parts(callee.node, *args)
        receiver, arg_fns = fns[0], fns[1:]
        label, name = _label(callee.node), callee.attr

        def call(scope: Mapping[str, Any]) -> Any:
            value = receiver(scope)
            if not isinstance(value, str):
                raise Failure(f"method '.{name}()' applies to text, not {shown(value, label)}")
            return fn(value, *(a(scope) for a in arg_fns))

        return call, constant

    def _Getattr(self, node: nodes.Getattr) -> tuple[Fn, bool]:
        # The one exception: the actor taking the step, read as a name of its own
        # ("actor.id"), never as an attribute of an object.
        if isinstance(node.node, nodes.Name) and node.node.name == "actor":
            if node.attr in ACTOR_ATTRIBUTES:
                dotted = f"actor.{node.attr}"
                self.count += 1  # the name node is not walked
                return self._read(dotted, _at(node.node)), False
            raise self.refuse(
                f"'actor.{node.attr}' is not known; the actor is read as "
                + " or ".join(f"'actor.{a}'" for a in ACTOR_ATTRIBUTES)
                + did_you_mean(node.attr, ACTOR_ATTRIBUTES),
                self.name_after(_at(node)),
            )
        raise self.refuse(
            f"'.{node.attr}' reads an attribute, which expressions cannot do; the methods of "
            "text are " + ", ".join(f".{m}()" for m in METHODS),
            self.name_after(_at(node)),
        )


# The closed grammar's nodes: exactly these jinja2 node types, each with its method.
_ACCEPTED: dict[type[nodes.Node], Callable[[Built, Any], tuple[Fn, bool]]] = {
    kind: getattr(Built, "_" + kind.__name__)
    for kind in (
        nodes.Const, nodes.Name, nodes.List, nodes.Tuple, nodes.And, nodes.Or, nodes.Not,
        nodes.Neg, nodes.Pos, nodes.CondExpr, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
        nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Concat, nodes.Compare, nodes.Filter,
        nodes.Test, nodes.Call, nodes.Getattr,
    )
}  # fmt: skip
_SUBJECT_FIRST = (nodes.Filter, nodes.Test, nodes.Call, nodes.Getattr, nodes.Getitem)
_UNSUPPORTED = {
    "Getitem": "indexing ('x[...]') is not part of the expression language; use the filters 'first' or 'last'",
    "Slice": "slices are not part of the expression language",
    "Dict": "'{...}' (a mapping) is not part of the expression language",
}


def _start(node: nodes.Node) -> int:
    """Where the text of ``node`` starts: the first offset of any node within it."""
    # Helper nodes (a comparison's operands) carry no position of their own.
    return min(_at(n) for n in [node, *node.find_all(nodes.Node)] if n.lineno)


def _literal(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.List | nodes.Tuple):
        return all(_literal(i) for i in node.items)
    return False


def _label(node: nodes.Node) -> str | None:
    """How a message names an operand: the name it reads, if it is a name."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return repr(f"{node.node.name}.{node.attr}")
    return repr(node.name) if isinstance(node, nodes.Name) else None


def build(tree: nodes.Expr, tokens: list[tuple[int, str, str]]) -> tuple[Built, Fn]:
    """Compile ``tree`` within the closed grammar; raises :class:`ExpressionSyntaxError`."""
    built = Built(tokens)
    fn, constant = built.node(tree)
    if constant and not _literal(tree):
        built.constant_parts.append((_start(tree), fn))
    return built, fn
