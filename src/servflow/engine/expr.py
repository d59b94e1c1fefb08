"""Guards and rules: analyst-written expressions, read once into a closed grammar.

An expression such as ``priority != 'emergency' or technician_on_call`` is read when the
procedure loads. jinja2 serves only as the lexer and parser; the parse tree is then
walked by :mod:`servflow.engine.grammar`, which accepts the constructs of the language
(``docs/language.md``) and nothing else, and compiles them to plain closures. Nothing
an analyst writes ever reaches ``eval`` or ``exec``, and no template is rendered.

Reading happens in three passes, so that no input can take the reader down:

1. the text is cut into jinja2's tokens, each with its offset; brackets must balance,
   nest at most :data:`MAX_NESTING` deep, and the expression may hold at most
   :data:`MAX_OPERATORS` operators. These limits keep jinja2's recursive-descent parser,
   the tree walk and the closures far from Python's recursion limit;
2. jinja2 parses the tokens. Each token is handed over with its offset in place of its
   line number, so every node of the tree knows where it stands in the text, and a
   syntax error is reported at its column, in an analyst's words;
3. the tree is compiled within the closed grammar.

Every failure to read is an :class:`ExpressionSyntaxError` with an ``offset`` and a
``code``; every failure to evaluate is an :class:`~servflow.errors.EvaluationError`
whose message names operations and kinds of values, never a value.

A compiled expression depends on its text alone and never changes, so the expressions
read in a process are kept by their text (the most recent :data:`KEPT`): the versions of
a procedure share most of their guards, and an engine built again reads none twice. A
text that fails to read is not kept, so it is read again and fails the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes
from jinja2.lexer import Token, TokenStream
from jinja2.parser import Parser

from servflow.engine.closures import build
from servflow.engine.grammar import ExpressionSyntaxError, Failure
from servflow.errors import EvaluationError

__all__ = [
    "KEPT",
    "MAX_LENGTH",
    "MAX_NESTING",
    "MAX_OPERATORS",
    "Expression",
    "ExpressionSyntaxError",
    "compile_expression",
    "constants_of",
]

# jinja2's lexer and parser only: no template of an expression is ever compiled.
_ENV = Environment(autoescape=False)

# Longest expression accepted: guards are one-liners; this bounds the cost of reading.
MAX_LENGTH = 2000
# Brackets inside brackets, and operators in one expression (see the module docstring).
MAX_NESTING = 16
MAX_OPERATORS = 50
# Compiled expressions kept by their text: far more than a catalogue holds (the standard
# one has about 100 distinct), and a few MB at most (2 KB for a typical guard).
KEPT = 1024

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")": "(", "]": "[", "}": "{"}
_WORD_OPERATORS = frozenset({"and", "or", "not", "in", "is", "if", "else"})
_NOT_OPERATORS = frozenset({"(", ")", "[", "]", "{", "}", ",", ":"})

Tok = tuple[int, str, str]  # offset, jinja2 token type, text


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled expression, the names it reads and where each is first read."""

    source: str
    names: frozenset[str]
    _call: Callable[[Mapping[str, Any]], Any]
    positions: Mapping[str, int] = field(default_factory=dict)
    # Parts that read no name, with their offsets: `servflow check` evaluates them once,
    # since a constant part that fails will fail on every case.
    constant_parts: tuple[tuple[int, Callable[[Mapping[str, Any]], Any]], ...] = ()

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The expression's value in ``scope``; an :class:`EvaluationError` if it fails."""
        try:
            return self._call(scope)
        except Failure as exc:
            raise EvaluationError(self.source, exc.message) from None
        except RecursionError:  # pragma: no cover - the reading limits keep trees shallow
            raise EvaluationError(self.source, "the expression is nested too deeply") from None
        except Exception:
            # Only the grammar's own failures carry a message: anything else (a value of
            # a type the grammar does not know) might repeat a value, so it is not shown.
            raise EvaluationError(self.source, "the expression cannot be evaluated") from None

    def holds(self, scope: Mapping[str, Any]) -> bool:
        return bool(self.evaluate(scope))

    def constant_failures(self) -> list[tuple[int, str]]:
        """Where a part that reads no name fails, and why (for ``servflow check``)."""
        found: list[tuple[int, str]] = []
        for offset, part in self.constant_parts:
            try:
                part({})
            except Failure as exc:
                found.append((offset, exc.message))
            except Exception:
                found.append((offset, "this part cannot be evaluated"))
        return found


def compile_expression(source: str) -> Expression:
    """Compile ``source`` within the closed grammar; raises :class:`ExpressionSyntaxError`.

    The same text gives the same :class:`Expression` object while it is kept (see the
    module's docstring).
    """
    if type(source) is str:  # only plain text is kept; anything else is read (and refused) as ever
        return _kept(source)
    return _compile(source)


@lru_cache(maxsize=KEPT)
def _kept(source: str) -> Expression:
    return _compile(source)


def _compile(source: str) -> Expression:
    tree, tokens = _parse(source)
    try:
        built, fn = build(tree, tokens)
    except RecursionError:  # pragma: no cover - the reading limits come first
        raise ExpressionSyntaxError(
            "the expression is nested too deeply", 0, "expression-nesting"
        ) from None
    return Expression(
        source,
        frozenset(built.names),
        fn,
        MappingProxyType(dict(built.names)),  # shared by whoever reads the same text
        tuple(built.constant_parts),
    )


def constants_of(source: str) -> dict[str, set[Any]]:
    """Literal constants compared with each name (``priority == 'x'`` gives {'priority': {'x'}}).

    Used by the static checks to search small value domains for overlapping guards.
    """
    found: dict[str, set[Any]] = {}
    tree, _ = _parse(source)
    # find_all looks below the root only; the root is often the comparison itself.
    roots = [tree] if isinstance(tree, nodes.Compare) else []
    for compare in [*roots, *tree.find_all(nodes.Compare)]:
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


# -- reading ---------------------------------------------------------------------------


def _parse(source: str) -> tuple[nodes.Expr, list[Tok]]:
    if len(source) > MAX_LENGTH:
        raise ExpressionSyntaxError(
            f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH, "expression-nesting"
        )
    for marker in ("{{", "}}", "{%", "%}", "{#", "#}"):
        if marker in source:
            raise ExpressionSyntaxError(
                "write the expression without {{ }} or {% %}: it is not a template",
                source.index(marker),
            )
    if "**" in source:
        # Powers are not needed in a guard, and 9**9**9 would never finish.
        raise ExpressionSyntaxError(
            "'**' (power) is not allowed in expressions",
            source.index("**"),
        )
    tokens = _tokens(source)
    _limits(tokens)
    # jinja2's own conversion of raw tokens (operator names, escapes in text...), with
    # each token's offset + 1 where jinja2 expects its line number.
    stream = _ENV.lexer.wrap(iter([(offset + 1, kind, text) for offset, kind, text in tokens]))
    parser = Parser(_ENV, "")
    parser.stream = TokenStream(stream, None, None)
    try:
        tree = parser.parse_expression()
    except TemplateSyntaxError as exc:
        raise _syntax(source, tokens, parser.stream.current, exc.message or "") from None
    current = parser.stream.current
    if current.type != "eof":
        raise _trailing(source, tokens, current)
    return tree, tokens


def _tokens(source: str) -> list[Tok]:
    """jinja2's raw tokens with their offsets (whitespace dropped); lexing errors positioned."""
    out: list[Tok] = []
    offset = 0
    stack: list[tuple[str, int]] = []
    try:
        for _, kind, text in _ENV.lexer.tokeniter(source, None, None, "variable"):
            if kind == "variable_end":  # pragma: no cover - '}}' is refused before
                break
            if kind != "whitespace":
                out.append((offset, kind, text))
                if text in _OPEN:
                    stack.append((text, offset))
                    if len(stack) > MAX_NESTING:
                        raise ExpressionSyntaxError(
                            f"brackets nested more than {MAX_NESTING} deep; split the rule "
                            "into simpler ones",
                            offset,
                            "expression-nesting",
                        )
                elif text in _CLOSE:
                    stack.pop()
            offset += len(text)
    except TemplateSyntaxError:
        raise _lexing(source, offset, stack) from None
    if stack:
        opened, at = stack[-1]
        raise ExpressionSyntaxError(
            f"unbalanced {_bracket(opened)}: this {opened!r} is never closed", at
        )
    return out


def _bracket(char: str) -> str:
    return {"(": "parenthesis", ")": "parenthesis", "[": "bracket", "]": "bracket"}.get(
        char, "brace"
    )


_HINTS = {
    "&": "write 'and'",
    "|": "write 'or'",
    "!": "write 'not', or '!=' to compare",
    "=": "to compare, write ==",
}


def _lexing(source: str, offset: int, stack: list[tuple[str, int]]) -> ExpressionSyntaxError:
    char = source[offset] if offset < len(source) else ""
    if char in _CLOSE:
        if not stack:
            return ExpressionSyntaxError(
                f"unbalanced {_bracket(char)}: this {char!r} closes nothing", offset
            )
        opened, at = stack[-1]
        return ExpressionSyntaxError(
            f"unbalanced {_bracket(char)}: this {char!r} closes the {opened!r} at column {at + 1}",
            offset,
        )
    if char in "'\"":
        return ExpressionSyntaxError(f"this text is never closed: a {char} is missing", offset)
    hint = _HINTS.get(char)
    return ExpressionSyntaxError(
        f"{char!r} is not part of the expression language" + (f"; {hint}" if hint else ""),
        offset,
    )


def _limits(tokens: list[Tok]) -> None:
    operators = 0
    for offset, kind, text in tokens:
        if (kind == "operator" and text not in _NOT_OPERATORS) or (
            kind == "name" and text in _WORD_OPERATORS
        ):
            operators += 1
            if operators > MAX_OPERATORS:
                raise ExpressionSyntaxError(
                    f"more than {MAX_OPERATORS} operators in one expression; split the rule "
                    "into simpler ones (an invariant each, say)",
                    offset,
                    "expression-nesting",
                )


def _before(tokens: list[Tok], offset: int) -> Tok | None:
    previous = None
    for token in tokens:
        if token[0] >= offset:
            break
        previous = token
    return previous


def _is_operator(token: Tok) -> bool:
    _, kind, text = token
    return (kind == "operator" and text not in ")]}") or (
        kind == "name" and text in _WORD_OPERATORS
    )


def _syntax(source: str, tokens: list[Tok], current: Token, message: str) -> ExpressionSyntaxError:
    """An analyst's words for jinja2's complaint about ``current``."""
    at_end = current.type == "eof"
    offset = len(source) if at_end else current.lineno - 1
    previous = _before(tokens, offset)
    after = repr(previous[2]) if previous else None
    if at_end:
        if previous and previous[2] == "|":
            return ExpressionSyntaxError("a filter name is missing after '|'", offset)
        if previous and previous[2] in ("is", "not") and "'name'" in message:
            return ExpressionSyntaxError("a test name is missing after 'is'", offset)
        if previous and previous[2] == ".":
            return ExpressionSyntaxError("a method name is missing after '.'", offset)
        return ExpressionSyntaxError(
            f"the expression ends too early: something is missing after {after}"
            if after
            else "the expression is empty",
            offset,
        )
    shown = _token_text(source, tokens, offset)
    if shown == "=":
        return ExpressionSyntaxError(
            "a single '=' is not a comparison; to compare, write ==", offset
        )
    if "chain multiple tests" in message:
        return ExpressionSyntaxError(
            "one 'is' test at a time: combine tests with 'and' or 'or'", offset
        )
    if previous and previous[2] == "|":
        if shown == "|":
            return ExpressionSyntaxError("'||' is not an operator; write 'or'", offset - 1)
        return ExpressionSyntaxError(f"expected a filter name after '|', found {shown!r}", offset)
    if previous and (previous[2], shown) == ("<", ">"):
        return ExpressionSyntaxError("'<>' is not an operator; write '!='", offset - 1)
    if previous and previous[2] in ("is", "not") and "'name'" in message:
        return ExpressionSyntaxError(f"expected a test name after 'is', found {shown!r}", offset)
    if previous and previous[2] == ".":
        return ExpressionSyntaxError(f"expected a method name after '.', found {shown!r}", offset)
    if previous is None:
        return ExpressionSyntaxError(f"an expression cannot start with {shown!r}", offset)
    if _is_operator(previous):
        return ExpressionSyntaxError(
            f"a value is missing between {previous[2]!r} and {shown!r}", offset
        )
    return ExpressionSyntaxError(f"unexpected {shown!r} after {previous[2]!r}", offset)


def _trailing(source: str, tokens: list[Tok], current: Token) -> ExpressionSyntaxError:
    """The expression parsed, but text follows it: usually a missing operator."""
    offset = current.lineno - 1
    shown = _token_text(source, tokens, offset)
    previous = _before(tokens, offset)
    if shown == "=":
        return ExpressionSyntaxError(
            "a single '=' is not a comparison; to compare, write ==", offset
        )
    if shown == ",":
        return ExpressionSyntaxError(
            "',' outside brackets: write a list in brackets, e.g. ['a', 'b']", offset
        )
    after = previous[2] if previous else ""
    return ExpressionSyntaxError(
        f"expected an operator (such as ==, and, or) after {after!r}, found {shown!r}", offset
    )


def _token_text(source: str, tokens: list[Tok], offset: int) -> str:
    for start, _, text in tokens:
        if start == offset:
            return text
    return source[offset : offset + 1]
