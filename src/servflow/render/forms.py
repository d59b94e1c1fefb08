"""Notifications and record forms: the catalogue's templates, rendered in a sandbox.

Every ``template`` an effect or a breach step names is a notification, written as text;
every ``record`` an effect files is a record form, written as printable HTML. Each is a
jinja2 file beside the procedure, one per language::

    <catalogue folder>/templates/<procedure id>/<name>.<lang>.txt    notifications
    <catalogue folder>/templates/<procedure id>/<name>.<lang>.html   record forms

A template may ``{% extends %}`` or ``{% include %}`` another file of its procedure's
folder or of ``templates/`` itself (the shared form layout, ``_form.html``); nothing
outside ``templates/`` can be read.

A template sees only the read-only view :func:`template_context` builds from the case,
the event and the procedure (see docs/forms.md for its every name): personal data
(``pii`` fields) is masked unless one of the viewer's roles is in the field's
``visible_to``. It is rendered by jinja2's immutable sandbox, with autoescape for HTML,
undefined names as errors, a short list of filters, and ceilings on the work a template
may do (:data:`WORK_LIMIT` loop turns and calls) and on what it may write
(:data:`OUTPUT_LIMIT` characters): a hostile or careless template is refused with a
:class:`FormError`, never left to run.

:func:`check_templates` is what ``servflow check`` reports about them: a template that is
missing, does not compile, or uses a name the procedure does not have, at its file:line.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from servflow._hints import did_you_mean
from servflow.engine import Case, Event
from servflow.errors import Diagnostic, ServflowError
from servflow.model import LANGUAGES, FieldSpec, Language, Procedure
from servflow.render.common import localized

__all__ = [
    "CONTEXT_NAMES",
    "LABELS",
    "OUTPUT_LIMIT",
    "TEMPLATE_FOLDER",
    "WORK_LIMIT",
    "FormError",
    "Forms",
    "TemplateName",
    "check_templates",
    "render_template",
    "template_context",
    "template_names",
    "unknown_names",
]

TEMPLATE_FOLDER = "templates"
"""The folder, beside the procedure files, that holds their templates."""

OUTPUT_LIMIT = 200_000
"""The most characters one rendered template (or one string it builds) may hold."""

WORK_LIMIT = 100_000
"""The most loop turns and calls (macros, methods) one rendering may take."""

Kind = Literal["notification", "record"]
_SUFFIX: dict[Kind, str] = {"notification": "txt", "record": "html"}

#: Fixed words of the forms and notifications, per language: ``labels.<key>``.
LABELS: dict[str, dict[Language, str]] = {
    "organisation": {"zh-Hant": "機構", "zh-Hans": "机构", "en": "Organisation"},
    "case_no": {"zh-Hant": "案件編號", "zh-Hans": "案件编号", "en": "Case number"},
    "state": {"zh-Hant": "狀態", "zh-Hans": "状态", "en": "Status"},
    "procedure": {"zh-Hant": "程序", "zh-Hans": "程序", "en": "Procedure"},
    "opened_at": {"zh-Hant": "登記時間", "zh-Hans": "登记时间", "en": "Opened"},
    "updated_at": {"zh-Hant": "最後更新", "zh-Hans": "最后更新", "en": "Last updated"},
    "step": {"zh-Hant": "步驟", "zh-Hans": "步骤", "en": "Step"},
    "at": {"zh-Hant": "時間", "zh-Hans": "时间", "en": "Time"},
    "by_role": {"zh-Hant": "經辦崗位", "zh-Hans": "经办岗位", "en": "Handled by"},
    "signature": {"zh-Hant": "簽名", "zh-Hans": "签名", "en": "Signature"},
    "handled_by": {"zh-Hant": "經辦人", "zh-Hans": "经办人", "en": "Handled by"},
    "checked_by": {"zh-Hant": "審核人", "zh-Hans": "审核人", "en": "Checked by"},
    "resident_signature": {
        "zh-Hant": "住戶簽名",
        "zh-Hans": "住户签名",
        "en": "Resident's signature",
    },
    "date": {"zh-Hant": "日期", "zh-Hans": "日期", "en": "Date"},
    "yes": {"zh-Hant": "是", "zh-Hans": "是", "en": "Yes"},
    "no": {"zh-Hant": "否", "zh-Hans": "否", "en": "No"},
    "masked": {"zh-Hant": "〔保密〕", "zh-Hans": "〔保密〕", "en": "[withheld]"},
    "time_limit": {"zh-Hant": "時限", "zh-Hans": "时限", "en": "Time limit"},
}

#: The names a template may start from, and the attributes of each (the names under
#: ``case.fields`` and ``titles.*`` are the procedure's own, checked against it).
CONTEXT_NAMES = ("lang", "organisation", "labels", "procedure", "case", "titles", "event")
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "procedure": frozenset({"id", "version", "title"}),
    "case": frozenset(
        {"id", "state", "state_title", "opened_at", "updated_at", "escalation_level", "fields"}
    ),
    "event": frozenset(
        {"trigger", "trigger_title", "at", "role", "role_title", "time_limit", "time_limit_title"}
    ),
    "titles": frozenset({"fields", "states", "roles", "triggers", "time_limits"}),
    "labels": frozenset(LABELS),
}


class FormError(ServflowError):
    """A template could not be found or rendered; the message names file and line only,
    never a value of the case."""


@dataclass(frozen=True)
class TemplateName:
    """A template the procedure names: what it is and where it is first named."""

    name: str
    kind: Kind
    path: tuple[str | int, ...]

    def file_name(self, lang: str) -> str:
        """The file of this template in one language: ``<name>.<lang>.<txt|html>``."""
        return f"{self.name}.{lang}.{_SUFFIX[self.kind]}"

    @property
    def shared_name(self) -> str:
        """The file used for every language that has none of its own: ``<name>.<txt|html>``
        (a record form whose rows are the same in every language, its words coming from
        ``titles`` and ``labels``)."""
        return f"{self.name}.{_SUFFIX[self.kind]}"

    def file_names(self, lang: str) -> list[str]:
        """Where the template for ``lang`` is looked for, in order."""
        return [self.file_name(lang), self.shared_name]


def template_names(proc: Procedure) -> list[TemplateName]:
    """Every notification template and record form ``proc`` names, first mention first."""
    found: dict[str, TemplateName] = {}

    def add(name: str | None, kind: Kind, path: tuple[str | int, ...]) -> None:
        if name is not None and name not in found:
            found[name] = TemplateName(name, kind, path)

    branches: list[tuple[tuple[str | int, ...], Any]] = [(("start",), proc.start)]
    for trigger, each in proc.transitions.items():
        branches += [(("transitions", trigger, i), b) for i, b in enumerate(each)]
    for base, branch in branches:
        for j, effect in enumerate(branch.effects):
            add(effect.template, "notification", (*base, "effects", j, "template"))
            add(effect.record, "record", (*base, "effects", j, "record"))
    for limit_name, limit in proc.time_limits.items():
        for j, action in enumerate(limit.on_breach):
            add(
                action.template,
                "notification",
                ("time_limits", limit_name, "on_breach", j, "template"),
            )
    return list(found.values())


# -- the read-only view ---------------------------------------------------------------


class _View:
    """A read-only namespace: ``view.name`` and ``view['name']``, nothing else.

    It has no public attribute of its own, so a name of the procedure (a field called
    ``items``, say) can never meet a method; the sandbox refuses every ``_`` attribute.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _display(value: Any, kind: str, lang: Language) -> str:
    """A stored value as a form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return LABELS["yes" if value else "no"][lang]
    if kind == "datetime" and isinstance(value, str):
        try:
            return _moment(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ("、" if lang != "en" else ", ").join(str(v) for v in value)
    return str(value)


def _rows(rows: list[Any], spec: FieldSpec, lang: Language) -> str:
    """A table's rows as a form shows them: one line per row, each cell with its column's
    title; a ``pii`` column's cells are masked for every reader (columns name no readers)."""
    sep, between = (": ", "; ") if lang == "en" else ("：", "；")
    columns = spec.columns or {}
    lines = []
    for row in rows:
        cells = []
        for name, column in columns.items():
            cell = row.get(name) if isinstance(row, Mapping) else None
            shown = (
                LABELS["masked"][lang]
                if column.pii and cell is not None
                else _display(cell, column.type, lang)
            )
            cells.append(f"{localized(column.title, lang, name)}{sep}{shown}")
        lines.append(between.join(cells))
    return "\n".join(lines)


def template_context(
    proc: Procedure,
    case: Case,
    lang: Language,
    *,
    viewer_roles: Iterable[str] = (),
    event: Event | None = None,
    organisation: str = "",
) -> dict[str, Any]:
    """What a template sees: the case's fields (``pii`` masked unless one of
    ``viewer_roles`` is in the field's ``visible_to``), its state, the event that led to
    the notification or record, and the procedure's titles, all in ``lang``."""
    if lang not in LANGUAGES:
        raise FormError(f"unknown language {lang!r}; one of {', '.join(LANGUAGES)}")
    viewers = set(viewer_roles)
    masked = LABELS["masked"][lang]
    fields: dict[str, str] = {}
    for name, spec in proc.fields.items():
        value = case.data.get(name)
        hidden = spec.pii and not viewers.intersection(spec.visible_to or ())
        shown = _display(value, spec.type, lang)
        if spec.type == "table" and isinstance(value, list):
            shown = _rows(value, spec, lang)
        if spec.type == "choice" and isinstance(value, str):
            named = spec.choice_title(value)  # the choice's title in the form's language
            shown = named.get(lang) or named.get("en") or shown
        fields[name] = masked if hidden and value is not None else shown

    def titles(items: Mapping[str, Any]) -> _View:
        return _View({k: localized(v.title, lang, k) for k, v in items.items()})

    trigger_titles = {
        trigger: localized(branches[0].title, lang, trigger)
        for trigger, branches in proc.transitions.items()
    }
    trigger_titles.setdefault("start", localized(proc.title, lang, "start"))
    event_view: dict[str, Any] = dict.fromkeys(_ATTRIBUTES["event"], "")
    if event is not None:
        event_view.update(
            trigger=event.trigger,
            trigger_title=trigger_titles.get(event.trigger, event.trigger),
            at=_moment(event.at),
            role=event.role or "",
            role_title=localized(proc.roles[event.role].title, lang, event.role)
            if event.role in proc.roles
            else "",
            time_limit=event.time_limit or "",
            time_limit_title=localized(proc.time_limits[event.time_limit].title, lang)
            if event.time_limit in proc.time_limits
            else "",
        )
    state = proc.states.get(case.state)
    return {
        "lang": lang,
        "organisation": organisation,
        "labels": _View({key: texts[lang] for key, texts in LABELS.items()}),
        "procedure": _View(
            {"id": proc.id, "version": proc.version, "title": localized(proc.title, lang, proc.id)}
        ),
        "case": _View(
            {
                "id": case.id,
                "state": case.state,
                "state_title": localized(state.title, lang, case.state) if state else case.state,
                "opened_at": _moment(case.opened_at),
                "updated_at": _moment(case.updated_at),
                "escalation_level": case.escalation_level,
                "fields": _View(fields),
            }
        ),
        "titles": _View(
            {
                "fields": titles(proc.fields),
                "states": titles(proc.states),
                "roles": titles(proc.roles),
                "triggers": _View(trigger_titles),
                "time_limits": titles(proc.time_limits),
            }
        ),
        "event": _View(event_view),
    }


# -- the sandbox ----------------------------------------------------------------------

_BUDGET: ContextVar[list[int] | None] = ContextVar("servflow_form_budget", default=None)


def _spend(amount: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget[0] -= amount
    if budget[0] < 0:
        raise FormError(f"the template does more than {WORK_LIMIT} loop turns and calls")


def _counted(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


def _sized(text: Any) -> Any:
    if isinstance(text, str | list | tuple) and len(text) > OUTPUT_LIMIT:
        raise FormError(f"the template builds a value longer than {OUTPUT_LIMIT} characters")
    return text


@jinja2.pass_eval_context
def _concat(eval_ctx: nodes.EvalContext, parts: list[Any]) -> Any:
    if sum(len(str(p)) for p in parts) > OUTPUT_LIMIT:
        raise FormError(f"the template builds a value longer than {OUTPUT_LIMIT} characters")
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


@jinja2.pass_eval_context
def _join(eval_ctx: nodes.EvalContext, value: Iterable[Any], d: str = "") -> Any:
    items = list(_counted(value))
    if sum(len(str(x)) for x in items) + len(d) * len(items) > OUTPUT_LIMIT:
        raise FormError(f"the template builds a value longer than {OUTPUT_LIMIT} characters")
    if eval_ctx.autoescape:
        return Markup(escape(d)).join(escape(x) for x in items)
    return d.join(str(x) for x in items)


# The filters a form needs; none that can make a value huge (center, indent, wordwrap,
# format, replace), draw at random (random, shuffle) or mark text as safe HTML (safe).
_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "e",
    "escape",
    "first",
    "float",
    "int",
    "last",
    "length",
    "list",
    "lower",
    "max",
    "min",
    "reverse",
    "round",
    "sort",
    "string",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
)


#: The methods of text a template may call; the others can make a value huge (center,
#: ljust, zfill, replace, join) or format (format, format_map), which the filters do.
_TEXT_METHODS = frozenset(
    {
        "upper",
        "lower",
        "strip",
        "lstrip",
        "rstrip",
        "title",
        "capitalize",
        "startswith",
        "endswith",
        "isdigit",
        "split",
    }
)
_BUILTIN_TYPES = (str, bytes, list, dict, tuple, set, frozenset, int, float)


class _Environment(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with servflow's ceilings on work and size."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, loader: jinja2.BaseLoader, *, html: bool) -> None:
        super().__init__(
            loader=loader,
            autoescape=html,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        default_filters = self.filters
        self.filters = {name: default_filters[name] for name in _FILTERS}
        self.filters["join"] = _join
        self.filters["servflow_counted"] = _counted
        self.filters["servflow_concat"] = _concat
        self.globals = {"range": lambda *args: _counted(self._range(*args))}

    @staticmethod
    def _range(*args: int) -> range:
        numbers = range(*args)
        if len(numbers) > WORK_LIMIT:
            raise FormError(f"range() of more than {WORK_LIMIT} numbers")
        return numbers

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        # Every loop counts its turns; every `~` is bounded like `+`.
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(
                loop.iter, "servflow_counted", [], [], None, None, lineno=loop.lineno
            )
        for concat in list(tree.find_all(nodes.Concat)):
            parts = nodes.List(list(concat.nodes), lineno=concat.lineno)
            replacement = nodes.Filter(
                parts, "servflow_concat", [], [], None, None, lineno=concat.lineno
            )
            _replace(tree, concat, replacement)
        return tree

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("the % operator does not format text in a template")
        if operator == "**" and not (
            isinstance(left, int | float)
            and isinstance(right, int | float)
            and abs(right) <= 64
            and abs(left) <= 2**64
        ):
            raise SecurityError("a power in a template is at most 64 of at most 2**64")
        if operator == "*":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > 4096
            ):
                raise SecurityError("a product in a template is at most 4096 bits")
            for one, other in ((left, right), (right, left)):
                if (
                    isinstance(one, str | list | tuple)
                    and isinstance(other, int)
                    and len(one) * other > OUTPUT_LIMIT
                ):
                    raise FormError(
                        f"the template builds a value longer than {OUTPUT_LIMIT} characters"
                    )
        result = super().call_binop(context, operator, left, right)
        return _sized(result)

    def call(
        __self,  # jinja2's own signature: a keyword argument may be called `self`
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _spend()
        # jinja2 hands str.format out wrapped (functools.wraps): judge what it wraps.
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "?")
        if isinstance(owner, _BUILTIN_TYPES) and name not in _TEXT_METHODS:
            raise SecurityError(f"a template may not call {type(owner).__name__}.{name}")
        return _sized(super().call(__context, __obj, *args, **kwargs))


def _replace(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    """Put ``new`` where ``old`` is in ``tree`` (one node, found by identity)."""
    for parent in tree.find_all(nodes.Node):
        for field in parent.fields:
            value = getattr(parent, field, None)
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


# -- rendering -------------------------------------------------------------------------


class Forms:
    """The templates of one catalogue folder (``<folder>/templates/``).

    ``Forms.standard()`` is the standard catalogue's. :meth:`render` renders one
    template of one case; it never writes anything, reads nothing but the template
    files and keeps the compiled templates for the next call.
    """

    def __init__(self, catalogue: str | Path) -> None:
        self.root = Path(catalogue) / TEMPLATE_FOLDER
        self._environments: dict[tuple[str, bool], _Environment] = {}

    @classmethod
    def standard(cls) -> Forms:
        from servflow.catalogue import catalogue_path

        return cls(catalogue_path())

    def environment(self, procedure_id: str, *, html: bool) -> _Environment:
        key = (procedure_id, html)
        if key not in self._environments:
            # The procedure's own folder, then the shared one; FileSystemLoader refuses
            # every name that would leave them (`..`, absolute paths).
            loader = jinja2.FileSystemLoader([str(self.root / procedure_id), str(self.root)])
            self._environments[key] = _Environment(loader, html=html)
        return self._environments[key]

    def render(
        self,
        proc: Procedure,
        case: Case,
        name: str,
        lang: Language,
        *,
        viewer_roles: Iterable[str] = (),
        event: Event | None = None,
        organisation: str = "",
    ) -> str:
        """Template ``name`` of ``proc`` for ``case`` in ``lang``, as ``viewer_roles`` see it."""
        if case.procedure != proc.id:
            raise FormError(f"case {case.id!r} is a {case.procedure!r} case, not {proc.id!r}")
        named = {t.name: t for t in template_names(proc)}
        if name not in named:
            raise FormError(f"procedure {proc.id!r} names no template or record {name!r}")
        wanted = named[name]
        context = template_context(
            proc, case, lang, viewer_roles=viewer_roles, event=event, organisation=organisation
        )
        env = self.environment(proc.id, html=wanted.kind == "record")
        folder = self.root / proc.id
        names = wanted.file_names(lang)
        file_name = next((n for n in names if (folder / n).is_file()), names[0])
        return _render(env, file_name, context, self.root)


def _render(env: _Environment, file_name: str, context: dict[str, Any], root: Path) -> str:
    token = _BUDGET.set([WORK_LIMIT])
    try:
        template = env.get_template(file_name)
        out: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > OUTPUT_LIMIT:
                raise FormError(
                    f"{file_name} writes more than {OUTPUT_LIMIT} characters; stopped there"
                )
            out.append(chunk)
        return "".join(out)
    except jinja2.TemplateNotFound as exc:
        raise FormError(f"{_where(exc, file_name)}: no template {exc.name} in {root}") from None
    except TemplateSyntaxError as exc:
        raise FormError(f"{exc.filename or file_name}:{exc.lineno}: {exc.message}") from None
    except FormError as exc:
        raise FormError(f"{_where(exc, file_name)}: {exc}") from None
    except (UndefinedError, SecurityError) as exc:
        # jinja2 quotes the name looked up, which a template may take from the case
        # (`case.fields[case.fields.phone]`): then say what happened without it.
        message = exc.message or type(exc).__name__
        values = context["case"]["fields"]
        if any(values[name] and values[name] in message for name in values):
            message = "looked up a name taken from the case, and it is not there"
        raise FormError(f"{_where(exc, file_name)}: {message}") from None
    except RecursionError:
        raise FormError(f"{file_name}: templates include or call each other endlessly") from None
    except Exception as exc:  # a value's own error may quote it: name the kind only
        raise FormError(f"{_where(exc, file_name)}: {type(exc).__name__}") from None
    finally:
        _BUDGET.reset(token)


def _where(exc: BaseException, file_name: str) -> str:
    """``file:line`` of the template line that raised ``exc`` (jinja2 rewrites the
    traceback so that the template's frames carry its file and line)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".html", ".txt")):
            return f"{Path(frame.filename).name}:{frame.lineno}"
    return file_name


def render_template(
    engine: Any,
    case: Case,
    name: str,
    lang: Language,
    *,
    viewer_roles: Iterable[str] = (),
    event: Event | None = None,
    organisation: str = "",
    forms: Forms | None = None,
) -> str:
    """Render template or record form ``name`` of ``case`` with ``engine``'s procedure
    (the version the case is pinned to) from ``forms`` (default: the standard catalogue's)."""
    proc: Procedure = engine.procedure(case.procedure, case.procedure_version)
    return (forms or Forms.standard()).render(
        proc,
        case,
        name,
        lang,
        viewer_roles=viewer_roles,
        event=event,
        organisation=organisation,
    )


# -- servflow check --------------------------------------------------------------------


def check_templates(
    proc: Procedure,
    catalogue: Path,
    at: Callable[[tuple[str | int, ...], str, str], Diagnostic],
) -> list[Diagnostic]:
    """What ``servflow check`` reports about the templates of ``proc``, which was read
    from a file in the folder ``catalogue``.

    ``template-missing`` at the line of the procedure file that names the template
    (``at(path, code, message)`` makes that diagnostic); ``template-syntax`` and
    ``template-unknown-name`` in the template's own file, at its line.
    """
    found: list[Diagnostic] = []
    forms = Forms(catalogue)
    for wanted in template_names(proc):
        missing: list[str] = []
        shared = forms.root / proc.id / wanted.shared_name
        for lang in LANGUAGES:
            path = forms.root / proc.id / wanted.file_name(lang)
            if path.is_file():
                found += _check_file(forms, proc, path, html=wanted.kind == "record")
            elif not shared.is_file():
                missing.append(lang)
        if shared.is_file() and any(
            not (forms.root / proc.id / wanted.file_name(lang)).is_file() for lang in LANGUAGES
        ):
            found += _check_file(forms, proc, shared, html=wanted.kind == "record")
        if missing:
            languages = " or ".join(
                [", ".join(missing[:-1]), missing[-1]] if missing[:-1] else missing
            )
            file = wanted.file_name(missing[0] if len(missing) == 1 else "<lang>")
            folder = (forms.root / proc.id).as_posix()
            found.append(
                at(
                    wanted.path,
                    "template-missing",
                    f"{wanted.kind} {wanted.name!r} has no {languages} template: "
                    f"write {file} (or {wanted.shared_name}, for every language) in {folder}/",
                )
            )
    return found


def _check_file(forms: Forms, proc: Procedure, path: Path, *, html: bool) -> list[Diagnostic]:
    env = forms.environment(proc.id, html=html)
    shown = path.as_posix()
    try:
        source = path.read_text(encoding="utf-8")
        tree = env.parse(source, path.name, shown)
        env.compile(tree)
    except TemplateSyntaxError as exc:
        line, column = exc.lineno or 0, 1
        unknown = re.match(r"No (filter|test) named '([^']+)'", exc.message or "")
        if unknown is not None:
            where = re.search(
                rf"(\||\bis\s+(not\s+)?)\s*{re.escape(unknown[2])}\b",
                source.splitlines()[line - 1] if 0 < line <= len(source.splitlines()) else "",
            )
            column = where.end() - len(unknown[2]) + 1 if where is not None else 1
        return [Diagnostic(shown, line, column, "error", "template-syntax", exc.message or "")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Diagnostic(shown, 1, 1, "error", "template-syntax", f"unreadable: {exc}")]
    lines = source.splitlines()
    return [
        Diagnostic(
            shown,
            line,
            _column(lines, line, name, attribute=not text.startswith("unknown name")),
            "error",
            "template-unknown-name",
            text,
        )
        for line, name, text in unknown_names(tree, proc)
    ]


def _column(lines: list[str], line: int, name: str, *, attribute: bool) -> int:
    """The 1-based column of ``name`` on ``line``: as an attribute (``.name``,
    ``['name']``) or a name of its own; else 1 (jinja2 keeps lines only, and a tag
    written over several lines may hold it further down)."""
    word = re.escape(name)
    pattern = (
        rf"(?<=\.){word}(?![A-Za-z0-9_])|(?<=\[['\"]){word}(?=['\"])"
        if attribute
        else rf"(?<![A-Za-z0-9_.]){word}(?![A-Za-z0-9_])"
    )
    if 0 < line <= len(lines):
        found = re.search(pattern, lines[line - 1])
        if found is not None:
            return found.start() + 1
    return 1


def unknown_names(tree: nodes.Template, proc: Procedure) -> list[tuple[int, str, str]]:
    """``(line, name, message)`` for every name in ``tree`` that the context does not have."""
    local: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            local.add(node.name)
    for macro in tree.find_all(nodes.Macro):
        local.add(macro.name)
    for imported in tree.find_all(nodes.FromImport):
        local.update(n if isinstance(n, str) else n[1] for n in imported.names)
    for whole in tree.find_all(nodes.Import):
        local.add(whole.target)
    local.update({"loop", "super", "caller", "varargs", "kwargs", "range", "self"})
    own = {
        "fields": set(proc.fields),
        "states": set(proc.states),
        "roles": set(proc.roles),
        "triggers": {*proc.transitions, "start"},
        "time_limits": set(proc.time_limits),
    }
    problems: list[tuple[int, str, str]] = []
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in local and node.name not in CONTEXT_NAMES:
            problems.append(
                (node.lineno, node.name, f"unknown name {node.name!r}" + _one_of(CONTEXT_NAMES))
            )
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _chain(access)
        if chain is None or chain[0] not in CONTEXT_NAMES or chain[0] in local:
            continue
        root, rest = chain[0], chain[1:]
        if not rest or root not in _ATTRIBUTES:
            continue
        if rest[0] not in _ATTRIBUTES[root]:
            problems.append(
                (
                    access.lineno,
                    rest[0],
                    f"{root} has no {rest[0]!r}" + _one_of(_ATTRIBUTES[root]),
                )
            )
        elif len(rest) == 2 and (root, rest[0]) in (("case", "fields"), ("titles", "fields")):
            if rest[1] not in own["fields"]:
                problems.append(
                    (
                        access.lineno,
                        rest[1],
                        f"procedure {proc.id!r} has no field {rest[1]!r}"
                        + did_you_mean(rest[1], own["fields"]),
                    )
                )
        elif len(rest) == 2 and root == "titles" and rest[1] not in own[rest[0]]:
            kind = rest[0].rstrip("s")
            problems.append(
                (
                    access.lineno,
                    rest[1],
                    f"procedure {proc.id!r} has no {kind} {rest[1]!r}"
                    + did_you_mean(rest[1], own[rest[0]]),
                )
            )
    return sorted(set(problems))


def _chain(node: nodes.Node) -> list[str] | None:
    """``['case', 'fields', 'phone']`` for ``case.fields.phone`` (or ``case['fields']``),
    only for the outermost node of a chain of constant names."""
    parts: list[str] = []
    current: nodes.Node = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        if isinstance(current, nodes.Getattr):
            parts.append(current.attr)
        elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
            parts.append(current.arg.value)
        else:
            return None
        current = current.node
    if not isinstance(current, nodes.Name):
        return None
    parts.append(current.name)
    return parts[::-1]


def _one_of(names: Iterable[str]) -> str:
    return f" (one of: {', '.join(sorted(names))})"
