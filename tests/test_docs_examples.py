"""Every example in the README and docs/ runs, as written.

Python blocks of one page run in order in one namespace, from the repository root.
Shell blocks: each line `servflow ...` runs through the command line, in-process, and
must exit 0 (or the code a trailing `# exit N` comment names).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from servflow.cli import main

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)


def _blocks(page: Path, kinds: tuple[str, ...]) -> list[str]:
    return [body for kind, body in FENCE.findall(page.read_text(encoding="utf-8")) if kind in kinds]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples_run(page, monkeypatch):
    blocks = _blocks(page, ("python",))
    if not blocks:
        pytest.skip("no python examples on this page")
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)  # the project's own docs


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_shell_examples_run(page, monkeypatch, capsys):
    commands = []
    for block in _blocks(page, ("sh", "console", "shell", "bash")):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("servflow "):
                commands.append(line)
    if not commands:
        pytest.skip("no servflow commands on this page")
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("COLUMNS", "100")
    for line in commands:
        expected = 0
        if "# exit" in line:
            line, _, code = line.partition("# exit")
            expected = int(code.strip())
        argv = shlex.split(line.split(" #", 1)[0])[1:]
        if any(token in argv for token in ("|", ">", "&&")):
            argv = argv[: min(argv.index(t) for t in ("|", ">", "&&") if t in argv)]
        assert main(argv) == expected, line
        capsys.readouterr()
    assert os.getcwd() == str(REPO)


def test_ci_runs_the_readme_set_up_commands():
    """.ci/run must run the README's two set-up commands exactly as written."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set-up on a fresh machine", 1)[1]
    block = FENCE.search(section)
    assert block is not None
    commands = [line for line in block.group(2).splitlines() if line.strip()]
    assert len(commands) == 2
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in commands:
        assert command in ci
