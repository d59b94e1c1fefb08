"""A corpus of realistic analyst mistakes, each reported where it stands, helpfully.

Every file in ``tests/mistakes/`` is ``base.yaml`` (a small valid procedure) with one
mistake an analyst really makes. Its second line says what ``servflow check`` must
report: ``# expect: CODE LINE:COLUMN FRAGMENT`` -- the diagnostic's code, its exact
position, and a fragment of its message (usually the "did you mean" that saves a look
at the manual). A mistake only ``servflow check --strict`` reports says so in its first
line (``(checked with --strict)``), and is checked that way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from servflow.cli import main

REPO = Path(__file__).resolve().parent.parent
MISTAKES = REPO / "tests" / "mistakes"
# calendars.yaml is the calendar file beside the mistakes, as beside real procedures.
CASES = sorted(p for p in MISTAKES.glob("*.yaml") if p.name not in ("base.yaml", "calendars.yaml"))
EXPECT = re.compile(
    r"^# expect: (?P<code>[a-z0-9-]+) (?P<line>\d+):(?P<column>\d+) (?P<fragment>.+)$"
)
LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning) (?P<code>\S+) (?P<message>.+)$"
)


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["check", *argv])
    out = capsys.readouterr().out
    return code, out.splitlines()


def _expectation(path: Path) -> re.Match[str]:
    for line in path.read_text(encoding="utf-8").splitlines()[:3]:
        match = EXPECT.match(line)
        if match:
            return match
    raise AssertionError(f"{path.name} has no '# expect:' line")


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 30
    codes = {_expectation(p)["code"] for p in CASES}
    assert len(codes) >= 25, sorted(codes)
    for needed in (
        "unknown-role",
        "unknown-state",
        "yaml-syntax",
        "duplicate-key",
        "yaml-boolean-key",
        "unknown-name",
        "expression-syntax",
        "unknown-field",
        "unreachable-state",
        "dead-end",
        "bad-duration",
        "missing-translation",
        "no-time-limit",
        "unused-role",
        "unused-field",
        "unfireable-transition",
    ):
        assert needed in codes


def test_the_base_procedure_is_clean(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, lines = _check(capsys, "tests/mistakes/base.yaml")
    assert (code, lines) == (0, [])


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_each_mistake_is_reported_at_its_place(path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    expected = _expectation(path)
    rel = path.relative_to(REPO).as_posix()
    strict = "(checked with --strict)" in path.read_text(encoding="utf-8").splitlines()[0]
    code, lines = _check(capsys, *(["--strict"] if strict else []), rel)
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    found = [
        m
        for m in parsed
        if m is not None
        and m["code"] == expected["code"]
        and (m["line"], m["column"]) == (expected["line"], expected["column"])
    ]
    assert found, (
        f"expected {expected['code']} at {expected['line']}:{expected['column']}, got:\n"
        + "\n".join(lines)
    )
    (match,) = found
    assert match["file"] == rel
    assert expected["fragment"] in match["message"]
    has_errors = any(m is not None and m["severity"] == "error" for m in parsed)
    assert code == (1 if has_errors or (strict and parsed) else 0)
    if match["severity"] == "error":
        # The mistake is the first error an analyst reads about, or one of few.
        errors = [m for m in parsed if m is not None and m["severity"] == "error"]
        assert len(errors) <= 4, lines


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_each_mistake_differs_from_the_base_in_one_place(path):
    base = (MISTAKES / "base.yaml").read_text(encoding="utf-8").splitlines()
    mistake = path.read_text(encoding="utf-8").splitlines()[2:]
    import difflib

    hunks = [
        op for op in difflib.SequenceMatcher(a=base, b=mistake).get_opcodes() if op[0] != "equal"
    ]
    assert 1 <= len(hunks) <= 2, hunks


def test_a_guard_that_fails_when_empty_is_reported_word_for_word(capsys, monkeypatch):
    # The warning must tell the analyst what happens and what to write, so its whole
    # line is pinned, not a fragment.
    monkeypatch.chdir(REPO)
    rel = "tests/mistakes/guard_fails_when_empty.yaml"
    code, lines = _check(capsys, rel)
    assert code == 0
    assert lines == [
        f"{rel}:45:13: warning guard-fails-when-empty the guard of branch 1 of 'close' cannot "
        "be evaluated when 'cost' is empty, and then branch 2 from 'dispatched' is taken "
        "instead; say what an empty 'cost' means (e.g. `cost is none or ...` or "
        "`cost is not none and ...`)"
    ]


TEMPLATE_MISTAKES = MISTAKES / "forms"
TEMPLATE_EXPECT = re.compile(
    r"^\{# expect: (?P<code>[a-z0-9-]+) (?P<line>\d+):(?P<column>\d+) (?P<fragment>.+) #\}$"
)
TEMPLATE_CASES = sorted(
    p
    for p in (TEMPLATE_MISTAKES / "templates").rglob("*.zh-Hant.*")
    if TEMPLATE_EXPECT.match(p.read_text(encoding="utf-8").splitlines()[0])
)


def test_the_template_mistakes_cover_every_template_code():
    codes = {
        TEMPLATE_EXPECT.match(p.read_text(encoding="utf-8").splitlines()[0])["code"]  # type: ignore[index]
        for p in TEMPLATE_CASES
    }
    assert codes == {"template-syntax", "template-unknown-name"}
    assert len(TEMPLATE_CASES) >= 7


def test_each_template_mistake_is_reported_in_its_file_at_its_line(capsys, monkeypatch):
    # tests/mistakes/forms/notice.yaml names the templates; the zh-Hant file of each holds
    # one mistake, and says on its first line what must be reported where.
    monkeypatch.chdir(REPO)
    code, lines = _check(capsys, "tests/mistakes/forms")
    assert code == 1
    parsed = [m for m in map(LINE.match, lines) if m is not None and m["severity"] == "error"]
    assert len(parsed) == len(TEMPLATE_CASES), lines
    for path in TEMPLATE_CASES:
        expected = TEMPLATE_EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
        assert expected is not None
        rel = path.relative_to(REPO).as_posix()
        (match,) = [m for m in parsed if m["file"] == rel]
        assert (match["code"], match["line"], match["column"]) == (
            expected["code"],
            expected["line"],
            expected["column"],
        ), match.group(0)
        assert expected["fragment"] in match["message"]
