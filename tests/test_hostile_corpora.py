"""The hardening corpora of values, patterns, tampered cases and store inputs.

Each file under ``tests/hostile/`` holds inputs that once hung servflow, crashed it with
an undocumented exception or made a stored case unreadable; each case names the exact
error (class and message, or diagnostic code, position and message) or the result it
must give now. Every case runs in a child process under a time and memory ceiling
(:func:`tests.bounded.run_bounded`), so that a regression fails one test instead of
taking the suite down.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from servflow import Actor, Case, Desk, Engine, Rejected
from servflow.engine.values import FieldValueError, normalise
from servflow.model import FieldSpec
from servflow.procedures import load_file
from servflow.store import MemoryStore, SqlStore
from tests.bounded import Bounded, run_bounded
from tests.test_store_contract import PG_URL, require_postgres

REPO = Path(__file__).resolve().parent.parent
HOSTILE = REPO / "tests" / "hostile"
ENGINE = Engine.from_directory(REPO / "procedures", HOSTILE / "values" / "every_type.yaml")
PROC = ENGINE.procedure("every_type")
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
CLERK = Actor(id="u1", roles={"clerk"})
CEILING = {"seconds": 5.0, "memory_mb": 256}


def decode(value: Any) -> Any:
    """A corpus value: JSON, or one of the encodings the files' `about` describes."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, arg),) = value.items()
    if kind == "$int":
        digit, count = arg
        return (10**count - 1) // 9 * int(digit)
    if kind == "$text":
        text, count, suffix = arg
        return text * count + suffix
    if kind == "$list":
        item, count = arg
        return [decode(item)] * count
    if kind == "$decimal":
        return Decimal(arg)
    if kind == "$float":
        return float(arg)
    if kind == "$date":
        return date.fromisoformat(arg)
    if kind == "$datetime":
        return datetime.fromisoformat(arg)
    return {k: decode(v) for k, v in value.items()}


def corpus(name: str) -> list[dict[str, Any]]:
    cases = json.loads((HOSTILE / name).read_text(encoding="utf-8"))["cases"]
    assert cases
    return cases


def label(case: dict[str, Any]) -> str:
    return re.sub(r"\s+", " ", json.dumps(case, ensure_ascii=True))[:80]


def raised(result: Bounded, error: str, message: str) -> None:
    assert result.verdict == "raised", str(result)
    assert (result.error_type, message in result.error) == (error, True), str(result)


# -- definitions: bounds checked at load, at their position -----------------------------

DEFINITIONS = sorted((HOSTILE / "definitions").glob("*.yaml"))
EXPECT = re.compile(
    r"^# expect: (?P<code>[a-z0-9-]+) (?P<line>\d+):(?P<column>\d+) (?P<fragment>.+)$"
)


def _diagnostics(path: Path) -> list[tuple[str, int, int, str]]:
    result = load_file(path)
    return [(d.code, d.line, d.column, d.message) for d in result.diagnostics]


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_each_definition_is_refused_at_its_place(path):
    header = path.read_text(encoding="utf-8").splitlines()[:3]
    expected = next(m for line in header if (m := EXPECT.match(line)))
    result = run_bounded(_diagnostics, path, **CEILING)
    assert result.verdict == "returned", str(result)
    found = [
        d
        for d in result.value
        if (d[0], d[1], d[2]) == (expected["code"], int(expected["line"]), int(expected["column"]))
    ]
    assert len(found) == 1, result.value
    assert expected["fragment"] in found[0][3]
    if "# only this diagnostic" in header:  # one mistake, reported once
        assert len(result.value) == 1, result.value


def test_the_definitions_corpus_covers_each_bound():
    stems = {p.stem.split("_")[0] for p in DEFINITIONS}
    assert {"version", "rank", "limit", "after", "pattern", "default", "minimum", "max"} <= stems
    # Each int, bool and number key of the model refuses what is not one (wrong-type).
    assert {"servflow", "final", "pii", "escalates", "escalate", "end"} <= stems


# -- values given to start ------------------------------------------------------------


def _start(field: str, value: Any) -> tuple[str, str | None, str]:
    try:
        ENGINE.start("every_type", actor=CLERK, data={field: value}, at=T0)
    except Rejected as exc:
        return exc.reason, exc.details.get("field"), exc.message
    return "accepted", field, ""


@pytest.mark.parametrize("case", corpus("values/values.json"), ids=label)
def test_each_value_is_accepted_or_refused_exactly(case):
    value = decode(case["value"])
    result = run_bounded(_start, case["field"], value, **CEILING)
    assert result.verdict == "returned", str(result)
    reason, field, message = result.value
    assert field == case["field"]
    if case["expect"] == "accepted":
        assert reason == "accepted", message
    else:
        assert reason == "invalid_data"
        assert case["expect"] in message, message
        if PROC.fields[case["field"]].pii and isinstance(value, str) and len(value) > 1:
            assert value not in message


AT_CASES = [
    ("start", "0001-01-01T00:00:00+08:00", "ValueError", "`at` must be in years 1900 to 2999 only"),
    ("start", "9999-12-31T23:00:00-05:00", "ValueError", "`at` must be in years 1900 to 2999 only"),
    ("start", "3000-01-01T00:00:00+00:00", "ValueError", "`at` must be in years 1900 to 2999 only"),
    ("fire", "9999-12-31T23:00:00-05:00", "ValueError", "`at` must be in years 1900 to 2999 only"),
    ("available", "0001-01-01T00:00:00+08:00", "ValueError", "`at` must be in years"),
    ("advance", "9999-12-31T23:00:00-05:00", "ValueError", "`at` must be in years"),
    ("advance", "0001-01-01T00:00:00+08:00", "ValueError", "`at` must be in years"),
    ("start", "2026-11-23T09:00:00", "ValueError", "naive datetime"),
    ("fire", "2026-11-23", "TypeError", "`at` must be a datetime, not str"),
]


def _call_at(call: str, at: Any) -> None:
    case = ENGINE.start("every_type", actor=CLERK, at=T0, case_id="c-1").case
    if call == "start":
        ENGINE.start("every_type", actor=CLERK, at=at)
    elif call == "fire":
        ENGINE.fire(case, "edit", actor=CLERK, at=at)
    elif call == "available":
        ENGINE.available(case, CLERK, at=at)
    else:
        ENGINE.advance(case, at=at)


@pytest.mark.parametrize(("call", "at", "error", "message"), AT_CASES)
def test_event_times_out_of_range_are_refused(call, at, error, message):
    value = at if call == "fire" and error == "TypeError" else datetime.fromisoformat(at)
    raised(run_bounded(_call_at, call, value, **CEILING), error, message)


def _misuse(call: str, **changes: Any) -> None:
    case = ENGINE.start("every_type", actor=CLERK, at=T0, case_id="c-1").case
    kwargs: dict[str, Any] = {"actor": CLERK, "at": T0 + timedelta(minutes=1)}
    if call == "start":
        ENGINE.start(changes.pop("procedure", "every_type"), **{**kwargs, **changes})
    elif call == "fire":
        target = changes.pop("case", case)
        ENGINE.fire(target, changes.pop("trigger", "edit"), **{**kwargs, **changes})
    elif call == "advance":
        ENGINE.advance(changes["case"], at=T0)
    else:
        ENGINE.procedure(*changes["args"])


MISUSE = [
    (
        "start",
        {"data": "ab"},
        "TypeError",
        "`data` must be a mapping of field names to values, not str",
    ),
    ("start", {"data": {b"x": 1}}, "TypeError", "the keys of `data` are field names (text)"),
    ("start", {"actor": {"id": "u1"}}, "TypeError", "`actor` must be an Actor, not dict"),
    ("start", {"actor": None}, "TypeError", "`actor` must be an Actor, not NoneType"),
    ("start", {"case_id": "a\x00"}, "ValueError", "the case id holds the control character U+0000"),
    ("start", {"procedure": 12}, "TypeError", "a procedure id is text, not int"),
    ("fire", {"trigger": ["edit"]}, "TypeError", "a trigger is text, not list"),
    ("fire", {"expected_version": "1"}, "TypeError", "`expected_version` must be an int, not str"),
    (
        "fire",
        {"expected_version": True},
        "TypeError",
        "`expected_version` must be an int, not bool",
    ),
    ("fire", {"case": {"id": "c-1"}}, "TypeError", "expected a Case, not dict"),
    ("advance", {"case": None}, "TypeError", "expected a Case, not NoneType"),
    (
        "procedure",
        {"args": ("every_type", "1")},
        "TypeError",
        "a procedure version is an int, not str",
    ),
    ("procedure", {"args": ("every_type", 10**5000)}, "KeyError", "has no version of that number"),
]


@pytest.mark.parametrize(("call", "changes", "error", "message"), MISUSE)
def test_misuse_of_the_api_is_a_type_or_value_error(call, changes, error, message):
    raised(run_bounded(_misuse, call, **changes, **CEILING), error, message)


# -- patterns -------------------------------------------------------------------------


def _matches(pattern: str, text: str) -> bool:
    spec = FieldSpec(type="text", pattern=pattern)
    try:
        normalise(spec, text)
    except FieldValueError:
        return False
    return True


@pytest.mark.parametrize("case", corpus("patterns/matching.json"), ids=label)
def test_each_pattern_matches_in_full_and_in_linear_time(case):
    result = run_bounded(_matches, case["pattern"], decode(case["text"]), **CEILING)
    assert result.verdict == "returned", str(result)
    assert result.value is case["matches"]


# -- tampered cases -------------------------------------------------------------------

BASE = ENGINE.start(
    "every_type",
    actor=CLERK,
    at=T0,
    case_id="c-1",
    data={"name": "王小明", "count": 3, "amount": "12.50", "tags": ["x"]},
).case


def _tamper(case: dict[str, Any]) -> dict[str, Any]:
    doc = BASE.model_dump(mode="json")
    for path, value in case.get("set", {}).items():
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = decode(value)
    if "delete" in case:
        *parents, last = case["delete"].split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[last]
    return doc


def _calls_on(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """What each call does with the tampered case: (error type, message) or returned."""
    outcome: list[tuple[str, str]] = []
    try:
        case = Case.model_validate(doc)
    except Exception as exc:
        return [(type(exc).__name__, str(exc))]
    at = T0 + timedelta(days=2)
    calls = [
        lambda: ENGINE.fire(case, "edit", actor=CLERK, at=at),
        lambda: ENGINE.available(case, CLERK, at=at),
        lambda: ENGINE.advance(case, at=at),
    ]
    for call in calls:
        try:
            call()
        except Exception as exc:
            outcome.append((type(exc).__name__, str(exc)))
        else:
            outcome.append(("returned", ""))
    return outcome


@pytest.mark.parametrize("case", corpus("tampered/cases.json"), ids=label)
def test_each_tampered_case_is_refused_naming_the_inconsistency(case):
    result = run_bounded(_calls_on, _tamper(case), **CEILING)
    assert result.verdict == "returned", str(result)
    assert result.value, result
    for error, message in result.value:
        assert error == case["error"], result.value
        assert case["message"] in message, result.value
        assert case.get("absent", "\x00") not in message, result.value
    if case["error"] == "IntegrityError":
        assert len(result.value) == 3  # fire, available and advance alike


def test_a_tampered_pii_value_is_not_repeated():
    result = run_bounded(_calls_on, _tamper({"set": {"data.name": "王小明\x00"}}), **CEILING)
    assert result.verdict == "returned", str(result)
    assert all("王小明" not in message for _, message in result.value), result.value


# -- stores ---------------------------------------------------------------------------


def _open_store(kind: str, folder: str) -> Any:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqlStore(f"sqlite:///{folder}/cases.db")
    import uuid

    return SqlStore(PG_URL, prefix=f"sfc{uuid.uuid4().hex[:10]}_")


def _store_call(kind: str, folder: str, case: dict[str, Any]) -> Any:
    """Build a store holding c-1 (in this child process), run the call, drop the tables."""
    store = _open_store(kind, folder)
    try:
        opened = ENGINE.start("every_type", actor=CLERK, at=T0, case_id="c-1")
        store.create(opened.case, opened.events)
        out = ENGINE.fire(opened.case, "edit", actor=CLERK, at=T0 + timedelta(minutes=1))
        changed = out.case.model_copy(
            update={k: decode(v) for k, v in case.get("case", {}).items()}
        )
        events = [e.model_copy(update={"case_id": changed.id}) for e in out.events]
        call = case["call"]
        if call in ("load", "history", "release"):
            value = getattr(store, call)(decode(case["id"]))
            return "the case" if isinstance(value, Case) else value
        if call == "create":
            return store.create(changed, events)
        if call == "save":
            return store.save(changed, events, expected_version=case.get("expected_version", 1))
        at = decode(case.get("at", {"$datetime": "2026-11-23T09:00:00+08:00"}))
        lease = timedelta(days=case.get("lease_days", 0), minutes=5)
        claimed = store.claim_due(at, limit=case.get("limit", 5), lease=lease)
        return "a list" if isinstance(claimed, list) else claimed
    finally:
        if isinstance(store, SqlStore):
            store.metadata.drop_all(store.bind)
            store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
@pytest.mark.parametrize("case", corpus("store/inputs.json"), ids=label)
def test_each_store_input_gets_the_documented_answer(kind, case, tmp_path):
    if kind == "postgresql":
        require_postgres()
    result = run_bounded(_store_call, kind, str(tmp_path), case, **CEILING)
    if "error" in case:
        raised(result, case["error"], case["message"])
    else:
        assert result.verdict == "returned", str(result)
        assert result.value == case["returns"]


def _tampered_row(kind: str, folder: str) -> tuple[str, str]:
    import sqlalchemy as sa

    store = _open_store(kind, folder)
    try:
        opened = ENGINE.start("every_type", actor=CLERK, at=T0, case_id="c-1")
        store.create(opened.case, opened.events)
        doc = opened.case.model_dump(mode="json")
        doc["version"] = "many"
        with store.bind.begin() as conn:
            conn.execute(sa.update(store.cases).values(data=json.dumps(doc)))
        try:
            store.load("c-1")
        except Exception as exc:
            return type(exc).__name__, str(exc)
        return "returned", ""
    finally:
        store.metadata.drop_all(store.bind)
        store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_row_changed_behind_the_stores_back_is_an_integrity_error(kind, tmp_path):
    if kind == "postgresql":
        require_postgres()
    result = run_bounded(_tampered_row, kind, str(tmp_path), **CEILING)
    assert result.verdict == "returned", str(result)
    assert result.value == (
        "IntegrityError",
        "case 'c-1': the stored case does not validate: version: Input should be a valid integer, unable to parse string as an integer",
    )


def _desk_open(case_id: Any) -> None:
    Desk(ENGINE, MemoryStore()).open("every_type", actor=CLERK, at=T0, case_id=case_id)


@pytest.mark.parametrize(
    ("case_id", "error", "message"),
    [
        ("a\x00b", "ValueError", "the case id holds the control character U+0000"),
        ("\ud800", "ValueError", "lone surrogate"),
        ("x" * 256, "ValueError", "a case id is at most 255 characters"),
        ("", "ValueError", "a case id is not empty"),
        ("two\nlines", "ValueError", "a case id is one line of text"),
        (7, "TypeError", "a case id is text, not int"),
    ],
)
def test_the_desk_refuses_a_case_id_no_store_can_keep(case_id, error, message):
    raised(run_bounded(_desk_open, case_id, **CEILING), error, message)
