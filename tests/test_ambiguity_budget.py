"""The ambiguity search has one budget per procedure, so many branches cannot hang it.

The search compares the guards of every pair of branches of one trigger from one state,
so its cost grows with the square of the branches. A procedure with a hundred or two
guarded branches of one trigger once took minutes to ``check`` and to load with
``Engine.from_directory``. Now the search stops at a fixed number of pairs and guard
evaluations, and says so with one ``ambiguity-search-cut`` warning at the trigger; a
small ambiguous pair before that point is still reported. Each case runs in a child
process under :func:`tests.bounded.run_bounded`, with a ceiling of a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from servflow import Engine
from servflow.procedures import load_file
from tests.bounded import run_bounded

CEILING = {"seconds": 5.0, "memory_mb": 256}

HEAD = """\
servflow: 1
id: many
version: 1
title: {en: Many branches}
calendar: always
roles:
  clerk: {title: {en: Clerk}}
fields:
  name: {type: string, title: {en: Name}}
  note: {type: text, title: {en: Note}}
  num: {type: integer, title: {en: Number}}
  amt: {type: decimal, title: {en: Amount}}
  flag: {type: boolean, title: {en: Flag}}
states:
  open: {title: {en: Open}}
  closed: {title: {en: Closed}, final: true}
start: {to: open, roles: [clerk], accepts: [name, note, num, amt, flag]}
transitions:
  review:
    - {from: open, to: closed, roles: [clerk], when: "num > 3"}
    - {from: open, to: closed, roles: [clerk], when: "num < 10"}
  close:
"""
# Line and column of the `close:` key, where the cut is reported, and of the second
# guard of `review`, where its overlap with the first is reported.
CLOSE_AT = (len(HEAD.splitlines()), 3)
REVIEW_AT = (len(HEAD.splitlines()) - 1, HEAD.splitlines()[-2].index('"num < 10"') + 1)

# Guards that never overlap (each pair costs the search its whole product of values)
# and guards that all overlap (each pair is found at once; the pair count is the bound).
SHAPES = {
    "disjoint": (
        "name != 'a{k}' and name != 'b{k}' and note != 'c{k}' and note != 'd{k}' "
        "and amt != {k} and num == {k}"
    ),
    "overlapping": "num > {k} or flag",
    # Long guards whose costly part comes first, so that no evaluation is cut short.
    "long": "(" + " + ".join(["amt"] * 40) + ") > -1 and num == {k} and name != 'a{k}'",
}


def write(tmp_path: Path, shape: str, count: int) -> Path:
    guard = SHAPES[shape]
    lines = [
        f'    - {{from: open, to: closed, roles: [clerk], when: "{guard.format(k=k)}"}}\n'
        for k in range(count)
    ]
    path = tmp_path / f"{shape}_{count}.yaml"
    path.write_text(HEAD + "".join(lines), encoding="utf-8")
    return path


def check(path: Path) -> list[tuple[int, int, str, str]]:
    result = load_file(path)
    return [(d.line, d.column, d.code, d.message) for d in result.diagnostics]


def load(path: Path) -> list[str]:
    return [p.id for p in Engine.from_directory(path).procedures()]


@pytest.mark.parametrize("count", [100, 150, 200])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_check_stops_the_search_and_says_where(tmp_path, shape, count):
    path = write(tmp_path, shape, count)
    outcome = run_bounded(check, path, **CEILING)
    assert outcome.verdict == "returned", str(outcome)
    found = outcome.value
    cuts = [d for d in found if d[2] == "ambiguity-search-cut"]
    assert len(cuts) == 1, found
    line, column, _, message = cuts[0]
    assert (line, column) == CLOSE_AT
    assert message.startswith("the search for overlapping guards stopped at branches ")
    assert message.endswith(
        "of 'close' from 'open': the procedure has too many guarded branches to compare "
        "them all; the pairs after these were not compared"
    )
    # The small pair of `review`, compared before the budget ran out, is still reported.
    ambiguous = [d for d in found if d[2] == "ambiguous-transition"]
    assert ambiguous[0][:3] == (*REVIEW_AT, "ambiguous-transition")
    assert "branches 1 and 2 of 'review'" in ambiguous[0][3]


@pytest.mark.parametrize("count", [100, 200])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_engine_loads_many_branches_in_bounded_time(tmp_path, shape, count):
    path = write(tmp_path, shape, count)
    outcome = run_bounded(load, path, **CEILING)
    assert outcome.verdict == "returned", str(outcome)


def test_a_few_branches_are_compared_in_full(tmp_path):
    # Thirty short guards and one more are 465 pairs of a few values each: within the
    # budget, so no cut, and the overlap hidden at the end (branch 31 repeats branch 30)
    # is still found.
    lines = [
        f'    - {{from: open, to: closed, roles: [clerk], when: "num == {k}"}}\n'
        for k in [*range(30), 29]
    ]
    path = tmp_path / "short.yaml"
    path.write_text(HEAD + "".join(lines), encoding="utf-8")
    found = check(path)
    assert not [d for d in found if d[2] == "ambiguity-search-cut"]
    messages = [d[3] for d in found if d[2] == "ambiguous-transition"]
    assert messages[-1].startswith(
        "guards of branches 30 and 31 of 'close' from 'open' can both hold"
    )
