"""Standard operating procedures in Markdown, rendered from a procedure file alone.

:func:`render_sop` turns a :class:`~servflow.model.Procedure` into the document a desk
keeps in its binder: purpose, roles, the steps in order with who does each and what
information it needs, time limits and escalation, the rules (guards, authority,
invariants), the data and the record forms, with fields marked ``pii`` flagged as
confidential. Headings and fixed phrases come in Traditional Chinese, Simplified Chinese
or English; titles come from the file, falling back to another language when one is
missing.

The work is split in two: this module reads the procedure into plain view objects
(every string already localized), and the jinja2 template ``sop.md.j2`` lays them out.
The template runs in a sandbox with ``StrictUndefined``, so a misspelt variable in a
template is an error, not an empty string. Jinja's autoescaping is off because it escapes
for HTML, not Markdown: instead every text that comes from the procedure file is made
inert here, when the view is built (:mod:`servflow.render.escape`), so a title holding
``<script>``, ``# heading`` or a pipe renders as that text; the template adds only its own
fixed words and Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from servflow.engine.calendar import CalendarSpec
from servflow.engine.limits import parse_until
from servflow.model import (
    Branch,
    Clause,
    ColumnSpec,
    FieldSpec,
    LocalizedName,
    Pause,
    Procedure,
    Start,
    name_list,
)
from servflow.procedures.lint import limit_coverage
from servflow.render.common import (
    DEFAULT_LANGUAGE,
    choice_label,
    format_duration,
    localized,
    localized_name,
)
from servflow.render.diagram import render_mermaid
from servflow.render.escape import code_span, markdown_paragraphs, markdown_text
from servflow.render.labels import LABELS
from servflow.render.measures import MEASURE_WORDS, measure_rows
from servflow.render.schedules import SCHEDULE_LABELS, schedule_lines

__all__ = ["render_sop"]


# A target that is a date held in a field ("by the promised reply date").
_UNTIL = {"zh-Hant": "至「{}」所載日期", "zh-Hans": "至「{}」所载日期", "en": "by the date in “{}”"}
# ... moved by an offset ("5 working days before the signing date").
_UNTIL_BEFORE = {
    "zh-Hant": "至「{field}」所載日期前 {offset}",
    "zh-Hans": "至「{field}」所载日期前 {offset}",
    "en": "{offset} before the date in “{field}”",
}
_UNTIL_AFTER = {
    "zh-Hant": "至「{field}」所載日期後 {offset}",
    "zh-Hans": "至「{field}」所载日期后 {offset}",
    "en": "{offset} after the date in “{field}”",
}
# The columns of a `table` field, and its bound on rows.
_COLUMNS = {"zh-Hant": "欄：{}", "zh-Hans": "栏：{}", "en": "columns: {}"}
_MAX_ROWS = {"zh-Hant": "最多 {} 行", "zh-Hans": "最多 {} 行", "en": "at most {} rows"}
# A state that waits on purpose, without a time limit (`waits`), and what for.
_WAITS = {"zh-Hant": "等候：{}", "zh-Hans": "等候：{}", "en": "waits for: {}"}


@dataclass(frozen=True)
class _Named:
    id: str
    title: str


@dataclass(frozen=True)
class _Role:
    id: str
    title: str
    rank: int
    description: str


@dataclass(frozen=True)
class _Branch:
    title: str
    sources: list[str]
    target: str
    roles: list[str]
    when: str | None
    # The analyst's words for the condition (`message`), shown instead of `when`.
    message: str | None
    requires: list[str]
    optional: list[str] | None  # None: any field of the procedure
    clears: list[str]
    authority: list[tuple[str, str]]
    effects: list[str]
    notes: list[str]


@dataclass(frozen=True)
class _Trigger:
    """A numbered step of the SOP: one trigger (or the start) with its branches."""

    number: int
    id: str
    title: str
    branches: list[_Branch]


@dataclass(frozen=True)
class _Target:
    when: str | None
    limit: str
    calendar: str


@dataclass(frozen=True)
class _Limit:
    id: str
    title: str
    starts: list[str]
    stops: list[str]
    pauses: list[str]
    targets: list[_Target]
    warnings: str
    warn_notify: list[str]
    breach: list[str]
    states: list[str]


@dataclass(frozen=True)
class _Field:
    id: str
    title: str
    type: str
    pii: bool
    required_at: list[str]
    form: str
    notes: list[str]


@dataclass(frozen=True)
class _State:
    id: str
    title: str
    final: bool
    limits: list[str]


@dataclass(frozen=True)
class _Form:
    name: str
    fields: list[str]
    filed_at: list[str]


@dataclass
class _View:
    lang: str
    id: str
    version: int
    title: str
    description: str
    source: str | None
    calendar: str
    roles: list[_Role]
    steps: list[_Trigger]
    limits: list[_Limit]
    escalation: list[str]
    guards: list[tuple[str, str, str | None]]
    authority: list[tuple[str, str, str]]
    invariants: list[tuple[str, str, str | None]]
    fields: list[_Field]
    forms: list[_Form]
    states: list[_State]
    diagram: str
    t: Mapping[str, Any] = field(default_factory=dict)
    schedule_words: Mapping[str, object] = field(default_factory=dict)
    schedules: list[str] = field(default_factory=list)
    measures: list[tuple[str, str]] = field(default_factory=list)
    mt: Mapping[str, str] = field(default_factory=dict)
    properties: list[tuple[str, str, str]] = field(default_factory=list)


class _Reader:
    """Reads a procedure into the view, every name turned into its localized title."""

    def __init__(
        self, proc: Procedure, lang: str, calendars: Mapping[str, CalendarSpec] | None
    ) -> None:
        self.proc = proc
        self.lang = lang
        self.t = LABELS[lang]
        self.calendars = calendars or {}

    # -- names ----------------------------------------------------------------------------

    def role(self, name: str) -> str:
        role = self.proc.roles.get(name)
        return markdown_text(localized(role.title, self.lang, name) if role else name)

    def state(self, name: str) -> str:
        state = self.proc.states.get(name)
        return markdown_text(localized(state.title, self.lang, name) if state else name)

    def message(self, message: Mapping[Any, str] | None) -> str | None:
        """A condition's `message` in the SOP's language, or None when it has none."""
        text = localized(message or {}, self.lang)
        return markdown_text(text) if text else None

    def field_title(self, name: str) -> str:
        spec = self.proc.fields.get(name)
        title = markdown_text(localized(spec.title, self.lang, name) if spec else name)
        return f"{title} 🔒" if spec is not None and spec.pii else title

    def trigger(self, name: str) -> str:
        if name == "start":
            return markdown_text(localized(self.proc.start.title, self.lang, self.t["start_step"]))
        titles = [localized(b.title, self.lang) for b in self.proc.transitions.get(name, [])]
        return markdown_text(_common_title([t for t in titles if t]) or name)

    def calendar(self, name: str | None) -> str:
        name = name or self.proc.calendar
        if name == "always":
            return str(self.t["always"])
        spec = self.calendars.get(name)
        return markdown_text(localized(spec.title, self.lang, name) if spec else name)

    # -- sections -------------------------------------------------------------------------

    def order(self) -> dict[str, int]:
        """Each state's position on the way through: a breadth-first walk from the start
        over states that are not final, then the final states and the unreachable ones."""
        states = self.proc.states
        seen = [self.proc.start.to] if self.proc.start.to in states else []
        for state in seen:
            for branches in self.proc.transitions.values():
                for branch in branches:
                    target = branch.to
                    if (
                        state in branch.source
                        and target not in seen
                        and target in states
                        and not states[target].final
                    ):
                        seen.append(target)
        seen += [s for s, spec in states.items() if s not in seen and spec.final]
        seen += [s for s in states if s not in seen]
        return {name: i for i, name in enumerate(seen)}

    def _step_key(self, branches: list[Branch], order: dict[str, int]) -> tuple[int, int, int]:
        """Main-path steps first, in the order of the states they move forward from; then
        side steps (only loops back into the same state, or exits to a final state from
        several states, such as a cancellation), in the same order."""
        states, end = self.proc.states, len(order)
        sources = [s for b in branches for s in b.source]
        side = all(b.to in b.source for b in branches) or (
            len(sources) > 1 and all(b.to in states and states[b.to].final for b in branches)
        )
        best = min(
            (
                order.get(src, end),
                target if (target := order.get(b.to, end)) > order.get(src, end) else end + target,
            )
            for b in branches
            for src in b.source
        )
        return (int(side), *best)

    def branch(self, trigger: str, step: Start | Branch) -> _Branch:
        t = self.t
        requires = list(step.requires)
        optional = None if step.accepts is None else [f for f in step.accepts if f not in requires]
        effects: list[str] = []
        for effect in step.effects:
            if effect.notify:
                text = t["notify"].format(role=self.role(effect.notify))
                if effect.template:
                    text += f" ({code_span(effect.template)})"
                effects.append(text)
            if effect.record:
                effects.append(t["file_record"].format(form=self.record_name(effect.record)))
        for link in step.opens if isinstance(step, Branch) else ():
            text = t["opens"].format(procedure=code_span(link.procedure), role=code_span(link.role))
            if link.resume is not None:
                text += t["opens_resume"].format(trigger=self.trigger(link.resume))
            effects.append(text)
        notes: list[str] = []
        if step.escalates:
            notes.append(str(t["escalates"]))
        if step.follows_escalation:
            notes.append(str(t["follows_escalation"]))
        if isinstance(step, Branch) and step.counts:
            counted = str(t["comma"]).join(self.field_title(f) for f in step.counts)
            notes.append(t["counts"].format(fields=counted))
        if step.deescalates not in (None, False):
            ladder, target = self.proc.escalation, step.deescalates
            rung = target if isinstance(target, str) else (ladder[0] if ladder else "")
            notes.append(t["deescalates"].format(role=self.role(rung)))
        if step.round is not None:
            fresh = [n for n, f in self.proc.fields.items() if f.round == step.round]
            notes.append(
                t["round"].format(
                    round=markdown_text(step.round),
                    fields=str(t["comma"]).join(self.field_title(n) for n in fresh),
                )
            )
        if step.assignee is not None:
            notes.append(t["assignee"].format(field=self.field_title(step.assignee)))
        sources = step.source if isinstance(step, Branch) else []
        return _Branch(
            title=markdown_text(localized(step.title, self.lang, trigger)),
            sources=[self.state(s) for s in sources],
            target=self.state(step.to),
            roles=[self.role(r) for r in step.roles],
            when=step.when,
            message=self.message(step.message),
            requires=[self.field_title(f) for f in requires],
            optional=None if optional is None else [self.field_title(f) for f in optional],
            clears=[self.field_title(f) for f in step.clear],
            authority=[(self.role(r), expr) for r, expr in step.authority.items()],
            effects=effects,
            notes=notes,
        )

    def steps(self) -> list[_Trigger]:
        order = self.order()
        first = [
            _Trigger(1, "start", self.trigger("start"), [self.branch("start", self.proc.start)])
        ]
        triggers = sorted(
            enumerate(self.proc.transitions.items()),
            key=lambda item: (*self._step_key(item[1][1], order), item[0]),
        )
        for number, (_, (trigger, branches)) in enumerate(triggers, start=2):
            first.append(
                _Trigger(
                    number,
                    trigger,
                    self.trigger(trigger),
                    [self.branch(trigger, b) for b in branches],
                )
            )
        return first

    def clause(self, spec: Clause | Pause) -> list[str]:
        out: list[str] = []
        for kind, value in spec.written():
            names = name_list(value)
            if kind == "event":
                shown = [self.trigger(n) for n in names]
            else:
                shown = [self.state(n) for n in names]
            quoted = [self.t["quote"].format(name) for name in shown]
            out.append(self.t[f"clause_{kind}"].format(names=self.t["or"].join(quoted)))
        return out

    def until(self, text: str) -> str:
        """An `until` target in words: the field's title, and its offset if it has one."""
        try:
            until = parse_until(text)
        except ValueError:
            return markdown_text(text)  # the checks report it; the SOP shows it as written
        field = self.field_title(until.field)
        if until.offset is None:
            return _UNTIL.get(self.lang, _UNTIL["en"]).format(field)
        words = _UNTIL_BEFORE if until.before else _UNTIL_AFTER
        offset = markdown_text(format_duration(str(until.offset), self.lang))
        return words.get(self.lang, words["en"]).format(field=field, offset=offset)

    def limits(self) -> list[_Limit]:
        t = self.t
        out: list[_Limit] = []
        for name, limit in self.proc.time_limits.items():
            breach: list[str] = []
            for action in limit.on_breach:
                parts: list[str] = []
                if action.notify is not None:
                    parts.append(t["notify"].format(role=self.role(action.notify)))
                if action.fire is not None:
                    parts.append(t["fire"].format(step=self.trigger(action.fire)))
                if action.escalate:
                    parts.append(str(t["escalate_action"]))
                text = t["and"].join(parts)
                if action.after is not None:
                    after = markdown_text(format_duration(action.after, self.lang))
                    text = t["after"].format(duration=after, action=text)
                breach.append(text)
            coverage = limit_coverage(self.proc, limit)
            warn = [markdown_text(w) for w in limit.warn_at]
            out.append(
                _Limit(
                    id=name,
                    title=markdown_text(localized(limit.title, self.lang, name)),
                    starts=self.clause(limit.starts),
                    stops=self.clause(limit.stops),
                    pauses=self.clause(limit.pauses),
                    targets=[
                        _Target(
                            when=target.when,
                            limit=(
                                markdown_text(format_duration(target.limit, self.lang))
                                if target.limit is not None
                                else self.until(target.until or "")
                            )
                            + (f" {t['end_of_day']}" if target.end_of_working_day else ""),
                            calendar=self.calendar(target.calendar),
                        )
                        for target in limit.within
                    ],
                    warnings=str(self.t["comma"]).join(warn),
                    warn_notify=[self.role(r) for r in limit.warn_notify],
                    breach=breach,
                    states=[self.state(s) for s in self.proc.states if s in coverage.running],
                )
            )
        return out

    def columns(self, columns: Mapping[str, ColumnSpec]) -> str:
        """A table's columns in words: title (type), a pii column marked confidential."""
        shown = []
        for name, column in columns.items():
            title = markdown_text(localized(column.title, self.lang, name))
            kind = str(self.t["types"][column.type])
            shown.append(f"{title} ({kind})" + (" 🔒" if column.pii else ""))
        words = _COLUMNS.get(self.lang, _COLUMNS["en"])
        return words.format(str(self.t["comma"]).join(shown))

    def properties(self) -> list[tuple[str, str, str]]:
        """Each property: its title (else its name), its pattern, and what it states."""
        out = []
        for prop in self.proc.properties:
            title = markdown_text(localized(prop.title, self.lang, prop.name))
            pattern = prop.pattern
            if prop.precedes is not None:
                statement = f"{prop.precedes.first} → {prop.precedes.then}"
            elif prop.responds is not None:
                statement = f"{prop.responds.to} → {prop.responds.with_}"
                if prop.responds.within == 0:
                    statement += f" ({self.t['same_step']})"
                elif prop.responds.within is not None:
                    within = str(self.t["within_steps"]).format(n=prop.responds.within)
                    statement += f" ({within})"
            else:
                statement = str(getattr(prop, pattern))
            out.append((title, str(self.t[f"pattern_{pattern}"]), statement))
        return out

    def fields(self) -> list[_Field]:
        t = self.t
        required_at: dict[str, list[str]] = {name: [] for name in self.proc.fields}
        for trigger, branch in self._all_branches():
            for name in branch.requires:
                title = self.trigger(trigger)
                if name in required_at and title not in required_at[name]:
                    required_at[name].append(title)
        out: list[_Field] = []
        for name, spec in self.proc.fields.items():
            notes: list[str] = []
            if spec.pii:
                notes.append(f"**{t['confidential']}**")
                if spec.visible_to:
                    roles = ("、" if self.lang != "en" else ", ").join(
                        self.role(r) for r in spec.visible_to
                    )
                    notes.append(t["visible_to"].format(roles=roles))
            if spec.choices:
                # The notes go in a table cell: code with a pipe must not end it.
                shown = [self.choice(spec, value) for value in spec.choice_values]
                notes.append(t["choices"].format(values=", ".join(shown)))
            if spec.default is not None and not spec.pii:
                default = _code_cell(spec.default)
                if isinstance(spec.default, str) and spec.default in spec.choice_values:
                    default = self.choice(spec, spec.default)
                notes.append(t["default"].format(value=default))
            if spec.pattern:
                notes.append(t["pattern"].format(value=_code_cell(spec.pattern)))
            if spec.minimum is not None and spec.maximum is not None:
                notes.append(t["range"].format(low=f"{spec.minimum:g}", high=f"{spec.maximum:g}"))
            elif spec.minimum is not None:
                notes.append(t["at_least"].format(low=f"{spec.minimum:g}"))
            elif spec.maximum is not None:
                notes.append(t["at_most"].format(high=f"{spec.maximum:g}"))
            if spec.columns:
                notes.append(self.columns(spec.columns))
            if spec.max_rows is not None:
                notes.append(_MAX_ROWS.get(self.lang, _MAX_ROWS["en"]).format(spec.max_rows))
            description = markdown_text(localized(spec.description, self.lang))
            if description:
                notes.append(description)
            out.append(
                _Field(
                    id=name,
                    title=markdown_text(localized(spec.title, self.lang, name)),
                    type=str(t["types"][spec.type]),
                    pii=spec.pii,
                    required_at=required_at[name],
                    form=markdown_text(localized_name(spec.form, self.lang)),
                    notes=notes,
                )
            )
        return out

    def choice(self, spec: FieldSpec, value: str) -> str:
        """A choice as the SOP shows it: the value, and its title when the file gives one."""
        label = choice_label(spec, value, self.lang)
        return _code_cell(value) + ("" if label == value else f" {markdown_text(label)}")

    def record_name(self, record: str) -> str:
        """A record effect's form in the SOP's language: the field form it names, if any."""
        for spec in self.proc.fields.values():
            if isinstance(spec.form, dict) and record in spec.form.values():
                return markdown_text(localized_name(spec.form, self.lang))
        return markdown_text(record)

    def forms(self) -> list[_Form]:
        # A form is named by its fields as written (one text, or one per language); a
        # record effect names it by any of its texts. Shown in the SOP's language.
        forms: list[LocalizedName] = []
        for spec in self.proc.fields.values():
            if spec.form and spec.form not in forms:
                forms.append(spec.form)

        def form_of(record: str) -> LocalizedName:
            for form in forms:
                if record == form or (isinstance(form, dict) and record in form.values()):
                    return form
            forms.append(record)
            return record

        filed: dict[int, list[str]] = {}
        for trigger, branch in self._all_branches():
            for effect in branch.effects:
                if effect.record:
                    index = forms.index(form_of(effect.record))
                    title = self.trigger(trigger)
                    if title not in filed.setdefault(index, []):
                        filed[index].append(title)
        return [
            _Form(
                name=markdown_text(localized_name(form, self.lang)),
                fields=[self.field_title(n) for n, s in self.proc.fields.items() if s.form == form],
                filed_at=filed.get(i, []),
            )
            for i, form in enumerate(forms)
        ]

    def _all_branches(self) -> list[tuple[str, Start | Branch]]:
        out: list[tuple[str, Start | Branch]] = [("start", self.proc.start)]
        for trigger, branches in self.proc.transitions.items():
            out.extend((trigger, b) for b in branches)
        return out

    def view(self) -> _View:
        p, lang = self.proc, self.lang
        limits_by_state: dict[str, list[str]] = {s: [] for s in p.states}
        for name, limit in p.time_limits.items():
            coverage = limit_coverage(p, limit)
            title = markdown_text(localized(limit.title, lang, name))
            for s in coverage.running:
                limits_by_state[s].append(title)
            for s in coverage.paused:
                limits_by_state[s].append(f"{title} ({self.t['paused']})")
        waits = _WAITS.get(lang, _WAITS["en"])
        for name, state in p.states.items():
            if state.waits is not None:
                reason = markdown_text(localized(state.waits, lang))
                limits_by_state[name].append(waits.format(reason))
        guards = [
            (
                markdown_text(localized(branch.title, lang, trigger)),
                branch.when,
                self.message(branch.message),
            )
            for trigger, branch in self._all_branches()
            if branch.when
        ]
        authority = [
            (markdown_text(localized(branch.title, lang, trigger)), self.role(role), expr)
            for trigger, branch in self._all_branches()
            for role, expr in branch.authority.items()
        ]
        return _View(
            lang=lang,
            id=p.id,
            version=p.version,
            title=markdown_text(localized(p.title, lang, p.id)),
            description=markdown_paragraphs(localized(p.description, lang)),
            source=None if p.source is None else markdown_text(localized_name(p.source, lang)),
            calendar=self.calendar(p.calendar),
            roles=[
                _Role(
                    n,
                    markdown_text(localized(r.title, lang, n)),
                    r.rank,
                    markdown_text(localized(r.description, lang)),
                )
                for n, r in p.roles.items()
            ],
            steps=self.steps(),
            limits=self.limits(),
            escalation=[self.role(r) for r in p.escalation],
            guards=guards,
            authority=authority,
            invariants=[
                (markdown_text(inv.name), inv.check, self.message(inv.message))
                for inv in p.invariants
            ],
            properties=self.properties(),
            fields=self.fields(),
            forms=self.forms(),
            states=[
                _State(n, markdown_text(localized(s.title, lang, n)), s.final, limits_by_state[n])
                for n, s in p.states.items()
            ],
            diagram=render_mermaid(p, lang),
            t=self.t,
            schedule_words=SCHEDULE_LABELS.get(lang, SCHEDULE_LABELS["en"]),
            schedules=schedule_lines(p, lang, self.role, self.field_title, self.calendar(None)),
            measures=measure_rows(p, lang, self.clause, self.t["quote"].format, self.t["comma"]),
            mt=MEASURE_WORDS[lang],
        )


def _common_title(titles: list[str]) -> str:
    """One title for a trigger's branches.

    Variants in brackets share the part before them (回訪（滿意）, 回訪（不滿意） ->
    回訪); other differences keep every title (上報客服主管 / 上報客服經理).
    """
    unique = list(dict.fromkeys(titles))
    if len(unique) <= 1:
        return unique[0] if unique else ""
    prefix = unique[0]
    for title in unique[1:]:
        while not title.startswith(prefix):
            prefix = prefix[:-1]
    base = prefix.rstrip(" （(")
    rests = [title[len(base) :].lstrip() for title in unique]
    if len(base) >= 2 and all(rest == "" or rest[0] in "（(" for rest in rests):
        return base
    return " / ".join(unique)


def _code_cell(value: object) -> str:
    """Inline code inside a table cell: a pipe would end the cell, even in code, unless
    escaped (GFM tables read ``\\|`` as a pipe there too)."""
    return code_span(value).replace("|", "\\|")


@cache
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=PackageLoader("servflow.render"),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code"] = code_span
    env.filters["code_cell"] = _code_cell
    return env


def render_sop(
    proc: Procedure,
    lang: str = DEFAULT_LANGUAGE,
    *,
    calendars: Mapping[str, CalendarSpec] | None = None,
) -> str:
    """The procedure's SOP in Markdown; ``calendars`` give calendar titles."""
    if lang not in LABELS:
        raise ValueError(f"unknown language {lang!r}; use {', '.join(LABELS)}")
    view = _Reader(proc, lang, calendars).view()
    text = _environment().get_template("sop.md.j2").render(v=view, t=view.t)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"
