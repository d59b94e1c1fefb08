"""Advice on what the reader sees: the titles of choices, and names given per language.

A ``choice`` field may give each value a title per language, and a field's ``form`` and
the procedure's ``source`` may be written per language (see docs/language.md, "Titles of
choices, forms and sources"). The model accepts any such mapping; this module warns about
what loads but will read wrongly:

``missing-label``
    a choice title, or a form or source written per language, lacks a language that the
    procedure's titles use: that reader sees the other script, or the bare value.
``duplicate-label``
    two values of one field share a title in one language: that reader cannot tell them
    apart in an SOP, a diagram or a timeline.
``not-a-choice``
    an expression compares a ``choice`` field with a text that is not one of its values
    (often a value's title: ``priority == '緊急'`` where the value is ``emergency``). The
    comparison is never true, whatever the case holds.

They are warnings, so ``servflow check --strict`` fails on them. The rules run after the
static checks and tolerate what those report.
"""

from __future__ import annotations

from collections.abc import Iterator

from servflow._hints import did_you_mean
from servflow.engine.expr import ExpressionSyntaxError
from servflow.errors import Diagnostic, EvaluationError
from servflow.model import LANGUAGES, FieldSpec, LocalizedText, Procedure
from servflow.procedures.checks import constants, expressions_of
from servflow.procedures.source import SourceMap

__all__ = ["LABEL_CODES", "lint_labels"]

LABEL_CODES = ("missing-label", "duplicate-label", "not-a-choice")

Path = tuple[str | int, ...]


def _languages(proc: Procedure) -> list[str]:
    """The languages the procedure is written in: those of its titles and its labels."""
    used = set(proc.title)
    for group in (proc.roles, proc.fields, proc.states):
        for item in group.values():
            used |= set(item.title)
    for _, texts in _localized(proc):
        used |= set(texts)
    return [lang for lang in LANGUAGES if lang in used]


def _localized(proc: Procedure) -> Iterator[tuple[Path, LocalizedText]]:
    """Every name written per language that this module looks after, with its path."""
    for name, spec in proc.fields.items():
        if isinstance(spec.choices, dict):
            for value, titles in spec.choices.items():
                yield ("fields", name, "choices", value), titles
        if isinstance(spec.form, dict):
            yield ("fields", name, "form"), spec.form
    if isinstance(proc.source, dict):
        yield ("source",), proc.source


def _what(path: Path) -> str:
    if path[0] == "source":
        return "the source"
    if path[2] == "form":
        return f"the form of field {path[1]!r}"
    return f"choice {path[3]!r} of field {path[1]!r}"


def _titled_as(spec: FieldSpec, text: str) -> str | None:
    """The value whose title (in any language) is ``text``, if one is."""
    for value in spec.choice_values:
        if text in spec.choice_title(value).values():
            return value
    return None


class _Linter:
    def __init__(self, proc: Procedure, smap: SourceMap) -> None:
        self.proc = proc
        self.smap = smap
        self.out: list[Diagnostic] = []

    def warn(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.out.append(self.smap.diagnostic(path, code, message, severity="warning", key=key))

    def missing(self) -> None:
        wanted = _languages(self.proc)
        for path, texts in _localized(self.proc):
            lacking = [
                lang
                for lang in wanted
                if lang not in texts or not texts[lang] or texts[lang].isspace()
            ]
            if lacking:
                self.warn(
                    path,
                    "missing-label",
                    f"{_what(path)} has no {', '.join(lacking)} title, which the procedure's "
                    "titles have",
                    key=path[-1] != "source" and path[-2] == "choices",
                )

    def duplicates(self) -> None:
        for name, spec in self.proc.fields.items():
            if not isinstance(spec.choices, dict):
                continue
            for lang in LANGUAGES:
                seen: dict[str, str] = {}
                for value, titles in spec.choices.items():
                    text = titles.get(lang)
                    if not text or text.isspace():
                        continue
                    if text in seen:
                        self.warn(
                            ("fields", name, "choices", value, lang),
                            "duplicate-label",
                            f"choices {seen[text]!r} and {value!r} of field {name!r} are both "
                            f"titled {text!r} in {lang}: a reader cannot tell them apart",
                        )
                    else:
                        seen[text] = value

    def comparisons(self) -> None:
        for path, source in expressions_of(self.proc):
            try:
                compared = constants(source)
            except (ExpressionSyntaxError, EvaluationError):
                continue  # the static checks report it
            for name, texts in sorted(compared.items()):
                spec = self.proc.fields.get(name)
                if spec is None or spec.type != "choice":
                    continue
                for text in sorted(t for t in texts if isinstance(t, str)):
                    if text in spec.choice_values:
                        continue
                    value = _titled_as(spec, text)
                    hint = (
                        f"; write the value {value!r}, not its title"
                        if value is not None
                        else did_you_mean(text, spec.choice_values)
                    )
                    self.warn(
                        path,
                        "not-a-choice",
                        f"{name!r} is compared with {text!r}, which is not one of its "
                        f"choices, so the comparison never holds{hint}",
                    )


def lint_labels(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """Warnings about choice titles and names per language (see the module's docstring)."""
    linter = _Linter(proc, smap)
    linter.missing()
    linter.duplicates()
    linter.comparisons()
    return linter.out
