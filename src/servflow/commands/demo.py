"""``servflow demo``: sample cases through the standard procedures, with their timelines.

The cases run through a :class:`~servflow.Desk` over the embedded default store, a fresh
SQLite file in a temporary folder (its path is printed, and the file is kept so that it
can be looked at), or over ``--db URL`` (any ``SqlStore`` URL, e.g. PostgreSQL), or in
memory with ``--store memory``. The timelines printed are read back from the store's
audit log (``desk.history``), and each is replayed to the stored case. Personal data
(fields marked ``pii``) is masked in everything printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from servflow import catalogue
from servflow.desk import Desk
from servflow.engine import Actor, Case, Effect, Engine, Event
from servflow.errors import Rejected
from servflow.model import LANGUAGES
from servflow.render.common import DEFAULT_LANGUAGE
from servflow.store import CaseStore, MemoryStore, SqlStore
from servflow.testing._display import Display

__all__ = ["format_timeline", "register", "run", "run_demo"]

TZ = ZoneInfo("Asia/Shanghai")
# The timelines are the testing kit's (the lines a failing `servflow test` prints), so one
# piece of code masks personal data in both; the demo only wraps them to fit WIDTH columns.
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
        help=f"language of the titles shown beside choice values (default: {DEFAULT_LANGUAGE})",
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


def format_timeline(engine: Engine, events: Iterable[Event], lang: str | None = None) -> list[str]:
    """The testing kit's timeline, numbered and wrapped to fit :data:`WIDTH` columns.

    An event's line is the kit's; what does not fit (who acted, the escalation level) goes
    on the next line, and the data the event changed follows below it. Values of ``pii``
    fields are masked by the kit's :class:`Display`; with ``lang``, a choice is shown
    with its title in that language where its field gives titles.
    """
    lines = []
    for event in events:
        proc = engine.procedure(event.procedure, event.procedure_version)
        display = Display(TZ, proc.fields, lang)
        line = f"  {event.seq:>3}  {display.event_line(event, changes=False)}"
        # The kit writes the time and the kind in fixed columns, then the parts of the
        # event separated by two spaces: those are the places to break.
        head, rest = line[: len(_INDENT)], line[len(_INDENT) :]
        lines.extend(pack(rest.split("  "), _INDENT, head, sep="  "))
        changes = [f"{n}={display.field_value(n, v)}" for n, v in event.changes.items()]
        lines.extend(pack(changes, _INDENT))
    return lines


# "  nnn  2026-11-23 09:00  started     ": the number, the time and the kind.
_INDENT = " " * 37


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


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
        self.desk = Desk(engine, store, on_effects=self._collect)
        self.case: Case | None = None
        out.write(f"\n== {title}\n")

    def _write(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.out.write(line + "\n")

    def _collect(self, effects: Sequence[Effect]) -> None:
        self.effects.extend(effects)  # run_due may hand over other cases' effects too

    @property
    def live(self) -> Case:
        assert self.case is not None, "the story has not started"
        return self.case

    def start(self, procedure: str, actor: Actor, at: datetime, data: Mapping[str, Any]) -> None:
        self.case = self.desk.open(procedure, actor=actor, data=data, at=at)

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
            text = f"refused as it should be: {trigger} by {actor.id}: {exc}"
            self._write(_words(text, "  ", "      "))
        else:  # pragma: no cover - the demo's own check
            raise AssertionError(f"{trigger} by {actor.id} should have been refused")
        assert self.desk.load(self.live.id) == self.live, "a rejection changes nothing stored"

    def callback(
        self, supervisor: Actor, officer: Actor, at: datetime, data: Mapping[str, Any]
    ) -> None:
        """The callback case (回訪, §4.3) the last step opened: the supervisor designates
        the officer, the officer records the result, and the outbox brings it back."""
        [child] = self.desk.history(self.live.id)[-1].detail["opens"]
        what = self.live.procedure
        self._write(_words(f"callback case {child} opened; the {what} waits for it:", "  ", "  "))
        designate = {"callback_officer": officer.id}
        self.desk.fire(child, "designate", actor=supervisor, data=designate, at=at)
        later = at + timedelta(hours=1)
        self.desk.fire(child, "record_result", actor=officer, data=data, at=later)
        events = self.desk.history(child)
        self._write(format_timeline(self.engine, events, self.lang))
        assert self.engine.replay(events) == self.desk.load(child), "the child replays too"
        self.desk.deliver(lambda entry: None, at=later + timedelta(minutes=1))
        self.case = self.desk.load(self.live.id)
        text = (
            f"the outbox took the callback's result back to the {what}: callback_done, "
            f"which moved it to {self.case.state}"
        )
        self._write(_words(text, "  ", "    "))

    def run_due(self, at: datetime) -> None:
        """What a scheduler's worker does: claim the due cases and advance them."""
        woken = self.desk.run_due(at)
        mine = [o for o in woken if o.case.id == self.live.id]
        self.case = mine[0].case if mine else self.desk.load(self.live.id)
        self.out.write(
            f"  run_due at {at.astimezone(TZ):%Y-%m-%d %H:%M}: advanced {len(woken)} due case(s), "
            f"{sum(len(o.events) for o in mine)} event(s) on this one\n"
        )

    def finish(self) -> None:
        case = self.live
        events = self.desk.history(case.id)
        self._write(format_timeline(self.engine, events, self.lang))
        self.out.write(
            f"  state: {case.state}, version {case.version}, escalation level {case.escalation_level}\n"
        )
        for name, timer in sorted(case.timers.items()):
            verdict = (
                "breached"
                if timer.breached_at
                else ("met" if timer.status == "stopped" else timer.status)
            )
            self.out.write(
                f"  time limit {name}: {verdict} (cycle {timer.cycle}, target {timer.within})\n"
            )
        proc = self.engine.procedure(case.procedure, case.procedure_version)
        display = Display(TZ, proc.fields, self.lang)
        mine = [display.effect_text(e) for e in self.effects if e.case_id == case.id]
        if mine:
            self._write(pack(mine, "    ", "  effects for the host: ", sep="; "))
        stored = self.desk.load(case.id)
        assert stored == case, "the stored case is the live one"
        assert self.engine.replay(events) == stored, "replaying the audit log must rebuild the case"
        self.out.write(f"  replay of {len(events)} stored events equals the live case: yes\n")


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
    t0 = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
    s = _Story(
        engine, store, out, lang, "renovation: a structural change, reviewed, inspected twice"
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
            "planned_start": "2026-11-09",
            "planned_end": "2026-11-20",
        },
    )
    s.fire("explain_rules", staff, t0 + timedelta(minutes=30), {"rules_acknowledged": True})
    s.fire("submit", staff, t0 + timedelta(hours=1), {"fee_due": "500"})
    s.fire(
        "pass_review",
        technician,
        t0 + timedelta(days=1),
        {"review_notes": "Wall is not load-bearing"},
    )
    s.fire(
        "collect_fees",
        cashier,
        t0 + timedelta(days=1, hours=2),
        {"fee_amount": "500", "receipt_no": "R-2026-118"},
    )
    s.fire("approve", supervisor, t0 + timedelta(days=2), {"permit_no": "P-88"})
    s.fire("report_completion", staff, t0 + timedelta(days=16), {"completed_on": "2026-11-18"})
    s.fire(
        "inspect",
        technician,
        t0 + timedelta(days=17),
        {"inspection_passed": False, "inspection_notes": "Cracks in the new plaster"},
    )
    s.fire(
        "report_rectified", staff, t0 + timedelta(days=18), {"rectification_notes": "Re-plastered"}
    )
    s.fire(
        "inspect",
        technician,
        t0 + timedelta(days=18, hours=3),
        {"inspection_passed": True, "inspection_notes": "Accepted"},
    )
    s.finish()


DEMOS: tuple[tuple[str, Callable[[Engine, CaseStore, TextIO, str], None]], ...] = (
    ("repair", _repair),
    ("repair", _repair_late),
    ("complaint", _complaint),
    ("renovation", _renovation),
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
