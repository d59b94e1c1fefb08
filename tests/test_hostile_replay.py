"""Tampered audit logs (tests/hostile/replay_logs.yaml): replay refuses each at its event.

Every case takes a log the engine wrote (tests/replay_logs.py), tampers with its JSON form
and asserts that ``Engine.replay`` raises ``ReplayError`` naming the exact ``seq`` and
``problem``, and that ``Engine.verify`` reports the same problem first. Each runs under a
time and memory ceiling (tests/bounded.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from servflow import Case, ReplayError
from tests.bounded import run_bounded
from tests.replay_logs import REPAIR, engine_for, engines, log

CORPUS = Path(__file__).resolve().parent / "hostile" / "replay_logs.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def _set(event: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    target = event
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value


def _unset(event: dict[str, Any], key: str) -> None:
    *parents, last = key.split(".")
    target = event
    for name in parents:
        target = target[name]
    del target[last]


def tampered(case: dict[str, Any]) -> list[Any]:
    """The log of ``case`` in JSON form, with its ``ops`` applied in order."""
    events: list[Any] = [e.model_dump(mode="json") for e in log(case["log"])]
    for op in case["ops"]:
        ((kind, arg),) = op.items()
        if kind == "set":
            arg = dict(arg)
            event = events[arg.pop("event")]
            for key, value in arg.items():
                _set(event, key, value)
        elif kind == "unset":
            for key in arg["keys"]:
                _unset(events[arg["event"]], key)
        elif kind == "drop":
            del events[arg]
        elif kind == "copy":
            events.insert(arg["to"], copy.deepcopy(events[arg["from"]]))
        elif kind == "move":
            events.insert(arg["to"], events.pop(arg["from"]))
        elif kind == "cut":
            del events[arg:]
        elif kind == "stray":
            events.insert(arg["to"], log(arg["log"])[arg["event"]].model_dump(mode="json"))
        elif kind == "junk":
            events.insert(arg["to"], arg["value"])
        elif kind == "renumber":
            for i, event in enumerate(events, 1):
                event["seq"] = i
        else:  # pragma: no cover - a typo in the corpus
            raise AssertionError(f"unknown op {kind!r}")
    return events


def _expected(case: dict[str, Any]) -> str:
    digest = engines()["repair"]._compiled("repair").digest
    pattern = engines()["repair"].procedure("repair").fields["phone"].pattern
    return case["problem"].replace("{digest}", digest).replace("{phone_pattern}", str(pattern))


def _replay(name: str, events: list[Any]) -> str:
    try:
        engine_for(name).replay(events)
    except ReplayError as exc:
        return f"{exc.seq}|{exc.problem}|{exc}"
    return "replayed"


def _verify_first(name: str, events: list[Any]) -> tuple[int | None, str] | None:
    first = engine_for(name).verify(events).first
    return None if first is None else (first.seq, first.problem)


def test_the_logs_replay_untouched() -> None:
    for name in ("repair", "repair_other", "repair_late", "ticket"):
        events = log(name)
        case = engine_for(name).replay(events)
        assert isinstance(case, Case)
        assert case.version == len(events)
        assert engine_for(name).replay([e.model_dump(mode="json") for e in events]) == case
        assert engine_for(name).verify(events).ok


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_a_tampered_log_is_refused_at_its_event(case: dict[str, Any]) -> None:
    events = tampered(case)
    problem = _expected(case)
    result = run_bounded(_replay, case["log"], events, seconds=5, memory_mb=256)
    assert result.verdict == "returned", str(result)
    seq, got, message = result.value.split("|", 2)
    assert (seq, got) == (str(case["seq"]), problem)
    first = events[0] if events and isinstance(events[0], dict) else {}
    where = f"case {first['case_id']!r}: " if "case_id" in first else ""
    at = f"event {case['seq']}: " if case["seq"] is not None else ""
    assert message == f"{where}{at}{problem}"
    # No value of a pii field ever appears in the message.
    for name in ("resident_name", "address", "phone"):
        assert REPAIR[name] not in message
    assert "call me" not in message
    audit = run_bounded(_verify_first, case["log"], events, seconds=5, memory_mb=256)
    assert audit.verdict == "returned", str(audit)
    assert audit.value == (case["seq"], problem)


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def _huge(kind: str) -> list[Any]:
    events: list[Any] = [e.model_dump(mode="json") for e in log("repair")]
    if kind == "deep detail":
        events[1]["detail"] = _deep(100_000)
    elif kind == "deep value":
        events[1]["changes"]["technician"] = _deep(100_000)
    elif kind == "long trigger":
        events[1]["trigger"] = "t" * 1_000_000
    elif kind == "many changes":
        events[1]["changes"] = {f"f{i}": i for i in range(100_000)}
    elif kind == "many repeats":
        events += [events[-1]] * 20_000
    elif kind == "extra key":
        events[1]["signature"] = "x"
    return events


def _report(events: list[Any]) -> list[tuple[int | None, str]]:
    return [(p.seq, p.problem) for p in engine_for("repair").verify(events).problems]


HUGE = {
    "deep detail": (2, "it differs from the 'dispatch' event the procedure writes in: detail"),
    "deep value": (2, "invalid_data: field 'technician': expected text, got dict"),
    "long trigger": (
        2,
        "unknown_trigger: repair has no trigger 'tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt...",
    ),
    "many changes": (2, "unknown field 'f0' in its changes"),
    "many repeats": (4, "seq 4 twice: an event repeated"),
    "extra key": (2, "not a valid event: signature: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("kind", sorted(HUGE))
def test_a_huge_or_odd_log_is_refused_within_bounds(kind: str) -> None:
    seq, problem = HUGE[kind]
    events = _huge(kind)  # built here: the children share it (and the engine) by fork
    result = run_bounded(
        lambda: _replay("repair", events).split("|", 2)[:2], seconds=5, memory_mb=256
    )
    assert result.verdict == "returned", str(result)
    assert result.value == [str(seq), problem]
    # The audit goes through the whole log, envelope included, within the same bounds.
    audit = run_bounded(_report, events, seconds=5, memory_mb=256)
    assert audit.verdict == "returned", str(audit)
    assert audit.value[0] == (seq, problem)
