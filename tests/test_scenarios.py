"""Scenario files: the shipped ones pass, and the runner reports what it should, where."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from servflow import Engine
from servflow.cli import main
from servflow.errors import RejectionReason
from servflow.testing import (
    ScenarioError,
    ScenarioResult,
    load_scenario,
    load_scenario_text,
    run_scenario,
)
from servflow.testing.scenarios import REJECTION_KEYS

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
PROCEDURES = REPO / "procedures"
SCENARIOS = sorted((PROCEDURES / "scenarios").glob("*.yaml"))
DOC = REPO / "docs" / "scenarios.md"

ALL_REASONS = set(get_args(RejectionReason))

REPAIR_START = """\
scenario: A repair for the runner's own tests
procedure: repair
timezone: Asia/Shanghai
actors:
  clerk: {roles: [repair_reception]}
steps:
  - start:
      as: clerk
      at: "2026-11-23 09:00"
      data: {resident_name: 王小明, address: 3棟1204室, phone: "138 0013 8000", fault: 漏水, appointment_at: "2026-11-23 14:00"}
    expect: {state: recorded}
"""


def _write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(tmp_path: Path, engine: Engine, steps: str) -> ScenarioResult:
    path = _write(tmp_path, REPAIR_START + textwrap.indent(textwrap.dedent(steps), "  "))
    return run_scenario(load_scenario(path), engine)


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


# -- the shipped scenarios ---------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_passes(path: Path, seed_engine: Engine) -> None:
    result = run_scenario(load_scenario(path), seed_engine)
    assert result.passed, result.report()
    assert result.steps_run == len(result.scenario.steps)
    # What the scenario built is what the audit log rebuilds.
    assert result.case is not None
    assert seed_engine.replay(result.events) == result.case


def _procedure_ids() -> list[str]:
    """The ids of the shipped procedure files (read without loading them)."""
    found = (
        re.search(r"^id: *(\w+)", p.read_text(encoding="utf-8"), re.M)
        for p in PROCEDURES.glob("*.yaml")
    )
    return sorted(m.group(1) for m in found if m)


@pytest.mark.parametrize("procedure", _procedure_ids())
def test_every_procedure_is_covered_by_scenarios(procedure: str, seed_engine: Engine) -> None:
    """Every trigger fired, every state reached, every limit breached, every refusal tried."""
    proc = seed_engine.procedure(procedure)
    scenarios = [s for s in map(load_scenario, SCENARIOS) if s.procedure == procedure]
    assert scenarios, f"no scenario in procedures/scenarios/ for {procedure!r}"
    results = [run_scenario(s, seed_engine) for s in scenarios]
    events = [e for r in results for e in r.events]
    fired = {e.trigger for e in events if e.kind in ("fired", "auto_fired")}
    assert set(proc.transitions) - fired == set(), "triggers never fired"
    reached = {e.target for e in events}
    assert set(proc.states) - reached == set(), "states never reached"
    breached = {e.time_limit for e in events if e.kind == "breached"}
    assert set(proc.time_limits) - breached == set(), "time limits never breached"
    warned = {e.time_limit for e in events if e.kind == "warned"}
    assert {n for n, lim in proc.time_limits.items() if lim.warn_at} - warned == set()
    tried = {
        exp.value["reason"]
        for s in scenarios
        for step in s.steps
        for exp in step.expect
        if exp.key == "rejected"
    }
    has_authority = any(b.authority for bs in proc.transitions.values() for b in bs)
    wanted = ALL_REASONS if has_authority else ALL_REASONS - {"beyond_authority"}
    assert wanted - tried == set(), "rejection reasons never tried"
    if proc.escalation:
        top = max(r.case.escalation_level for r in results if r.case is not None)
        assert top == len(proc.escalation) - 1, "the top of the escalation ladder is never reached"


# -- failures: message, line, timeline ----------------------------------------------------


def test_failure_names_the_step_its_line_expected_actual_and_the_timeline(
    tmp_path: Path, seed_engine: Engine
) -> None:
    result = _run(
        tmp_path,
        seed_engine,
        """\
          - fire: dispatch
            as: clerk
            at: "2026-11-23 09:10"
            data: {technician: 李師傅}
            expect:
              state: awaiting_callback
              fields: {technician: 張師傅}
          - fire: chase
            as: clerk
        """,
    )
    path = tmp_path / "case.yaml"
    assert not result.passed
    assert result.steps_run == 2  # the run stops at the failing step
    state, field = result.failures
    assert (state.step, state.label, state.what) == (2, "fire dispatch", "state")
    assert state.line == _line_of(path, "state: awaiting_callback")
    assert (state.expected, state.actual) == ("'awaiting_callback'", "'dispatched'")
    assert field.line == _line_of(path, "fields: {technician: 張師傅}")
    report = result.report().splitlines()
    assert report[0] == f"FAIL {path}:{_line_of(path, '- fire: dispatch')}: step 2 (fire dispatch)"
    assert report[1] == "  state: expected 'awaiting_callback', got 'dispatched'"
    assert report[2] == "  fields.technician: expected '張師傅', got '李師傅'"
    assert report[3] == "  timeline so far:"
    assert report[4].startswith(
        "    2026-11-23 09:00  started     -> recorded  by clerk (repair_reception)"
    )
    assert report[5].startswith(
        "    2026-11-23 09:10  fired       dispatch: recorded -> dispatched"
    )


def test_pass_report_counts_steps(tmp_path: Path, seed_engine: Engine) -> None:
    result = _run(tmp_path, seed_engine, "")
    assert result.passed
    assert result.report() == f"PASS {tmp_path / 'case.yaml'} (1 step)"


def test_unexpected_rejection_and_unexpected_acceptance(
    tmp_path: Path, seed_engine: Engine
) -> None:
    refused = _run(tmp_path, seed_engine, "  - fire: dispatch\n    as: clerk\n")
    (failure,) = refused.failures
    assert failure.what == "result"
    assert failure.actual == "rejected, invalid_data: 'dispatch' requires technician"
    assert refused.timeline[-1].endswith(
        "rejected    fire dispatch by clerk: invalid_data: 'dispatch' requires technician"
    )

    accepted = _run(
        tmp_path,
        seed_engine,
        """\
          - fire: dispatch
            as: clerk
            data: {technician: 李師傅}
            expect: {rejected: forbidden}
        """,
    )
    (failure,) = accepted.failures
    assert failure.message.startswith("rejected: expected forbidden, got accepted (")
    assert "fired" in failure.actual


def test_rejection_details_are_compared(tmp_path: Path, seed_engine: Engine) -> None:
    result = _run(
        tmp_path,
        seed_engine,
        """\
          - fire: dispatch
            as: clerk
            expect: {rejected: {reason: invalid_data, field: phone, message: needs a technician}}
        """,
    )
    messages = [f.message for f in result.failures]
    assert messages == [
        "rejected.field: expected 'phone', got 'technician'",
        "rejected.message: expected a message with 'needs a technician', "
        "got \"'dispatch' requires technician\"",
    ]


def test_event_and_effect_lists(tmp_path: Path, seed_engine: Engine) -> None:
    result = _run(
        tmp_path,
        seed_engine,
        """\
          - advance: "2026-11-23 09:31"
            expect:
              events: [{kind: warned, percent: 50%}]
              effects_include: [{notify: cs_manager}]
        """,
    )
    messages = [f.message for f in result.failures]
    assert messages == [
        "events: expected 1 event, got 2: 2026-11-23 09:24  warned      dispatch_in_time 80%; "
        "2026-11-23 09:30  breached    dispatch_in_time",
        "effects_include[1]: expected {notify: 'cs_manager'}, got no such one in order among: "
        "notify repair_reception; notify cs_supervisor (dispatch_overdue)",
    ]
    one_by_one = _run(
        tmp_path,
        seed_engine,
        """\
          - advance: "2026-11-23 09:31"
            expect:
              events: [{kind: warned, percent: 50%}, {kind: breached, at: "2026-11-23 09:31"}]
        """,
    )
    assert [f.message.split(" (in:")[0] for f in one_by_one.failures] == [
        "events[1].percent: expected 50%, got 80%",
        "events[2].at: expected 2026-11-23 09:31, got 2026-11-23 09:30",
    ]


def test_time_limit_expectations(tmp_path: Path, seed_engine: Engine) -> None:
    result = _run(
        tmp_path,
        seed_engine,
        """\
          - advance: "2026-11-23 09:10"
            expect:
              time_limits:
                dispatch_in_time: {status: stopped, due: "2026-11-23 09:30", warnings: [80%]}
                completion: {status: running}
        """,
    )
    assert [f.message for f in result.failures] == [
        "time_limits.dispatch_in_time.status: expected 'stopped', got 'running'",
        "time_limits.dispatch_in_time.warnings: expected [80%], got []",
        "time_limits.completion.status: expected 'running', got 'not_started'",
    ]


# -- personal data ------------------------------------------------------------------------


def test_pii_values_never_appear_in_failures_or_timelines(
    tmp_path: Path, seed_engine: Engine
) -> None:
    result = _run(
        tmp_path,
        seed_engine,
        """\
          - fire: dispatch
            as: clerk
            data: {technician: 李師傅}
            expect:
              fields: {phone: "139 9999 9999", resident_name: 李四}
              events: [{kind: fired, changes: {address: 9棟0909室}}]
        """,
    )
    report = result.report()
    for secret in ("王小明", "3棟1204室", "138 0013 8000", "139 9999 9999", "李四", "9棟0909室"):
        assert secret not in report
    assert "fields.phone: expected *** (pii, not shown), got a different value" in report
    assert "events[1].changes.address: expected ***, got unchanged" in report
    assert "resident_name=***, address=***, phone=***" in report
    assert all("王小明" not in line for line in result.timeline)


# -- file errors: position and hint -------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "needle", "message"),
    [
        (
            "procdure: repair\n",
            "procdure",
            "unknown key 'procdure' in a scenario file; did you mean 'procedure'?",
        ),
        (
            "  - fire: chase\n    ass: clerk\n",
            "ass:",
            "unknown key 'ass' in step 2; did you mean 'as'?",
        ),
        (
            '  - advance: "2026-11-23 10:00"\n    expect: {sate: recorded}\n',
            "sate",
            "did you mean 'state'?",
        ),
        (
            '  - advance: "2026-11-23 10:00"\n    expect: {events: [{knd: warned}]}\n',
            "knd",
            "unknown key 'knd' in `events[1]`; did you mean 'kind'?",
        ),
        (
            '  - advance: "2026-11-23 10:00"\n    expect: {effects: [{notfy: cs_supervisor}]}\n',
            "notfy",
            "did you mean 'notify'?",
        ),
        (
            '  - advance: "2026-11-23 10:00"\n    expect: {time_limits: {completion: {stauts: running}}}\n',
            "stauts",
            "did you mean 'status'?",
        ),
        (
            '  - advance: "2026-11-23 10:00"\n    expect: {rejected: {resaon: forbidden}}\n',
            "resaon",
            "did you mean 'reason'?",
        ),
        (
            "  - fire: chase\n    as: clerck\n",
            "clerck",
            "unknown actor 'clerck'; did you mean 'clerk'?",
        ),
        (
            '  - advance: "2026-11-23 10:00"\n    expect: {rejected: forbiden}\n',
            "forbiden",
            "did you mean 'forbidden'?",
        ),
    ],
)
def test_unknown_keys_and_names_are_errors_with_position_and_hint(
    tmp_path: Path, snippet: str, needle: str, message: str
) -> None:
    path = _write(tmp_path, REPAIR_START + snippet)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (diagnostic,) = [d for d in info.value.diagnostics if message in d.message]
    assert diagnostic.file == str(path)
    assert diagnostic.line == _line_of(path, needle)
    text = path.read_text(encoding="utf-8").splitlines()[diagnostic.line - 1]
    assert text[diagnostic.column - 1 :].startswith(needle.rstrip(":").split(":")[0])
    assert message in diagnostic.message
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error [a-z-]+ ", str(diagnostic))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "scenario: x\nprocedure: repair\nactors: {a: [r]}\nsteps:\n"
        "  - fire: f\n    as: b\n  - advance: soon\n  - start: {}\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["unknown-actor", "bad-time", "missing-key", "missing-key"]


@pytest.mark.parametrize(
    ("zone", "time", "message"),
    [
        (
            "Asia/Shanghai",
            "2026-11-23 9:00",
            "bad time '2026-11-23 9:00': write e.g. 2026-11-23 09:00",
        ),
        ("Asia/Shanghai", "2026-11-31 09:00", "no such date or time of day"),
        ("Asia/Shanghai", "2026-11-23", "bad time '2026-11-23'"),
        (None, "2026-11-23 09:00", "has no UTC offset and the scenario sets no `timezone`"),
        ("Europe/London", "2026-03-29 01:30", "does not exist in Europe/London (clock change)"),
        ("Europe/London", "2026-10-25 01:30", "happens twice in Europe/London (clock change)"),
    ],
)
def test_bad_times_are_errors(tmp_path: Path, zone: str | None, time: str, message: str) -> None:
    head = f"timezone: {zone}\n" if zone else ""
    path = _write(
        tmp_path,
        f"scenario: x\nprocedure: repair\n{head}actors: {{clerk: [repair_reception]}}\n"
        f'steps:\n  - start: {{as: clerk, at: "{time}"}}\n',
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "bad-time"
    assert diagnostic.line == len(path.read_text().splitlines())
    assert message in diagnostic.message


def test_times_with_offsets_need_no_zone() -> None:
    scenario = load_scenario_text(
        "scenario: x\nprocedure: repair\nactors: {clerk: [repair_reception]}\n"
        'steps:\n  - start: {as: clerk, at: "2026-11-23T01:00Z"}\n'
        '  - advance: "2026-11-23T09:30+08:00"\n'
    )
    start, advance = scenario.steps
    assert start.at is not None
    assert advance.at is not None
    assert (advance.at - start.at).total_seconds() == 30 * 60
    assert advance.label == "advance to 2026-11-23T09:30+08:00"


def test_names_the_procedure_lacks_are_errors_before_running(
    tmp_path: Path, seed_engine: Engine
) -> None:
    path = _write(
        tmp_path,
        REPAIR_START
        + '  - advance: "2026-11-23 10:00"\n'
        + "    expect:\n      state: dispatchd\n      fields: {technican: x}\n"
        + "      time_limits: {dispatch: not_started}\n"
        + "      effects: [{notify: cs_supervisr}]\n",
    )
    with pytest.raises(ScenarioError) as info:
        run_scenario(load_scenario(path), seed_engine)
    assert [(d.line, d.code) for d in info.value.diagnostics] == [
        (14, "unknown-state"),
        (15, "unknown-field"),
        (16, "unknown-time-limit"),
        (17, "unknown-role"),
    ]
    assert "repair has no state 'dispatchd'; did you mean 'dispatched'?" in str(info.value)


def test_rejection_keys_cover_the_engines_details() -> None:
    keys: set[str] = set()
    for path in sorted((REPO / "src" / "servflow" / "engine").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for call in re.findall(r"raise Rejected\((.*?)\n\s*\)", source, re.S):
            keys |= set(re.findall(r"^\s*(\w+)=", call, re.M))
    assert len(keys) > 8
    assert keys <= set(REJECTION_KEYS)


def test_procedure_given_as_a_path_beside_the_scenario(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(PROCEDURES / "repair.yaml", folder / "repair.yaml")
    shutil.copy(PROCEDURES / "callback.yaml", folder / "callback.yaml")  # the case it opens
    shutil.copy(PROCEDURES / "calendars.yaml", folder / "calendars.yaml")
    path = _write(
        tmp_path, REPAIR_START.replace("procedure: repair", "procedure: site/repair.yaml")
    )
    scenario = load_scenario(path)
    assert scenario.procedure_path == tmp_path / "site" / "repair.yaml"
    result = run_scenario(scenario)
    assert result.passed, result.report()


def test_unknown_procedure(tmp_path: Path) -> None:
    path = _write(tmp_path, REPAIR_START.replace("procedure: repair", "procedure: repare"))
    with pytest.raises(ScenarioError, match=r"no procedure 'repare' in .*did you mean 'repair'\?"):
        run_scenario(load_scenario(path), procedures=PROCEDURES)


# -- the command ---------------------------------------------------------------------------


def test_cli_all_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["test", "--procedures", str(PROCEDURES), str(SCENARIOS[0])])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith(f"PASS {SCENARIOS[0]} (")
    assert out[-1] == "1 passed, 0 failed"


def test_cli_default_folder_runs_every_shipped_scenario(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code = main(["test"])
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"{len(SCENARIOS)} passed, 0 failed", out
    assert code == 0


def test_cli_failure_and_file_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, REPAIR_START, "a_good.yaml")
    bad = _write(tmp_path, REPAIR_START.replace("state: recorded", "state: closed"), "b_bad.yaml")
    broken = _write(tmp_path, REPAIR_START.replace("actors:", "actor:"), "c_broken.yaml")
    _write(tmp_path, "servflow: 1\ncalendars: {}\n", "not_a_scenario.yaml")  # skipped
    code = main(["test", "--procedures", str(PROCEDURES), str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"PASS {good} (1 step)" in out
    assert f"FAIL {bad}:7: step 1 (start)\n  state: expected 'closed', got 'recorded'" in out
    assert f"ERROR {broken}: the scenario file has problems" in out
    assert (
        f"{broken}:4:1: error unknown-key unknown key 'actor' in a scenario file; did you mean 'actors'?"
        in out
    )
    assert out.splitlines()[-1] == "1 passed, 2 failed"


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["test", "--no-such-option"])
    assert info.value.code == 2
    assert main(["test", str(tmp_path)]) == 1  # a folder without scenarios
    assert "no scenario files found" in capsys.readouterr().err


def test_cli_verbose_prints_timelines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, REPAIR_START)
    assert main(["test", "-v", "--procedures", str(PROCEDURES), str(path)]) == 0
    out = capsys.readouterr().out
    assert "    2026-11-23 09:00  started     -> recorded  by clerk (repair_reception)" in out
    assert "王小明" not in out


# -- the documentation ---------------------------------------------------------------------


def _doc_blocks(language: str) -> list[str]:
    """The fenced blocks of docs/scenarios.md opened with ```<language>."""
    blocks: list[str] = []
    current: list[str] | None = None
    opened = ""
    for line in DOC.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```") and current is None:
            current, opened = [], line[3:].strip()
        elif line.startswith("```") and current is not None:
            if opened == language:
                blocks.append("".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_the_documented_example_runs(tmp_path: Path, seed_engine: Engine) -> None:
    (example,) = [b for b in _doc_blocks("yaml") if b.startswith("scenario:")]
    result = run_scenario(load_scenario(_write(tmp_path, example)), seed_engine)
    assert result.passed, result.report()


def test_the_documented_failure_is_what_the_runner_prints(
    tmp_path: Path, seed_engine: Engine
) -> None:
    (example,) = [b for b in _doc_blocks("yaml") if b.startswith("scenario:")]
    (shown,) = [b for b in _doc_blocks("") if b.startswith("FAIL ")]
    changed = example.replace("      state: dispatched\n", "      state: awaiting_callback\n")
    assert changed != example
    folder = tmp_path / "procedures" / "scenarios"
    folder.mkdir(parents=True)
    path = _write(folder, changed, "repair_emergency_late.yaml")
    result = run_scenario(load_scenario(path), seed_engine)
    printed = result.report().replace(str(tmp_path) + "/", "")
    assert printed == shown.rstrip("\n")


def test_the_documented_keys_are_the_real_ones() -> None:
    text = DOC.read_text(encoding="utf-8")
    from servflow.testing import scenarios

    for name in (
        *scenarios.TOP_KEYS,
        *scenarios.EXPECT_KEYS,
        *scenarios.EVENT_KEYS,
        *scenarios.EFFECT_KEYS,
    ):
        assert f"`{name}`" in text, name
    for name in (*scenarios.TIME_LIMIT_KEYS, *REJECTION_KEYS):
        assert f"`{name}`" in text, name


# -- the pytest plugin ---------------------------------------------------------------------


def test_the_plugin_collects_scenario_files(pytester: pytest.Pytester) -> None:
    text = REPAIR_START
    pytester.makefile(
        ".scenario.yaml", good=text, bad=text.replace("state: recorded", "state: closed")
    )
    pytester.makefile(".yaml", ignored="not: a scenario\n")
    pytester.makeini(f"[pytest]\nservflow_procedures = {PROCEDURES}\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*FAIL *bad.scenario.yaml:7: step 1 (start)", "*state: expected 'closed', got 'recorded'"]
    )


def test_the_other_ways_to_write_a_step(tmp_path: Path, seed_engine: Engine) -> None:
    text = textwrap.dedent(
        """\
        scenario: start with its keys beside it, fire as a mapping, actors as role lists
        procedure: repair
        timezone: Asia/Shanghai
        actors: {clerk: repair_reception}
        steps:
          - start:
            as: clerk
            at: "2026-11-23 09:00"
            data: {resident_name: 王, address: 1棟, phone: "12345678", fault: 漏水, appointment_at: "2026-11-23 14:00"}
          - fire: {trigger: dispatch, as: clerk, at: "2026-11-23 09:10", data: {technician: 李師傅}}
            expect: {state: dispatched}
        """
    )
    result = run_scenario(load_scenario(_write(tmp_path, text)), seed_engine)
    assert result.passed, result.report()
    twice = text.replace("    expect: {state: dispatched}", "    as: clerk")
    with pytest.raises(ScenarioError, match="`as` is given twice"):
        load_scenario(_write(tmp_path, twice))


def test_steps_out_of_order_and_engine_errors_are_failures(
    tmp_path: Path, seed_engine: Engine
) -> None:
    again = _run(tmp_path, seed_engine, '- start: {as: clerk, at: "2026-11-23 09:05"}\n')
    assert again.failures[0].message.startswith("start: expected no case yet, got case repair-")
    no_case = run_scenario(
        load_scenario_text(
            "scenario: x\nprocedure: repair\ntimezone: Asia/Shanghai\n"
            "actors: {clerk: [repair_reception]}\nsteps:\n"
            '  - start: {as: clerk, at: "2026-11-23 09:00"}\n'
            "    expect: {rejected: invalid_data}\n"
            "  - fire: chase\n    as: clerk\n"
        ),
        seed_engine,
    )
    assert [f.message for f in no_case.failures] == [
        "fire: expected an open case, got no case (no `start` step was accepted before this one)"
    ]
    past_the_calendar = _run(
        tmp_path,
        seed_engine,
        """\
          - fire: dispatch
            as: clerk
            at: "2026-11-23 09:10"
            data: {technician: 李師傅}
          - fire: complete
            as: clerk
            at: "2030-01-07 09:00"
            data: {work_order_no: WO-1, completed_at: "2030-01-07 08:00"}
        """,
    )
    (failure,) = past_the_calendar.failures
    assert failure.what == "result"
    assert failure.actual.startswith("CalendarError: calendar 'office': ")
