"""The YAML half of reading a file: PyYAML's composer, and the walk from its nodes to data.

:func:`servflow.procedures.source.read_yaml` reads a file in two halves: the text (its
size, encoding and NUL bytes), then the YAML, here. This half is imported when a file is
first parsed, not with the loader: a catalogue whose files all come from the loader's
cache (:mod:`servflow.procedures.cache`) is read without importing PyYAML at all.

:func:`compose` parses with the C parser and the YAML 1.2 core schema's implicit types
only; :class:`Builder` walks the nodes to plain data and positions, refusing what
:mod:`servflow.procedures.source` describes (tags, merge keys, boolean-like names,
duplicate keys, numbers too long to print, and files too large or too deep).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml

from servflow.errors import Diagnostic

__all__ = ["Builder", "TooBig", "Unreadable", "compose"]

Path = tuple[str | int, ...]

_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n", "true", "false"})


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """The C parser with the YAML 1.2 core schema's implicit types and nothing else."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)

_STR = "tag:yaml.org,2002:str"
# The longest number a file may hold, in characters: room for any amount, version or
# rank, and far short of the 4,300 digits past which Python refuses to print an int.
_NUMBER_CHARACTERS = 40
_CORE_TAGS = {
    _STR,
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class Unreadable(Exception):
    """Text that is not YAML: where (1-based line and column), and PyYAML's reason."""

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line = line
        self.column = column
        self.message = message


def compose(text: str) -> yaml.Node | None:
    """The node tree of ``text`` (None when it holds no document); raises :class:`Unreadable`."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = (exc.problem or "invalid YAML").strip()
        if exc.context:
            message = f"{message} ({exc.context.strip()})"
        lines = text.splitlines()
        bad = lines[line - 1][column - 1 : column] if 0 < line <= len(lines) else ""
        if bad == "\t" or ("\t" in text and "tab" in message.lower()):
            message += "; YAML indents with spaces, never tabs"
        raise Unreadable(line, column, message) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise Unreadable(1, 1, f"cannot read YAML: {type(exc).__name__}") from None
    return node


class Builder:
    """Walks composed nodes to plain data, recording in ``values`` and ``keys`` where each
    value and key stands (1-based line and column), and in ``problems`` what it
    refused. More than ``max_nodes`` values, or nesting deeper than ``max_depth``, raises
    :class:`TooBig`."""

    def __init__(
        self,
        file: str,
        values: dict[Path, tuple[int, int]],
        keys: dict[Path, tuple[int, int]],
        max_nodes: int,
        max_depth: int,
    ) -> None:
        self.file = file
        self.values = values
        self.keys = keys
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.problems: list[Diagnostic] = []
        self.count = 0

    def _diag(self, node: yaml.Node, code: str, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Diagnostic(self.file, mark.line + 1, mark.column + 1, "error", code, message)
        )

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > self.max_nodes:
            raise TooBig(node, f"more than {self.max_nodes} values (aliases expanding too far?)")
        if depth > self.max_depth:
            raise TooBig(node, f"nested deeper than {self.max_depth} levels")
        self.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _CORE_TAGS:
            self._diag(node, "yaml-tag", f"tag {node.tag!r} is not allowed; write plain values")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return text.lower() == "true"
        if len(text) > _NUMBER_CHARACTERS:
            # Before int(): a hex literal of 5,000 digits parses, then cannot be printed.
            self._diag(
                node,
                "yaml-number",
                f"{text[:20]!r}... is too long for a number (at most {_NUMBER_CHARACTERS} characters)",
            )
            return None
        if tag == "tag:yaml.org,2002:int":
            try:
                return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
            except ValueError:
                self._diag(node, "yaml-number", f"{text!r} is not a number")
                return None
        special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
        try:
            return float(special.get(text.lower()) or text)
        except ValueError:
            self._diag(node, "yaml-number", f"{text!r} is not a number")
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.value == "<<"
                and not key_node.style
            ):
                self._diag(
                    key_node, "yaml-merge", "merge keys (<<) are not supported; write the keys out"
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._diag(
                    key_node, "yaml-key", "a key must be a plain name, not a list or mapping"
                )
                continue
            key = key_node.value
            if not key_node.style and key.lower() in _YAML11_BOOLS:
                self._diag(
                    key_node,
                    "yaml-boolean-key",
                    f"key {key!r} is read as a boolean by YAML 1.1 tools; "
                    f"quote it or choose another name",
                )
                continue
            if key_node.tag == "tag:yaml.org,2002:null" and key == "":
                self._diag(key_node, "yaml-key", "empty key")
                continue
            key_pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                self._diag(
                    key_node,
                    "duplicate-key",
                    f"duplicate key {key!r} (first at line {seen[key]}); "
                    "YAML would silently keep only the last one",
                )
                continue
            seen[key] = key_pos[0]
            child = (*path, key)
            self.keys[child] = key_pos
            result[key] = self.build(value_node, child, depth + 1)
        return result


class TooBig(Exception):
    """A file with too many values or nested too deeply: where, and the message."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        self.line = node.start_mark.line + 1
        self.column = node.start_mark.column + 1
        self.message = message
