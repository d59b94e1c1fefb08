"""The demo's words: audit events, effects and refusals told in a reader's terms.

An audit event names things by their ids (``breached daily_patrol``, ``fire dispatch``),
which only the procedure's author knows. :class:`Words` tells the same event with the
titles the procedure gives them, in the language asked for: the step, the states before
and after, the role that acted, the time limit and what its breach does. Every time is
written with its offset from UTC, so a reader in another zone reads it right. Values of
``pii`` fields are masked by the testing kit's :class:`Display`, as everywhere else.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

from servflow.engine import Effect, Event
from servflow.engine.durations import parse_duration
from servflow.errors import Rejected, RejectionReason
from servflow.model import Procedure
from servflow.render.common import DEFAULT_LANGUAGE, format_duration, localized
from servflow.testing._display import Display

__all__ = ["REASONS", "Words"]

#: A refusal's reason, in words (the code stays in the audit trail and the API).
REASONS: dict[RejectionReason, str] = {
    "unknown_trigger": "there is no such step",
    "not_in_state": "the step is not open at this stage",
    "forbidden": "this person may not take the step",
    "beyond_authority": "it is beyond this role's authority",
    "guard_failed": "a condition of the step does not hold",
    "invalid_data": "the data given is not valid",
    "stale_version": "the case changed in the meantime",
    "final_state": "the case is closed",
}

# A deadline from a date field, as the timer keeps it: `until return_by - 1wd`.
_UNTIL = re.compile(r"^until (\w+)(?: *([+-]) *(.+))?$")


def _is_duration(text: str) -> bool:
    """Whether ``text`` is a duration as the language writes it (``2wd``, ``1h30m``)."""
    try:
        parse_duration(text.strip())
    except (TypeError, ValueError):
        return False
    return True


class Words:
    """How one procedure's events read, in ``lang``, with times in ``zone``."""

    def __init__(self, proc: Procedure, lang: str | None, zone: tzinfo) -> None:
        # Titles need a language (the catalogue's default without one); a choice's value
        # is shown with its title only when a language is asked for, as in the kit.
        self.proc, self.lang, self.zone = proc, lang or DEFAULT_LANGUAGE, zone
        self.display = Display(zone, proc.fields, lang)

    # -- names ---------------------------------------------------------------------------

    def time(self, moment: datetime) -> str:
        """``2026-11-23 09:00 +08:00``: the local time and its offset from UTC."""
        local = moment.astimezone(self.zone)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"

    def state(self, state: str | None) -> str:
        spec = self.proc.states.get(state or "")
        return localized(spec.title, self.lang, "a new state") if spec else "an unknown state"

    def role(self, role: str | None) -> str:
        spec = self.proc.roles.get(role or "")
        return localized(spec.title, self.lang, "a role") if spec else "the system"

    def step(self, trigger: str, branch: Any = None) -> str:
        """The title of the step (the branch taken, when the event says which)."""
        if trigger == "start":
            return localized(self.proc.start.title, self.lang)
        branches = self.proc.transitions.get(trigger, [])
        if not branches:
            return "a step"
        chosen = branches[branch] if isinstance(branch, int) and branch < len(branches) else None
        for candidate in (chosen, *branches):
            if candidate is not None and candidate.title:
                return localized(candidate.title, self.lang, "a step")
        return "a step"

    def roles(self, roles: Any) -> str:
        """Role titles joined: ``客服主管 or 客服經理``."""
        names = [self.role(r) for r in roles or [] if isinstance(r, str)]
        return " or ".join(names) or "another role"

    def limit(self, name: str | None) -> str:
        spec = self.proc.time_limits.get(name or "")
        return localized(spec.title, self.lang, "a time limit") if spec else "a time limit"

    def field(self, name: str) -> str:
        spec = self.proc.fields.get(name)
        return localized(spec.title, self.lang, name) if spec else name

    def target(self, within: str, calendar: str, limit: str | None = None) -> str:
        """A time limit's target in words: ``2 working days`` (``24 hours, round the clock``).

        With the time limit's name, an entry that runs on to the close of business says so:
        ``1m`` then reads "by the close of business", not "1 minute".
        """
        spec = self.proc.time_limits.get(limit) if limit else None
        to_close = spec is not None and any(
            t.end_of_working_day and (t.limit or "").strip() == within.strip() for t in spec.within
        )
        if _is_duration(within):
            if to_close and within.strip() == "1m":
                return "by the close of business that working day"
            words = format_duration(within, "en")
            words += ", round the clock" if calendar == "always" else ", office hours"
            return words + (", then to the close of business" if to_close else "")
        until = _UNTIL.match(within.strip())
        if until is None:
            return within
        name, sign, offset = until.groups()
        text = f"by the date in {self.field(name)}"
        if sign and _is_duration(offset):
            text += f" {'less' if sign == '-' else 'plus'} {format_duration(offset, 'en')}"
        return text

    # -- events --------------------------------------------------------------------------

    def headline(self, event: Event) -> str:
        """What happened, in one sentence (without the data it changed)."""
        kind, detail = event.kind, event.detail
        by = f"by {event.actor}, {self.role(event.role)}"
        if kind == "started":
            how = self.step("start")
            text = f"case opened{f' ({how})' if how else ''}: now {self.state(event.target)}, {by}"
        elif kind in ("fired", "auto_fired"):
            step = self.step(event.trigger, detail.get("branch"))
            if event.source == event.target:
                moved = f"stays {self.state(event.target)}"
            else:
                # Held to its neighbours: a wrapped line never starts with the arrow
                # that marks an effect.
                moved = f"{self.state(event.source)}\u00a0→\u00a0{self.state(event.target)}"
            if kind == "fired":
                text = f"step {step}: {moved}, {by}"
            else:
                text = (
                    f"automatic step {step}, because the time limit "
                    f"{self.limit(event.time_limit)} was missed: {moved}"
                )
        elif kind == "warned":
            percent = detail.get("percent", 0)
            text = f"warning: {percent:g}% of the time for {self.limit(event.time_limit)} is used"
        elif kind == "breached":
            text = f"time limit missed: {self.limit(event.time_limit)} was due now"
        elif kind == "breach_step":
            steps = detail.get("steps") or []
            actions = self.breach_actions(event.time_limit, steps)
            text = f"later step for the missed time limit {self.limit(event.time_limit)}: {actions}"
        else:  # replanned
            due = detail.get("due_at")
            when = self.time(datetime.fromisoformat(due)) if isinstance(due, str) else "unknown"
            text = (
                f"time limit {self.limit(event.time_limit)} planned again on the newly "
                f"published calendar: now due {when}"
            )
        level = detail.get("escalation_level")
        if level is not None:
            text += f"; the case is escalated to level {level}"
        return text

    def breach_actions(self, limit: str | None, indexes: list[Any]) -> str:
        spec = self.proc.time_limits.get(limit or "")
        if spec is None:
            return "as the procedure says"
        said = []
        for index in indexes:
            if not isinstance(index, int) or index >= len(spec.on_breach):
                continue
            action = spec.on_breach[index]
            if action.notify is not None:
                said.append(f"tell {self.role(action.notify)}")
            if action.fire is not None:
                said.append(f"take the step {self.step(action.fire)}")
            if action.escalate:
                said.append("escalate the case")
        return ", ".join(said) or "as the procedure says"

    def changes(self, event: Event) -> list[str]:
        """The data the event set, one ``title: value`` per field (``pii`` masked)."""
        return [
            f"{self.field(name)}: {self.display.field_value(name, value)}"
            for name, value in event.changes.items()
        ]

    # -- effects and refusals ------------------------------------------------------------

    def effect(self, effect: Effect) -> str:
        """What the host is asked to do, in words: one effect."""
        if effect.kind == "record":
            return f"file the record form {effect.recipient}"
        if effect.kind == "open":
            return f"open a linked case, {effect.recipient}"
        if effect.kind == "resume":
            return f"go on with the case that opened this one, {effect.recipient}"
        who = self.role(effect.recipient)
        warning = effect.detail.get("warning")
        if warning is not None:
            return f"warn {who}: {warning:g}% of the time for {self.limit(effect.time_limit)} used"
        why = f"the notice {effect.template}" if effect.template else "a notice"
        if effect.detail.get("breach"):
            why += f", as {self.limit(effect.time_limit)} was missed"
        return f"tell {who}: {why}"

    def refusal(self, exc: Rejected, trigger: str, actor: str) -> str:
        """A refused step: which, by whom, why in words, and the procedure's own message."""
        reason = REASONS.get(exc.reason, exc.reason)
        details = exc.details
        if exc.reason == "not_in_state":
            stages = sorted(
                {s for b in self.proc.transitions.get(trigger, []) for s in b.source},
            )
            why = (
                f"it is taken from {' or '.join(self.state(s) for s in stages)}, "
                f"and the case is {self.state(details.get('state'))}"
            )
        elif exc.reason == "forbidden" and isinstance(details.get("field"), str):
            why = f"it is assigned to the person named in {self.field(details['field'])}"
        elif exc.reason == "forbidden":
            why = f"it needs {self.roles(details.get('roles'))}"
            if details.get("escalation_level") is not None:
                why = f"the case is escalated to level {details['escalation_level']}; " + why
        elif exc.reason == "beyond_authority":
            why = f"more than {self.roles(details.get('roles'))} may decide"
            if details.get("could_decide"):
                why += f"; {self.roles(details['could_decide'])} could decide"
        else:
            why = exc.message_in(self.lang)
        return f"refused, as it should be: {self.step(trigger)} by {actor}: {reason}: {why}"
