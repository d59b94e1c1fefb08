"""Every example in the README and docs/ runs, as written.

Python blocks of one page run in order in one namespace, from the repository root.
Shell blocks run from the repository root too, line by line: `servflow ...` through the
command line, in-process, exiting 0 (or the code a trailing `# exit N` comment names),
with `> FILE` written for real; `mkdir -p`, `cp -r` and `cd` as the shell would, with
paths under /tmp/ moved into the test's temporary folder. Other lines (installing,
running the tests) are left alone. Whatever the examples do, the checkout must be left as
it was: `git status --porcelain` is the same after each page as before.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from servflow.cli import main

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)


def _git_status() -> str | None:
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@pytest.fixture(autouse=True)
def checkout_left_as_it_was() -> Iterator[None]:
    before = _git_status()
    yield
    if before is not None:  # not a git checkout (an unpacked sdist): nothing to compare
        assert _git_status() == before, "the examples left files in the checkout"


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


_SHELL = ("mkdir", "cp", "cd")


def _path(word: str, tmp: Path) -> Path:
    """A path of an example; /tmp/... is moved into the test's own temporary folder."""
    return tmp / word.removeprefix("/tmp/") if word.startswith("/tmp/") else Path(word)


def _shell(argv: list[str], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command, *words = argv
    options = [w for w in words if w.startswith("-")]
    paths = [_path(w, tmp) for w in words if not w.startswith("-")]
    if command == "mkdir":
        assert options == ["-p"], argv
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
    elif command == "cp":
        assert options == ["-r"], argv
        *sources, target = paths
        for source in sources:
            copy = target / source.name
            if source.is_dir():
                shutil.copytree(source, copy)
            else:
                shutil.copy(source, copy)
    else:
        (folder,) = paths
        monkeypatch.chdir(folder)


def _exit_code(args: list[str]) -> int:
    """What the command exits with: what `main` returns, or the code of the SystemExit
    argparse raises (`--version`, `--help`, a usage error), as a shell would see it."""
    try:
        return main(args)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_shell_examples_run(page, monkeypatch, capsys, tmp_path):
    lines = []
    for block in _blocks(page, ("sh", "console", "shell", "bash")):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.split(" ", 1)[0] in ("servflow", *_SHELL):
                lines.append(line)
    if not any(line.startswith("servflow ") for line in lines):
        pytest.skip("no servflow commands on this page")
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("COLUMNS", "100")
    for line in lines:
        expected = 0
        if "# exit" in line:
            line, _, code = line.partition("# exit")
            expected = int(code.strip())
        argv = shlex.split(line.split(" #", 1)[0])
        if argv[0] in _SHELL:
            _shell(argv, tmp_path, monkeypatch)
            continue
        assert not any(token in argv for token in ("|", "&&")), f"run one command a line: {line}"
        output = None
        if ">" in argv:
            argv, (_, output) = argv[: argv.index(">")], argv[argv.index(">") :]
        capsys.readouterr()
        assert _exit_code(argv[1:]) == expected, line
        printed = capsys.readouterr().out
        if output is not None:
            _path(output, tmp_path).write_text(printed, encoding="utf-8")


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
