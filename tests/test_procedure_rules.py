"""The procedures' index and rule tables (docs/procedures/) say where each seed rule lives.

``docs/procedures/README.md`` lists the catalogue; ``docs/procedures/rules/<family>.md``
holds one table per family of the regulation, a row per rule of the seed, each saying
where the rule lives in a procedure file (`` `procedure:dotted.path` ``) or why it is left
out. These tests hold the tables to that format, resolve every reference in the latest
version of its procedure, and check that every numbered clause of the regulation's
section E (kept in ``tests/seed/section_e.txt``, a copy of the seed's text, since the
seed itself lives outside the repository) is in some table.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PROCEDURES = REPO / "procedures"
DOCS = REPO / "docs" / "procedures"
RULES = DOCS / "rules"
SECTION_E = Path(__file__).resolve().parent / "seed" / "section_e.txt"

HEADER = "| § | Seed rule | Where it lives |"
REFERENCE = re.compile(r"`([a-z][a-z0-9_]*):([^`\s]+)`")
CJK = re.compile(r"[\u3400-\u9fff]")
# The families of the regulation whose rule tables the README links.
FAMILIES = (
    "repair",
    "complaint",
    "callback",
    "fees",
    "enquiry",
    "sales",
    "renovation",
    "keys",
    "archives",
    "desk",
)


def _latest_files() -> dict[str, Path]:
    """Procedure id -> the file of its latest version, from the files themselves."""
    latest: dict[str, tuple[int, Path]] = {}
    for path in sorted(PROCEDURES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "id" not in data:
            continue  # a calendar file
        version = int(data.get("version", 1))
        if data["id"] not in latest or version > latest[data["id"]][0]:
            latest[data["id"]] = (version, path)
    return {proc_id: path for proc_id, (_, path) in latest.items()}


LATEST = _latest_files()
TABLES = sorted(RULES.glob("*.md"))


@functools.cache
def _mapping(proc_id: str) -> Any:
    return yaml.safe_load(LATEST[proc_id].read_text(encoding="utf-8"))


def _resolves(node: Any, dotted: str) -> bool:
    """Whether ``dotted`` names a key (or a list index) in the YAML mapping ``node``."""
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _rows(path: Path) -> list[list[str]]:
    """The rows of the file's one table, after its header and separator."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index(HEADER)
    rows = []
    for line in lines[at + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def test_the_readme_lists_every_procedure_of_the_catalogue():
    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    for proc_id in LATEST:
        assert f"`{proc_id}`" in readme, f"{proc_id} is not in docs/procedures/README.md"
        for lang in ("zh-Hant", "zh-Hans", "en"):
            assert f"({proc_id}.{lang}.md)" in readme, f"no link to the {lang} SOP of {proc_id}"


def test_the_readme_links_every_familys_rule_table():
    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    for family in FAMILIES:
        assert f"(rules/{family}.md)" in readme, family
    # A link to a table that exists is a table of the right name; the others are coming.
    for table in TABLES:
        assert table.stem in FAMILIES, f"{table.name} is not a family the README links"


def test_there_are_rule_tables():
    assert {t.stem for t in TABLES} >= {"renovation", "keys", "archives", "desk"}


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_a_rule_table_has_a_heading_a_sentence_and_one_table(table):
    lines = table.read_text(encoding="utf-8").splitlines()
    text = [line for line in lines if line.strip()]
    assert text[0].startswith("# "), "the first line is a `# ` heading"
    assert "§" in text[0] or re.search(r"\b[EHJ]\b", text[0]), "the heading names the section"
    assert not text[1].startswith(("|", "#")), "a sentence follows the heading"
    assert lines.count(HEADER) == 1, f"one table, with the header {HEADER}"
    at = lines.index(HEADER)
    assert re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|){3}", lines[at + 1].strip()), "a separator row"
    table_lines = [line for line in lines if line.startswith("|")]
    assert len(table_lines) == 2 + len(_rows(table)), "no other table in the file"
    assert _rows(table), "the table has rows"


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_every_row_quotes_the_seed_and_says_where_it_lives(table):
    for row in _rows(table):
        assert len(row) == 3, f"three cells: {row}"
        section, rule, where = row
        assert re.match(r"^[A-J]\b", section), f"the § cell names the seed's section: {row}"
        assert CJK.search(rule), f"the seed rule is quoted in its own words: {row}"
        refs = REFERENCE.findall(where)
        assert refs or where.startswith("Left out:"), f"a reference or 'Left out:': {row}"
        if where.startswith("Left out:"):
            assert len(where) > len("Left out:") + 10, f"a reason for leaving it out: {row}"


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_every_reference_resolves_in_the_latest_version(table):
    for _, _, where in _rows(table):
        for proc_id, dotted in REFERENCE.findall(where):
            assert proc_id in LATEST, f"{table.name}: no procedure {proc_id!r}"
            assert _resolves(_mapping(proc_id), dotted), (
                f"{table.name}: {proc_id}:{dotted} is not a key of {LATEST[proc_id].name}"
            )


def test_a_broken_reference_is_found():
    # The resolver the tables are held to: a key, a list index, and nothing else.
    renovation = _mapping("renovation")
    assert _resolves(renovation, "time_limits.daily_patrol.within.0.limit")
    assert not _resolves(renovation, "time_limits.daily_patrl")
    assert not _resolves(renovation, "invariants.99")
    assert not REFERENCE.findall("renovation:transitions.patrol")  # not in backticks


def _section_e_clauses() -> list[str]:
    """The numbered clauses of the seed's section E: 1.0 ... 4.9, with 4.2.1, 4.3.2 ...

    The seed writes "42.2" for 4.2.2 and gives 4.6.2 twice; the copy is the seed's text.
    """
    found: list[str] = []
    for line in SECTION_E.read_text(encoding="utf-8").splitlines():
        for number in re.findall(r"(?:^|\s)(\d{1,2}\.\d(?:\.\d)?)(?=\s|[\u3400-\u9fff])", line):
            clause = "4.2.2" if number == "42.2" else number
            if clause not in found:
                found.append(clause)
    return found


CLAUSES = _section_e_clauses()
# Which family's table a clause of section E belongs in, when no other table has it.
OWNERS = {"4.2": "repair", "4.3": "callback", "4.6": "complaint", "4.8": "fees"}


def test_the_copy_of_section_e_gives_every_clause():
    assert CLAUSES[:4] == ["1.0", "2.0", "3.0", "3.1"]
    for clause in ("4.1", "4.2.1", "4.2.2", "4.3.2", "4.4.4", "4.5.5", "4.6.2", "4.7.4", "4.9"):
        assert clause in CLAUSES
    assert len(CLAUSES) == 40


@pytest.mark.parametrize("clause", CLAUSES)
def test_every_clause_of_section_e_is_in_a_rule_table(clause):
    sections = [row[0] for table in TABLES for row in _rows(table)]
    pattern = re.compile(rf"\bE {re.escape(clause)}(?![.\d])")
    if any(pattern.search(section) for section in sections):
        return
    owner = OWNERS.get(".".join(clause.split(".")[:2]))
    if owner is not None and not (RULES / f"{owner}.md").is_file():
        pytest.skip(f"E {clause} belongs in rules/{owner}.md, not written yet")
    raise AssertionError(f"E {clause} is in no rule table of docs/procedures/rules/")
