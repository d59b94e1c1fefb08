"""`servflow explore`: the planted mistakes are found, the shipped catalogue explores clean.

Each file of tests/planted/ is a shipped procedure with one mistake an analyst makes; its
second line says the finding expected (`# expect: KIND SUBJECT`). Exploration must report
it, and the scenario it writes must fail in `servflow test` (run from another folder).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Engine
from servflow.cli import main
from servflow.testing import engine_for, load_scenario, run_scenario
from servflow.testing.explore import FINDING_KINDS, explore, scenario_text

pytest_plugins = ["pytester"]

PLANTED = Path(__file__).parent / "planted"
CATALOGUE = Path(__file__).parent.parent / "procedures"
FILES = sorted(p for p in PLANTED.glob("*.yaml") if p.name != "calendars.yaml")


def _expected(path: Path) -> tuple[str, str]:
    line = path.read_text(encoding="utf-8").splitlines()[1]
    kind, _, subject = line.removeprefix("# expect: ").partition(" ")
    return kind, subject


def test_the_corpus_has_at_least_twelve_mistakes_covering_every_kind():
    kinds = [_expected(p)[0] for p in FILES]
    assert len(FILES) >= 12
    assert set(kinds) == set(FINDING_KINDS)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_planted_mistake_is_found_with_a_scenario_that_fails(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, subject = _expected(path)
    engine = Engine.from_directory(path)
    proc = next(p for p in engine.procedures())
    result = explore(engine, proc.id, lives=30, steps=6000, file=path)
    found = [f for f in result.findings if f.kind == kind and f.subject == subject]
    assert found, [(f.kind, f.subject) for f in result.findings]
    finding = found[0]
    folder = tmp_path / "found"
    folder.mkdir()
    scenario_file = folder / "finding.yaml"
    scenario_file.write_text(scenario_text(finding, path, folder), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(os.path.relpath(scenario_file, elsewhere))
    outcome = run_scenario(scenario, engine_for(scenario))
    assert not outcome.passed
    # It fails on its last step (the life before it went as explored), for the reason
    # the finding gives.
    failure = outcome.failures[0]
    assert failure.step == len(scenario.steps)
    if kind == "property":
        assert failure.what == f"property {subject!r}"
        assert failure.actual in finding.message
    elif kind.startswith("limit-") or kind == "dead-target":
        limit = subject.split(".")[0]
        assert failure.what.startswith(f"time_limits.{limit}.")
    elif failure.what == "result":  # a refusal: the one the finding quotes
        assert failure.actual.startswith("rejected, ")
        assert failure.actual.removeprefix("rejected, ") in finding.message
    else:  # the trigger went another way
        assert failure.what == "state"
    # Every other finding of the file comes with a scenario that fails on its last step too.
    for i, other in enumerate(result.findings):
        written = folder / f"other_{i}.yaml"
        written.write_text(scenario_text(other, path, folder), encoding="utf-8")
        replayed = run_scenario(load_scenario(written), engine_for(load_scenario(written)))
        assert not replayed.passed, (other.kind, other.subject)
        assert replayed.failures[0].step == replayed.steps_run == len(replayed.scenario.steps)


def test_the_shipped_catalogue_explores_clean_and_completely(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["explore", "--format", "json", str(CATALOGUE)])  # the default budget
    report = json.loads(capsys.readouterr().out)
    assert {r["procedure"] for r in report} == {
        "repair",
        "callback",
        "complaint",
        "renovation",
        "keys",
        "archives",
        "archive_inspection",
        "enquiry",
        "fees",
        "fees_daily_close",
        "fees_monthly_statement",
        "sales_subscription",
        "sales_signing",
        "sales_mortgage",
        "sales_title",
        "sales_handover",
        "sales_change",
    }
    assert [r["findings"] for r in report] == [[]] * len(report)
    # Every reachable case was searched: "clean" is not an artefact of the budget.
    assert all(r["complete"] for r in report)
    for r in report:
        cov = r["coverage"]
        assert all(cov["states"].values())
        assert all(cov["branches"].values())
        assert all(all(o.values()) for o in cov["time_limits"].values())
    assert code == 0


def test_earlier_versions_are_explored_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("repair.v2.yaml", "repair.v1.yaml", "calendars.yaml"):
        shutil.copy(CATALOGUE / name, tmp_path / name)
    shutil.copytree(CATALOGUE / "templates", tmp_path / "templates")
    args = ["explore", "--format", "json", "--lives", "5", str(tmp_path)]
    assert main(args) == 0
    assert [r["procedure"] for r in json.loads(capsys.readouterr().out)] == ["repair"]
    assert main([*args, "--all-versions"]) == 0
    assert [r["procedure"] for r in json.loads(capsys.readouterr().out)] == ["repair", "repair"]
    assert main(["explore", "--lives", "5", str(tmp_path)]) == 0
    assert "version 1 skipped (version 2 is in the catalogue" in capsys.readouterr().out


def test_findings_exit_1_and_write_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = PLANTED / "repair_invariant_blocks_close.yaml"
    out = tmp_path / "found"
    code = main(
        ["explore", "--steps", "4000", "--lives", "10", "--write-scenarios", str(out), str(planted)]
    )
    text = capsys.readouterr().out
    assert code == 1
    assert "dead-state closed" in text
    assert "closed repairs have no open work order" in text
    written = sorted(out.glob("*.yaml"))
    assert written
    assert all(load_scenario(w).procedure_path is not None for w in written)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "no/such/folder"]) == 2
    assert main(["explore", "--steps", "0", str(CATALOGUE)]) == 2


# -- the pytest plugin ---------------------------------------------------------------------


def test_pytest_explores_each_procedure_file_as_a_test_item(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    folder = pytester.mkdir("procedures")
    for name in ("calendars.yaml", "repair_invariant_blocks_close.yaml"):
        (folder / name).write_text((PLANTED / name).read_text(encoding="utf-8"), encoding="utf-8")
    for name in ("repair.yaml", "callback.yaml"):  # the repair opens callback cases
        (folder / name).write_text((CATALOGUE / name).read_text(encoding="utf-8"), encoding="utf-8")
    pytester.makeini("[pytest]\nservflow_explore_steps = 3000\nservflow_explore_lives = 10\n")
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--servflow-explore", "procedures"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*servflow explore found * problem(s) in repair_invariant_blocks_close.yaml (seed 0;*",
            "*dead-state closed: no life reached `closed`*",
        ]
    )
    # Without the option, procedure files are not test items.
    plain = pytester.runpytest_inprocess("-p", "no:cacheprovider", "procedures")
    plain.assert_outcomes()


@pytest.mark.parametrize(
    ("lang", "heading", "pattern", "statement"),
    [
        ("en", "### What always holds (checked, not enforced)", "response", "in the same step"),
        ("zh-Hant", "### 始終如此（經檢驗，不強制）", "回應", "同一步內"),
        ("zh-Hans", "### 始终如此（经检验，不强制）", "回应", "同一步内"),
    ],
)
def test_the_sop_lists_the_properties_as_what_always_holds(lang, heading, pattern, statement):
    from servflow.render.sop import render_sop

    proc = Engine.from_directory(PLANTED / "repair_property_response.yaml").procedure("repair")
    text = render_sop(proc, lang)
    assert heading in text
    row = next(line for line in text.splitlines() if "maintenance hears of every callback" in line)
    assert f"| {pattern} |" in row
    assert f"`callback → notify:maintenance ({statement})`" in row
    plain = Engine.standard().procedure("repair", 2)  # version 2 states no properties
    assert heading not in render_sop(plain, lang)


def test_a_search_cut_by_the_budget_infers_nothing_from_what_it_did_not_see():
    path = PLANTED / "repair_limit_starts_after_close.yaml"
    engine = Engine.from_directory(path)
    cut = explore(engine, "repair", lives=0, steps=40, file=path)
    assert not cut.complete
    assert cut.engine_steps <= 40
    assert cut.findings == []  # a broken property would be reported: there is none here
    full = explore(engine, "repair", lives=0, steps=6000, file=path)
    assert full.complete
    assert [f.kind for f in full.findings] == ["limit-never-started"]


def test_the_same_seed_explores_the_same_lives():
    path = PLANTED / "repair_property_precedence.yaml"
    engine = Engine.from_directory(path)

    def run(seed: int) -> dict:
        result = explore(engine, "repair", lives=30, steps=3000, seed=seed).as_dict()
        result.pop("seconds")
        return result

    assert run(7) == run(7)
    assert run(7)["lives"] == 30


def test_files_given_one_by_one_are_explored_each_on_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two variants of one procedure (same id and version): each is its own catalogue.
    files = [PLANTED / "repair_property_rework.yaml", PLANTED / "repair_property_response.yaml"]
    code = main(
        ["explore", "--steps", "3000", "--lives", "5", "--format", "json", *map(str, files)]
    )
    report = json.loads(capsys.readouterr().out)
    assert [Path(r["file"]).name for r in report] == [f.name for f in files]
    assert [r["findings"][0]["kind"] for r in report] == ["property", "property"]
    assert code == 1


def test_the_json_report_gives_each_life_with_personal_data_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    planted = PLANTED / "repair_invariant_blocks_close.yaml"
    main(["explore", "--steps", "3000", "--lives", "5", "--format", "json", str(planted)])
    [report] = json.loads(capsys.readouterr().out)
    [finding] = report["findings"]
    life = finding["life"]
    assert [s["step"] for s in life] == ["start", "fire", "fire", "fire", "fire"]
    assert life[0]["data"]["phone"] == "***"  # pii: true
    assert life[0]["data"]["fault"] == "x"
    assert life[-1] == {**life[-1], "trigger": "callback", "expect": {"state": "closed"}}
    assert finding["steps"] == len(life)


@settings(max_examples=2, deadline=None, database=None)
@given(seed=st.integers(0, 3))
def test_explore_runs_inside_a_hypothesis_test(seed: int) -> None:
    path = PLANTED / "repair_property_precedence.yaml"
    result = explore(Engine.from_directory(path), "repair", lives=5, steps=2000, seed=seed)
    assert result.lives == 5
    assert [f.kind for f in result.findings] == ["property"]


VISIT = """\
servflow: 1
id: visit
version: 1
title: {en: Home visit}
roles:
  clerk: {title: {en: Clerk}, rank: 1}
  officer: {title: {en: Visiting officer}, rank: 1}
fields:
  officer_id: {type: string, title: {en: Visiting officer (staff id)}}
  notes: {type: text, title: {en: Visit notes}}
states:
  open: {title: {en: Open}}
  assigned: {title: {en: Assigned}}
  visited: {title: {en: Visited}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [clerk]}
transitions:
  assign: {from: open, to: assigned, roles: [clerk], requires: [officer_id]}
  visit: {from: assigned, to: visited, roles: [officer], assignee: officer_id, requires: [notes]}
  finish: {from: visited, to: done, roles: [officer], assignee: officer_id}
"""


@pytest.mark.parametrize("planted", [False, True], ids=["clean", "blocked-finish"])
def test_steps_with_an_assignee_are_explored_as_the_designated_person(
    planted: bool, tmp_path: Path
) -> None:
    # The designated person takes the assigned steps, in the search and in the scenario it
    # writes; a mistake after them is found, and its scenario fails only on its last step.
    text = VISIT + ("invariants:\n  - {name: never done, check: \"state != 'done'\"}\n" * planted)
    path = tmp_path / "visit.yaml"
    path.write_text(text, encoding="utf-8")
    engine = Engine.from_directory(path)
    result = explore(engine, "visit", lives=10, steps=2000, file=path)
    assert result.complete
    if not planted:
        assert result.findings == []
        assert all(result.as_dict()["coverage"]["branches"].values())
        return
    found = [f for f in result.findings if (f.kind, f.subject) == ("dead-state", "done")]
    assert found, [(f.kind, f.subject) for f in result.findings]
    written = tmp_path / "finding.yaml"
    written.write_text(scenario_text(found[0], path, tmp_path), encoding="utf-8")
    replayed = run_scenario(load_scenario(written), engine_for(load_scenario(written)))
    assert not replayed.passed
    assert replayed.failures[0].step == replayed.steps_run == len(replayed.scenario.steps)
    assert "never done" in replayed.failures[0].actual


_PERSONAL = """\
servflow: 1
id: loan
version: 1
title: {en: Key loan}
roles:
  keeper: {rank: 1}
  boss: {rank: 2}
fields:
  keeper_id: {type: string}
  asked_by: {type: string}
  approved_by: {type: string}
states:
  in_safe: {waits: {en: a loan}}
  asked: {waits: {en: the approval}}
  lent: {waits: {en: the return}}
  gone: {final: true}
start: {to: in_safe, roles: [keeper], requires: [keeper_id]}
transitions:
  ask:
    from: in_safe
    to: asked
    roles: [keeper, boss]
    requires: [asked_by]
    when: "asked_by == actor.id"
    message: {en: sign your own request}
  approve:
    from: asked
    to: lent
    roles: [boss]
    requires: [approved_by]
    when: "approved_by == actor.id and actor.id != asked_by"
    message: {en: "approve in person, never your own request"}
  give_back: {from: lent, to: gone, roles: [keeper], assignee: keeper_id}
"""


def test_steps_that_name_the_person_who_acts_are_explored(tmp_path: Path) -> None:
    # `assignee` fields and fields compared with `actor.id` take explore's actor names
    # (its actors are named after their roles): every step here can be taken, and the
    # four-eyes rule (approve, never your own request) is still kept.
    path = tmp_path / "loan.yaml"
    path.write_text(_PERSONAL, encoding="utf-8")
    engine = Engine.from_directory(path)
    result = explore(engine, "loan", file=path)
    assert result.findings == []
    assert result.complete
    assert all(result.coverage.states.values())
    assert all(result.coverage.branches.values())


_TILL = """
servflow: 1
id: till
version: 1
title: {en: Till}
roles:
  cashier: {title: {en: Cashier}}
fields:
  items:
    type: table
    title: {en: Items}
    columns:
      item: {type: string, title: {en: Item}}
      amount: {type: decimal, minimum: 0, title: {en: Amount}}
  threshold: {type: decimal, default: "500", title: {en: Large from}}
  paid_in: {type: decimal, minimum: 0, title: {en: Paid in}}
states:
  open: {title: {en: Open}}
  large: {title: {en: Large}}
  short: {title: {en: Short}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [cashier], requires: [items], when: "items|length > 0"}
transitions:
  count:
    - {from: open, to: large, roles: [cashier],
       when: "items|sum(attribute='amount') >= threshold"}
    - {from: open, to: short, roles: [cashier], requires: [paid_in],
       when: "items|sum(attribute='amount') < threshold and paid_in != items|sum(attribute='amount')"}
    - {from: open, to: done, roles: [cashier], requires: [paid_in],
       when: "items|sum(attribute='amount') < threshold and paid_in == items|sum(attribute='amount')"}
  settle: {from: [large, short], to: done, roles: [cashier]}
"""


def test_tables_and_numbers_compared_with_other_numbers_are_explored(tmp_path: Path) -> None:
    # A table is tried with one row whose numeric cells take the procedure's own figures
    # (0, its constants, its numeric defaults: here the threshold 500), and a number that
    # is compared only with other numbers takes them too, so every branch is reached.
    path = tmp_path / "till.yaml"
    path.write_text(_TILL, encoding="utf-8")
    engine = Engine.from_directory(path)
    result = explore(engine, "till", file=path)
    assert result.findings == []
    assert result.complete
    assert all(result.coverage.states.values()), result.coverage.states
    assert all(result.coverage.branches.values()), result.coverage.branches
