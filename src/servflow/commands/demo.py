"""``servflow demo``: sample cases through the standard procedures, with their timelines.

The cases run through a :class:`~servflow.Desk` over the embedded default store, a fresh
SQLite file in a temporary folder (its path is printed, and the file is kept so that it
can be looked at), or over ``--db URL`` (any ``SqlStore`` URL, e.g. PostgreSQL), or in
memory with ``--store memory``. The timelines printed are read back from the store's
audit log (``desk.history``), and each is replayed to the stored case. Each event is told
in the reader's terms (:mod:`servflow.commands._words`), each time with its offset from
UTC, each effect on a line of its own. Personal data (fields marked ``pii``) is masked in
everything printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from servflow import catalogue
from servflow.commands._words import Words
from servflow.desk import Desk
from servflow.engine import Actor, Case, Effect, Engine, Event
from servflow.errors import Rejected
from servflow.model import LANGUAGES
from servflow.render.common import DEFAULT_LANGUAGE, columns, localized
from servflow.store import CaseStore, MemoryStore, SqlStore
from servflow.testing._display import fit_width

__all__ = ["format_timeline", "register", "run", "run_demo"]

TZ = ZoneInfo("Asia/Shanghai")
# The timelines tell each event in the procedure's titles (`_words.Words`); personal data is
# masked by the testing kit's `Display`, the code that masks it in `servflow test` output.
WIDTH = 100


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run sample cases through the standard procedures and print their timelines",
        # Plain words, not the module docstring: argparse prints a description as is, and
        # reST markup (``:class:`~servflow.Desk` ``) reads as noise in a terminal.
        description="Run sample cases through the standard procedures and print their "
        "timelines. The cases are kept in a new SQLite file in a temporary folder (its path "
        "is printed and the file is kept, to be looked at), in the database given with "
        "--db URL (for example PostgreSQL), or in memory with --store memory. The "
        "timelines are read back from the store's audit log, and each case is replayed "
        "from it. Personal data (fields marked pii) is masked in everything printed.",
    )
    parser.add_argument(
        "--procedures",
        metavar="DIR",
        help="folder of procedure files (default: the standard catalogue)",
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help=f"language of the procedures' titles: steps, states, roles, time limits, choices "
        f"(default: {DEFAULT_LANGUAGE})",
    )
    parser.add_argument(
        "--store",
        choices=("sql", "memory"),
        default="sql",
        help="where the cases are kept (default: sql, on the embedded SQLite)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy URL of the database, e.g. sqlite:///demo.db or "
        "postgresql+psycopg://user@host/db (default: a new SQLite file in a temporary folder)",
    )


def run(args: argparse.Namespace) -> int:
    if args.store == "memory" and args.db:
        print("servflow demo: --db needs --store sql", file=sys.stderr)
        return 2
    loading = catalogue.Engine
    engine = loading.from_directory(args.procedures) if args.procedures else loading.standard()
    if args.store == "memory":
        return run_demo(engine, sys.stdout, MemoryStore(), "memory (nothing is kept)", args.lang)
    if args.db:
        url, where = args.db, None
    else:
        path = Path(tempfile.mkdtemp(prefix="servflow-demo-")) / "servflow.db"
        url, where = f"sqlite:///{path}", f"SQLite at {path}"
    from sqlalchemy.exc import SQLAlchemyError

    try:
        store = SqlStore(url)
    except (SQLAlchemyError, ImportError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"servflow demo: cannot open the database: {reason}", file=sys.stderr)
        return 1
    try:
        return run_demo(engine, sys.stdout, store, where or store.url, args.lang)
    finally:
        store.close()


def format_timeline(
    engine: Engine,
    events: Iterable[Event],
    lang: str | None = None,
    *,
    effects: Iterable[Effect] = (),
    notes: Mapping[int, Sequence[str]] | None = None,
) -> list[str]:
    """A case's audit log told in a reader's terms, numbered and wrapped to :data:`WIDTH`.

    Each event's first line gives its number, its time with the offset from UTC, and what
    happened in the procedure's titles (in ``lang``, or the catalogue's default language;
    a choice's value shows its title only when ``lang`` is given):
    the step and the states it joined, who took it in which role, the time limit warned
    of or missed and what a breach does. The data the event set follows, one ``title:
    value`` per field with ``pii`` values masked, then each of ``effects`` the event led
    to, one per line. Effects that match no event come last. ``notes`` are lines told
    between the events: those under key ``n`` come after event ``n`` (``0``: first).
    """
    words_of: dict[tuple[str, int], Words] = {}
    left = list(effects)
    notes = notes or {}
    lines: list[str] = list(notes.get(0, ()))
    for event in events:
        key = (event.procedure, event.procedure_version)
        if key not in words_of:
            proc = engine.procedure(*key)
            words_of[key] = Words(proc, lang, TZ)
        words = words_of[key]
        head = f"  {event.seq:>3}  {words.time(event.at)}  "
        lines.extend(_words(words.headline(event), head, _INDENT))
        # An item is never cut by `pack`: a change too long for a line is cut here.
        room = WIDTH - columns(_INDENT) - 1
        lines.extend(pack([fit_width(c, room) for c in words.changes(event)], _INDENT))
        mine = [e for e in left if _led_to(event, e)]
        for effect in mine:
            left.remove(effect)
            lines.extend(_words(words.effect(effect), _INDENT + "→ ", _INDENT + "  "))
        lines.extend(notes.get(event.seq, ()))
    last = list(words_of.values())[-1:]
    for effect in left:  # none in the stories: each effect comes from one of its events
        text = last[0].effect(effect) if last else f"{effect.kind} {effect.recipient}"
        lines.extend(_words(text, _INDENT + "→ ", _INDENT + "  "))
    return lines


def _led_to(event: Event, effect: Effect) -> bool:
    """Whether ``event`` asked for ``effect``: same moment and trigger; a warning's notice
    goes with the warning, a breach's with the breach."""
    if effect.at != event.at or effect.trigger != event.trigger:
        return False
    if event.kind == "warned":
        return "warning" in effect.detail
    if event.kind in ("breached", "breach_step"):
        return bool(effect.detail.get("breach"))
    return True


# "  nnn  2026-11-23 09:00 +08:00  ": the number and the time with its offset.
_INDENT = " " * 32


def pack(items: Sequence[str], indent: str, first: str = "", sep: str = ", ") -> list[str]:
    """``items`` joined by ``sep`` into lines of at most :data:`WIDTH` columns.

    The first line starts with ``first`` (``indent`` if empty), the others with ``indent``;
    an item is never cut, so one longer than a line gets a line of its own.
    """
    lines: list[str] = []
    line = first or indent
    bare = True
    for item in items:
        joined = item if bare else sep + item
        # Room is kept for the separator that ends the line if another item follows.
        if not bare and columns(line) + columns(joined) + columns(sep.rstrip()) > WIDTH:
            lines.append(line + sep.rstrip())
            line, bare = indent, True
            joined = item
        line += joined
        bare = False
    if not bare:
        lines.append(line)
    return lines


def _words(text: str, first: str, indent: str) -> list[str]:
    """A sentence wrapped at spaces to :data:`WIDTH` columns."""
    return pack(text.split(" "), indent, first, sep=" ")


class _Story:
    """A case's life, step by step, through a desk; effects collected from its hook."""

    def __init__(
        self, engine: Engine, store: CaseStore, out: TextIO, lang: str, title: str
    ) -> None:
        self.engine, self.out, self.lang = engine, out, lang
        self.effects: list[Effect] = []
        # What the story did that the audit log does not hold (a refusal, a worker's
        # wake-up), told after the event the case was at: {case id: {case version: lines}}.
        self.notes: dict[str, dict[int, list[str]]] = {}
        self.desk = Desk(engine, store, on_effects=self._collect)
        self.case: Case | None = None
        # Linked cases (a callback) whose timelines are told after the case's own.
        self.children: list[str] = []
        out.write(f"\n== {title}\n")

    def _write(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.out.write(line + "\n")

    def _collect(self, effects: Sequence[Effect]) -> None:
        self.effects.extend(effects)  # run_due may hand over other cases' effects too

    def _note(self, version: int, text: str, case_id: str | None = None) -> None:
        notes = self.notes.setdefault(case_id or self.live.id, {})
        notes.setdefault(version, []).extend(_words(text, "    * ", "      "))

    def _words(self) -> Words:
        case = self.live
        return Words(self.engine.procedure(case.procedure, case.procedure_version), self.lang, TZ)

    @property
    def live(self) -> Case:
        assert self.case is not None, "the story has not started"
        return self.case

    def start(
        self,
        procedure: str,
        actor: Actor,
        at: datetime,
        data: Mapping[str, Any],
        case_id: str | None = None,
    ) -> None:
        self.case = self.desk.open(procedure, actor=actor, data=data, at=at, case_id=case_id)

    def fire(
        self, trigger: str, actor: Actor, at: datetime, data: Mapping[str, Any] | None = None
    ) -> None:
        self.case = self.desk.fire(
            self.live.id, trigger, actor=actor, data=data, at=at, expected_version=self.live.version
        )

    def refused(
        self, trigger: str, actor: Actor, at: datetime, data: Mapping[str, Any] | None = None
    ) -> None:
        try:
            self.desk.fire(self.live.id, trigger, actor=actor, data=data, at=at)
        except Rejected as exc:
            text = self._words().refusal(exc, trigger, actor.id)
            self._note(self.live.version, f"{self._words().time(at)}: {text} [{exc.reason}]")
        else:  # pragma: no cover - the demo's own check
            raise AssertionError(f"{trigger} by {actor.id} should have been refused")
        assert self.desk.load(self.live.id) == self.live, "a rejection changes nothing stored"

    def follow(
        self, trigger: str, actor: Actor, at: datetime, data: Mapping[str, Any] | None = None
    ) -> str:
        """Take a step that opens a linked case and go on with that case; the id of the
        case left, whose timeline the story prints at its end."""
        left = self.live.id
        self.fire(trigger, actor, at, data)
        (opened,) = self.desk.history(left)[-1].detail["opens"]
        self.case = self.desk.load(opened)
        return left

    def _named(self, case: Case) -> str:
        proc = self.engine.procedure(case.procedure, case.procedure_version)
        by = f", opened by case {case.parent.case}" if case.parent is not None else ""
        return f"{case.id}: {localized(proc.title, self.lang, proc.id)}{by}"

    def finish_linked(self, case_ids: Sequence[str]) -> None:
        """Print the timeline of each case of a chain, in order: the first, then the rest
        as its linked cases (see :meth:`finish`)."""
        first, *rest = case_ids
        self.case = self.desk.load(first)
        self.out.write(f"  -- case {self._named(self.case)}\n")
        self.children = [*rest, *self.children]
        self.finish()

    def deliver(self, at: datetime) -> None:
        """What the host's outbox worker does: a closed linked case resumes the one waiting."""
        done = self.desk.deliver(lambda entry: None, at=at)
        for entry in done:
            if entry.effect.kind != "resume":
                continue
            parent = self.desk.load(entry.effect.recipient)
            text = (
                f"{self._words().time(at)}: the outbox worker delivers (desk.deliver): the "
                f"closed linked case {entry.effect.case_id} takes this case on"
            )
            self._note(parent.version, text, parent.id)

    def callback(
        self, supervisor: Actor, officer: Actor, at: datetime, data: Mapping[str, Any]
    ) -> None:
        """The callback case (回訪, §4.3) the last step opened: the supervisor designates
        the officer, the officer records the result, and the outbox brings it back. Its
        timeline is told after the case's own."""
        [child] = self.desk.history(self.live.id)[-1].detail["opens"]
        self.desk.fire(
            child, "designate", actor=supervisor, data={"callback_officer": officer.id}, at=at
        )
        later = at + timedelta(hours=1)
        self.desk.fire(child, "record_result", actor=officer, data=data, at=later)
        self.children.append(child)
        self.deliver(later + timedelta(minutes=1))
        self.case = self.desk.load(self.live.id)

    def run_due(self, at: datetime) -> None:
        """What a scheduler's worker does: claim the due cases and advance them."""
        version = self.live.version
        woken = self.desk.run_due(at)
        mine = [o for o in woken if o.case.id == self.live.id]
        self.case = mine[0].case if mine else self.desk.load(self.live.id)
        events = sum(len(o.events) for o in mine)
        text = (
            f"{self._words().time(at)}: the scheduler's worker wakes (run_due): "
            f"{len(woken)} case(s) due, {events} event(s) on this one, told below"
        )
        self._note(version, text)

    def finish(self) -> None:
        case = self.live
        events = self.desk.history(case.id)
        mine = [e for e in self.effects if e.case_id == case.id]
        notes = self.notes.get(case.id, {})
        self._write(format_timeline(self.engine, events, self.lang, effects=mine, notes=notes))
        words = self._words()
        spec = words.proc.states.get(case.state)
        ended = "closed" if spec is not None and spec.final else "open"
        text = (
            f"now: {words.state(case.state)} ({ended}), after {case.version} events; "
            f"escalation level {case.escalation_level}"
        )
        self._write(_words(text, "  ", "      "))
        for name, timer in sorted(case.timers.items()):
            verdict = (
                "missed"
                if timer.breached_at
                else ("met" if timer.status == "stopped" else timer.status)
            )
            last = f" in the last of {timer.cycle} cycles" if timer.cycle > 1 else ""
            text = (
                f"time limit {words.limit(name)}: {verdict}{last} "
                f"(target {words.target(timer.within, timer.calendar, name)})"
            )
            self._write(_words(text, "  ", "      "))
        stored = self.desk.load(case.id)
        assert stored == case, "the stored case is the live one"
        assert self.engine.replay(events) == stored, "replaying the audit log must rebuild the case"
        self.out.write(f"  replay of {len(events)} stored events equals the live case: yes\n")
        children, self.children = self.children, []
        for child in children:
            self.case = self.desk.load(child)
            self.out.write(f"  -- case {self._named(self.case)}\n")
            self.finish()


def _repair(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    clerk = Actor(id="clerk-chen", roles={"repair_reception"})
    supervisor = Actor(id="supervisor-lin", roles={"cs_supervisor"})
    officer = Actor(id="officer-zhao", roles={"callback_officer"})
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    s = _Story(
        engine, store, out, lang, "repair: a leaking pipe, called back unsatisfied, repaired again"
    )
    s.start(
        "repair",
        clerk,
        t0,
        {
            "resident_name": "王小明",
            "address": "A-1203",
            "phone": "138 0000 0000",
            "fault": "Kitchen pipe leaking",
            "appointment_at": t0 + timedelta(hours=4),
            "priority": "urgent",
        },
        case_id="R-1001",
    )
    s.refused("complete", clerk, t0 + timedelta(minutes=5))
    s.fire("dispatch", clerk, t0 + timedelta(minutes=20), {"technician": "李師傅"})
    s.fire(
        "complete",
        clerk,
        t0 + timedelta(hours=5),
        {"work_order_no": "WO-1001", "completed_at": t0 + timedelta(hours=5)},
    )
    s.callback(
        supervisor,
        officer,
        t0 + timedelta(hours=6),
        {"satisfied": False, "callback_notes": "Still dripping"},
    )
    s.fire(
        "complete",
        clerk,
        t0 + timedelta(days=1, hours=4),
        {"work_order_no": "WO-1002", "completed_at": t0 + timedelta(days=1, hours=4)},
    )
    s.callback(
        supervisor, officer, t0 + timedelta(days=2), {"satisfied": True, "callback_notes": "Fixed"}
    )
    s.finish()


def _repair_late(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    clerk = Actor(id="clerk-chen", roles={"repair_reception"})
    t0 = datetime(2026, 11, 24, 22, 10, tzinfo=TZ)
    s = _Story(engine, store, out, lang, "repair: an emergency at night, dispatched late")
    s.start(
        "repair",
        clerk,
        t0,
        {
            "resident_name": "陳大文",
            "address": "B-0502",
            "phone": "139 1111 2222",
            "fault": "Burst water main",
            "appointment_at": t0 + timedelta(minutes=30),
            "priority": "emergency",
        },
    )
    s.run_due(t0 + timedelta(minutes=40))
    s.fire("dispatch", clerk, t0 + timedelta(minutes=45), {"technician": "值班電工"})
    s.finish()


def _complaint(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    officer = Actor(id="officer-zhang", roles={"cs_staff"})
    supervisor = Actor(id="supervisor-lin", roles={"cs_supervisor"})
    caller = Actor(id="officer-zhao", roles={"callback_officer"})
    t0 = datetime(2026, 12, 2, 14, 0, tzinfo=TZ)
    s = _Story(
        engine, store, out, lang, "complaint: a compensation claim beyond the officer's authority"
    )
    s.start(
        "complaint",
        officer,
        t0,
        {
            "complainant_name": "馬先生",
            "phone": "136 5555 6666",
            "unit": "9-1801",
            "content": "Management fee overcharged for three months",
            "received_at": t0,
        },
        case_id="C-2001",
    )
    s.fire("accept", officer, t0 + timedelta(minutes=5), {"handler": "officer-zhang"})
    s.fire("classify", officer, t0 + timedelta(minutes=10), {"category": "problem_solving"})
    s.fire("refer", officer, t0 + timedelta(minutes=15), {"department": "management_office"})
    s.refused(
        "reply",
        officer,
        t0 + timedelta(hours=1),
        {"reply": "Refund and compensation", "compensation": 800},
    )
    s.fire(
        "escalate",
        officer,
        t0 + timedelta(hours=1, minutes=5),
        {"escalation_reason": "Compensation beyond the officer's authority"},
    )
    s.refused(
        "reply",
        officer,
        t0 + timedelta(hours=1, minutes=10),
        {"reply": "Refund", "compensation": 100},
    )
    s.fire(
        "reply",
        supervisor,
        t0 + timedelta(hours=2),
        {"reply": "Refund and compensation", "compensation": 800},
    )
    s.callback(
        supervisor,
        caller,
        t0 + timedelta(days=1),
        {"satisfied": True, "callback_notes": "Refund received"},
    )
    s.finish()


def _renovation(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    resident = Actor(id="owner-ho", roles={"resident"})
    staff = Actor(id="staff-wu", roles={"cs_staff"})
    technician = Actor(id="tech-li", roles={"maintenance"})
    cashier = Actor(id="cashier-qian", roles={"cashier"})
    supervisor = Actor(id="supervisor-lin", roles={"cs_supervisor"})
    t0 = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)  # a Monday
    day = timedelta(days=1)
    s = _Story(
        engine,
        store,
        out,
        lang,
        "renovation: a wall moved; patrolled every day, a Saturday missed; inspected twice",
    )
    s.start(
        "renovation",
        resident,
        t0,
        {
            "applicant_name": "何太",
            "phone": "137 2222 3333",
            "unit": "5-0602",
            "works_description": "Move the kitchen wall",
            "changes_structure": True,
            "contractor": "Good Build Ltd",
            "planned_start": "2026-11-05",
            "planned_end": "2026-11-09",
        },
    )
    s.refused("submit", staff, t0 + timedelta(minutes=10), {"fee_due": "500"})
    s.fire("explain_rules", staff, t0 + timedelta(minutes=30), {"rules_acknowledged": True})
    s.fire("submit", staff, t0 + timedelta(hours=1), {"fee_due": "500"})
    s.fire("pass_review", technician, t0 + day, {"review_notes": "Wall is not load-bearing"})
    s.fire(
        "collect_fees",
        cashier,
        t0 + day + timedelta(hours=2),
        {"fee_amount": "500", "receipt_no": "R-2026-118"},
    )
    s.fire("approve", supervisor, t0 + 2 * day, {"permit_no": "P-88"})  # Wednesday 10:00
    s.fire("patrol", staff, t0 + 3 * day - timedelta(hours=1), {"patrol_notes": "Tidy site"})
    s.fire("patrol", staff, t0 + 4 * day - timedelta(hours=2), {"patrol_notes": "Dust sheets up"})
    # "每日巡視" counts calendar days: nobody patrols on Saturday morning.
    s.run_due(t0 + 5 * day)
    s.fire("patrol", staff, t0 + 5 * day + timedelta(hours=4), {"patrol_notes": "Weekend works"})
    s.fire("patrol", staff, t0 + 6 * day + timedelta(hours=2), {"patrol_notes": "Site closed"})
    s.fire("report_completion", staff, t0 + 7 * day, {"completed_on": "2026-11-09"})
    s.fire(
        "inspect",
        technician,
        t0 + 8 * day,
        {"inspection_passed": False, "inspection_notes": "Cracks in the new plaster"},
    )
    s.fire("report_rectified", staff, t0 + 9 * day, {"rectification_notes": "Re-plastered"})
    s.fire(
        "inspect",
        technician,
        t0 + 9 * day + timedelta(hours=3),
        {"inspection_passed": True, "inspection_notes": "Accepted"},
    )
    s.finish()


def _keys(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    keeper = Actor(id="keeper-fang", roles={"key_custodian"})
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    s = _Story(
        engine, store, out, lang, "keys: a private loan refused; a loan for work comes back late"
    )
    s.start(
        "keys",
        keeper,
        t0,
        {
            "category": "public",
            "key_label": "12F fire exit door",
            "custodian": "keeper-fang",
            "deposited_at": t0,
        },
    )
    loan = {
        "borrower": "黃小姐",
        "purpose": "Clean the 12F windows",
        "lent_at": t0 + timedelta(hours=1),
    }
    s.refused("lend", keeper, t0 + timedelta(hours=1), {**loan, "for_work": False})
    s.fire("lend", keeper, t0 + timedelta(hours=1), {**loan, "for_work": True})
    s.run_due(t0 + timedelta(hours=9, minutes=1))
    s.run_due(t0 + timedelta(hours=11, minutes=1))
    s.fire(
        "return_key",
        keeper,
        t0 + timedelta(hours=11, minutes=30),
        {"returned_at": t0 + timedelta(hours=11, minutes=30)},
    )
    s.finish()


def _archives(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    officer = Actor(id="officer-zhou", roles={"requester"})
    keeper = Actor(id="archivist-he", roles={"archivist"})
    manager = Actor(id="manager-sun", roles={"office_manager"})
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)  # a Monday
    s = _Story(
        engine, store, out, lang, "archives: a file borrowed with the office manager's permission"
    )
    s.start(
        "archives",
        officer,
        t0,
        {
            "requester_name": "周小姐",
            "archive_ref": "Owner file A-05-2001",
            "access_kind": "borrow",
            "purpose": "Check the renovation drawings",
        },
    )
    s.refused("hand_over", keeper, t0 + timedelta(minutes=30))
    s.fire(
        "permit",
        manager,
        t0 + timedelta(hours=2),
        {"permission_notes": "Agreed; keep it confidential", "return_by": "2026-12-10"},
    )
    s.fire("hand_over", keeper, t0 + timedelta(hours=5))
    s.run_due(t0 + timedelta(days=3))
    s.fire(
        "give_back",
        keeper,
        t0 + timedelta(days=3, hours=6),
        {"returned_on": "2026-12-10", "return_notes": "Complete"},
    )
    s.finish()


def _enquiry(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    operator = Actor(id="operator-liu", roles={"operator"})
    supervisor = Actor(id="supervisor-lin", roles={"cs_supervisor"})
    t0 = datetime(2026, 12, 1, 15, 0, tzinfo=TZ)  # a Tuesday
    s = _Story(
        engine, store, out, lang, "enquiry: not answered in time, taken over, a deadline kept"
    )
    s.start(
        "enquiry",
        operator,
        t0,
        {
            "kind": "enquiry",
            "channel": "hotline",
            "person_name": "孫先生",
            "contact": "135 3333 4444",
            "received_at": t0,
            "content": "Can a basement parking space be rented by the year?",
        },
    )
    s.refused("answer", operator, t0 + timedelta(minutes=5), {"answer": "Yes"})
    late = datetime(2026, 12, 2, 10, 30, tzinfo=TZ)
    version = s.live.version
    s.case = s.desk.advance(s.live.id, at=late)  # the clock, as a scheduler's worker runs it
    s._note(
        version,
        f"{s._words().time(late)}: the clock is advanced (desk.advance); what was due is told "
        "below",
    )
    s.refused(
        "answer", operator, late + timedelta(minutes=5), {"answer": "Yes", "understood": True}
    )
    s.fire(
        "give_deadline",
        supervisor,
        late + timedelta(minutes=15),
        {"delay_reason": "The lease terms are with the office", "feedback_due": "2026-12-03"},
    )
    answered = datetime(2026, 12, 3, 11, 0, tzinfo=TZ)
    s.fire(
        "answer",
        supervisor,
        answered,
        {"answer": "Yes, by a yearly contract", "understood": True},
    )
    s.finish()


def _fees(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    cashier = Actor(id="cashier-qian", roles={"cashier"})
    finance = Actor(id="finance-he", roles={"finance"})
    supervisor = Actor(id="supervisor-lin", roles={"cs_supervisor"})
    t0 = datetime(2026, 11, 25, 9, 30, tzinfo=TZ)  # a Wednesday
    s = _Story(
        engine, store, out, lang, "fees: a large sum reported the same day, handed over whole"
    )
    s.start(
        "fees",
        cashier,
        t0,
        {
            "payer_name": "馬先生",
            "unit": "5-0602",
            "category": "renovation",
            "receipt_no": "ZX-20261125-001",
            "items": [
                {"item": "裝修管理費", "unit_price": "100", "quantity": "100", "amount": "10000"},
                {"item": "垃圾清運費", "unit_price": "2000", "quantity": "1", "amount": "2000"},
            ],
        },
    )
    s.fire("check", cashier, t0 + timedelta(minutes=10), {"prices_checked": True})
    s.fire(
        "report_large_sum",
        cashier,
        t0 + timedelta(minutes=30),
        {"report_notes": "已報管理處經理、財務"},
    )
    later = t0 + timedelta(hours=5)
    s.refused(
        "hand_over", cashier, later, {"handed_over_amount": "11500", "handover_ref": "JK-1125"}
    )
    s.fire(
        "hand_over",
        cashier,
        later + timedelta(minutes=5),
        {"handed_over_amount": "12000", "handover_ref": "JK-1125"},
    )
    s.fire("confirm_receipt", finance, t0 + timedelta(days=1), {"finance_notes": "已入賬"})
    s.finish()

    close = _Story(engine, store, out, lang, "fees: the calendar opens the day's close at 17:00")
    five = datetime(2026, 11, 25, 17, 0, tzinfo=TZ)
    close.desk.run_due(five)  # what a scheduler's worker does: the calendar opens the close
    close.case = close.desk.load("fees_daily_close@2026-11-25T17:00+08:00")
    close.fire(
        "reconcile",
        cashier,
        five + timedelta(minutes=10),
        {
            "receipts": [{"receipt_no": "ZX-20261125-001", "unit": "5-0602", "amount": "12000"}],
            "collected_total": "12000",
            "handed_over_total": "12000",
            "large_sums_reported": True,
        },
    )
    close.fire("review", supervisor, five + timedelta(hours=16), {"review_notes": "同意日結"})
    close.finish()


def _sales(engine: Engine, store: CaseStore, out: TextIO, lang: str) -> None:
    """Section H as linked cases: each step that hands the buyer on opens the next case."""
    clerk = Actor(id="clerk-wang", roles={"sales_cs"})
    supervisor = Actor(id="supervisor-lin", roles={"cs_supervisor"})
    manager = Actor(id="manager-gao", roles={"dept_manager"})
    lawyer = Actor(id="lawyer-xu", roles={"lawyer"})
    rep = Actor(id="rep-zhou", roles={"legal_rep"})
    t0 = datetime(2026, 11, 16, 9, 0, tzinfo=TZ)
    day = timedelta(days=1)
    s = _Story(engine, store, out, lang, "sales: subscribed, a clause changed, signed, moved in")
    buyer = {"unit": "7-2101", "buyer_name": "林小姐", "buyer_phone": "135 7777 8888"}
    data = {**buyer, "area": "89.50", "price": "1850000"}
    s.start("sales_subscription", clerk, t0, data, case_id="S-2101")
    review = {
        **dict.fromkeys(("area_checked", "price_checked", "clauses_checked"), True),
        "online_recorded": True,
        "signing_date": "2026-11-27",
        "documents_list": "ID card, down payment receipt",
    }
    s.fire("review", supervisor, t0 + timedelta(hours=2), review)
    subscription = s.follow("open_signing", supervisor, t0 + day)
    s.fire("prepare", clerk, t0 + day, {"contract_no": "HT-0458", "payment": "mortgage"})
    terms = {"special_terms": "A parking space for a year", "concession": "30000"}
    s.refused("change_terms", clerk, t0 + 2 * day, terms)
    s.fire("change_terms", manager, t0 + 2 * day, terms)
    confirmed = {"lawyer_confirmed": True, "lawyer_opinion": "Lawful"}
    s.fire("lawyer_decides", lawyer, t0 + 3 * day, confirmed)
    signed = {"fee_statement_no": "SF-0458", "signed_on": "2026-11-27"}
    s.fire("sign", clerk, t0 + 11 * day, signed)
    at = t0 + 14 * day + timedelta(hours=6)
    signing = s.follow("legal_rep_sign", rep, at, {"legal_rep_signed_at": at})
    s.deliver(at + timedelta(minutes=1))
    s.fire("submit_loan", supervisor, t0 + 15 * day, {"bank": "Seaview Bank"})
    released = {"loan_amount": "1200000", "loan_released_on": "2026-12-08"}
    s.fire("loan_released", supervisor, t0 + 22 * day, released)
    filed = {"filing_no": "BA-2101", "filed_on": "2026-12-09"}
    mortgage = s.follow("file", supervisor, t0 + 23 * day, filed)
    s.fire("plan", manager, t0 + 23 * day, {"plan_date": "2026-12-18"})
    s.fire("apply", supervisor, t0 + 24 * day, {"applied_on": "2026-12-10"})
    s.fire("issue", supervisor, t0 + 30 * day, {"certificate_no": "CQ-0001"})
    at = t0 + 31 * day
    title = s.follow("collect", clerk, at, {"collected_at": at})
    s.fire("arrange", manager, t0 + 31 * day, {"move_in_date": "2026-12-21"})
    s.fire("walk_through", clerk, t0 + 35 * day, {"issues_found": False})
    at = t0 + 35 * day + timedelta(hours=2)
    s.fire("hand_over", clerk, at, {"keys_handed_at": at, "pass_no": "PASS-2101"})
    s.finish_linked([subscription, signing, mortgage, title, s.live.id])


DEMOS: tuple[tuple[str, Callable[[Engine, CaseStore, TextIO, str], None]], ...] = (
    ("repair", _repair),
    ("repair", _repair_late),
    ("complaint", _complaint),
    ("renovation", _renovation),
    ("keys", _keys),
    ("archives", _archives),
    ("enquiry", _enquiry),
    ("fees", _fees),
    ("sales_subscription", _sales),
)


def run_demo(
    engine: Engine,
    out: TextIO,
    store: CaseStore | None = None,
    where: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> int:
    """Run every demo whose procedure the engine holds; returns the exit code.

    The cases go through a :class:`Desk` over ``store`` (a new :class:`MemoryStore` if
    none is given); ``where`` describes the store in the first line printed.
    """
    if store is None:
        store, where = MemoryStore(), where or "memory (nothing is kept)"
    held = {p.id for p in engine.procedures()}
    out.write(f"servflow demo: cases and audit logs in {where or store}\n")
    for procedure, demo in DEMOS:
        if procedure in held:
            demo(engine, store, out, lang)
    return 0
