"""``servflow render PROC TEMPLATE --case FILE``: one notification or record form of a case.

For analysts writing templates: the case is a JSON file holding a stored case (what
``Case.model_dump(mode="json")`` writes, as a store keeps it), the event that led to the
notification or record optionally another (``--event``). The template is looked up in the
``templates/`` folder beside the procedure (see :mod:`servflow.render.forms`); personal
data is masked unless a role given with ``--as`` may see it. Exit 0 with the rendered
text on stdout (or in ``--output``), 1 when the template cannot be rendered, 2 for a
usage error (no such procedure, a case file that cannot be read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from servflow.commands._common import default_procedures_dir
from servflow.commands._render import add_common_options, load_or_report, write_output
from servflow.engine import Case, Event
from servflow.render.forms import FormError, Forms

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a notification template or record form of a case",
        description="Render one notification template (text) or record form (HTML) that "
        "PROC names, for the case in --case, in --lang. Personal data is masked unless a "
        "role given with --as may see it.",
    )
    add_common_options(parser)
    parser.add_argument("template", metavar="TEMPLATE", help="the template or record name")
    parser.add_argument(
        "--case", required=True, metavar="FILE", help="JSON file holding the stored case"
    )
    parser.add_argument(
        "--event", metavar="FILE", help="JSON file holding the event (an audit record)"
    )
    parser.add_argument(
        "--as",
        dest="roles",
        action="append",
        default=[],
        metavar="ROLE",
        help="a role of the reader (repeatable): shows the pii fields it may see",
    )
    parser.add_argument(
        "--organisation", default="", metavar="TEXT", help="the organisation named on forms"
    )


def _read(kind: type[Case] | type[Event], file: str) -> Case | Event | str:
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {file}: {exc}"
    try:
        return kind.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        return f"{file} is not a stored {kind.__name__.lower()}: {where}: {first['msg']}"


def run(args: argparse.Namespace) -> int:
    loaded = load_or_report("render", args)
    if isinstance(loaded, int):
        return loaded
    procedure, _ = loaded
    path = Path(args.proc)
    folder = path.parent if path.suffix in (".yaml", ".yml") or path.is_file() else None
    catalogue = folder if folder is not None else default_procedures_dir(args.procedures)
    case = _read(Case, args.case)
    event = _read(Event, args.event) if args.event else None
    for problem in (case, event):
        if isinstance(problem, str):
            print(f"servflow render: error: {problem}", file=sys.stderr)
            return 2
    assert isinstance(case, Case)
    assert event is None or isinstance(event, Event)
    try:
        text = Forms(catalogue).render(
            procedure,
            case,
            args.template,
            args.lang,
            viewer_roles=args.roles,
            event=event,
            organisation=args.organisation,
        )
    except FormError as exc:
        print(f"servflow render: error: {exc}", file=sys.stderr)
        return 1
    return write_output("render", text, args.output)
