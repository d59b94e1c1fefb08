"""Regenerate everything servflow generates into the repository from the procedure files.

    .venv/bin/python scripts/regen_docs.py          # write the files
    .venv/bin/python scripts/regen_docs.py --check  # exit 1 if any file is out of date

Writes the JSON Schema of the language (``src/servflow/servflow.schema.json``, shipped in
the wheel, and ``docs/servflow.schema.json``, which the procedure files name in their
first line), and for every procedure in ``procedures/`` its state diagram
(``docs/diagrams/<id>.mmd`` and ``.dot``) and its SOP in each language
(``docs/procedures/<id>.<lang>.md``). Generated files of procedures that no longer exist
are removed; the hand-written index ``docs/procedures/README.md`` and the rule tables in
``docs/procedures/rules/`` are left alone. The tests compare the repository with
:func:`expected_files`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from servflow.model import LANGUAGES, Procedure
from servflow.procedures.load import load_catalogue
from servflow.procedures.schema import schema_text
from servflow.render.diagram import render_dot, render_mermaid
from servflow.render.sop import render_sop

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM_LANGUAGE = "zh-Hant"
GENERATED_DIRS = ("docs/diagrams", "docs/procedures")


def _latest(procedures: list[Procedure]) -> list[Procedure]:
    latest: dict[str, Procedure] = {}
    for proc in procedures:
        if proc.id not in latest or proc.version > latest[proc.id].version:
            latest[proc.id] = proc
    return [latest[key] for key in sorted(latest)]


def expected_files(root: Path = ROOT) -> dict[str, str]:
    """Relative path -> the text it should hold."""
    files = {
        "src/servflow/servflow.schema.json": schema_text(),
        "docs/servflow.schema.json": schema_text(),
    }
    catalogue = load_catalogue([root / "procedures"])
    errors = [d for d in catalogue.diagnostics if d.severity == "error"]
    if errors:
        raise SystemExit("fix the procedures first:\n" + "\n".join(map(str, errors)))
    for proc in _latest(catalogue.procedures):
        files[f"docs/diagrams/{proc.id}.mmd"] = render_mermaid(proc, DIAGRAM_LANGUAGE)
        files[f"docs/diagrams/{proc.id}.dot"] = render_dot(proc, DIAGRAM_LANGUAGE)
        for lang in LANGUAGES:
            files[f"docs/procedures/{proc.id}.{lang}.md"] = render_sop(
                proc, lang, calendars=catalogue.calendars
            )
    return files


def existing_generated(root: Path = ROOT) -> set[str]:
    """The generated files now in the repository, in the folders this script fills.

    Only the names it writes count: a diagram (``<id>.mmd``, ``<id>.dot``) or an SOP
    (``<id>.<lang>.md``). The hand-written pages beside the SOPs, ``docs/procedures/
    README.md`` and the rule tables in ``docs/procedures/rules/``, are never removed.
    """
    found: set[str] = set()
    for folder in GENERATED_DIRS:
        for path in (root / folder).glob("*"):
            if not path.is_file():
                continue
            sop = path.suffix == ".md" and Path(path.stem).suffix.lstrip(".") in LANGUAGES
            if path.suffix in (".mmd", ".dot") or sop:
                found.add(path.relative_to(root).as_posix())
    return found


def out_of_date(root: Path = ROOT) -> list[str]:
    """Paths that differ from what would be generated, are missing, or are stale."""
    expected = expected_files(root)
    problems = [
        rel
        for rel, text in sorted(expected.items())
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    problems += sorted(existing_generated(root) - set(expected))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report what is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_date()
        for rel in stale:
            print(f"out of date: {rel}")
        return 1 if stale else 0
    expected = expected_files()
    for rel, text in expected.items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
    for rel in sorted(existing_generated() - set(expected)):
        (ROOT / rel).unlink()
        print(f"removed {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
