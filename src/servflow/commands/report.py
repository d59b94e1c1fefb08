"""``servflow report --db URL``: KPI figures of the cases in a SQL store, from their audit logs.

Prints a table (at most 100 columns) and writes the same figures as CSV and as a
self-contained HTML page with charts. ``--from`` and ``--to`` are dates, both included,
read in the time zone of each procedure's calendar; the cases counted are those opened in
the period, as they stood at its end (docs/kpi.md). Exit 0, or 2 when the store cannot be
read or a file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from servflow.commands._common import add_procedures_option, default_procedures_dir
from servflow.errors import ServflowError
from servflow.model import LANGUAGES
from servflow.render.common import DEFAULT_LANGUAGE

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="KPI figures (completion, on time, callback, satisfaction...) from the audit log",
        description="Compute the desk's KPI figures from the audit logs in a SQL store: print "
        "a table, and write them as CSV and as an HTML page with charts.",
    )
    parser.add_argument("--db", metavar="URL", required=True, help="SQLAlchemy URL of the store")
    parser.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        type=date.fromisoformat,
        help="first day, YYYY-MM-DD",
    )
    parser.add_argument(
        "--to", dest="end", metavar="DATE", type=date.fromisoformat, help="last day, included"
    )
    parser.add_argument("--procedure", metavar="ID", help="only this procedure")
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=DEFAULT_LANGUAGE,
        help=f"language of titles and headings (default: {DEFAULT_LANGUAGE})",
    )
    parser.add_argument(
        "--csv", metavar="FILE", default="servflow-report.csv", help="CSV file to write"
    )
    parser.add_argument(
        "--html", metavar="FILE", default="servflow-report.html", help="HTML page to write"
    )
    add_procedures_option(parser)


def run(args: argparse.Namespace) -> int:
    from servflow.catalogue import Engine
    from servflow.kpi import compute
    from servflow.kpi.output import WORDS, csv_text, html_page, table
    from servflow.store import SqlStore

    words = WORDS[args.lang]
    end = None if args.end is None else args.end + timedelta(days=1)
    period = f"{args.start or '…'} – {args.end or '…'}"
    if args.start is None and args.end is None:
        period = words["all"]
    try:
        engine = Engine.from_directory(default_procedures_dir(args.procedures))
        with SqlStore(args.db, create=False) as store:
            logs = (store.history(case_id) for case_id in store.case_ids(args.procedure))
            figures = compute(engine, logs, start=args.start, end=end, procedure=args.procedure)
    except ServflowError as exc:
        print(f"servflow report: error: {exc}", file=sys.stderr)
        return 2
    except LookupError as exc:  # a stored case of a procedure (version) the folder lacks
        message = exc.args[0] if exc.args else str(exc)
        print(
            f"servflow report: error: {message}; give the folder that defines it with "
            "--procedures, or report on one procedure with --procedure",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # the database's own errors: say which, never a traceback
        print(f"servflow report: cannot read {args.db}: {type(exc).__name__}", file=sys.stderr)
        return 2
    sys.stdout.write(table(figures, engine, args.lang, period))
    for name, text in (
        (args.csv, csv_text(figures, engine, args.lang)),
        (args.html, html_page(figures, engine, args.lang, period)),
    ):
        try:
            Path(name).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"servflow report: cannot write {name}: {exc.strerror}", file=sys.stderr)
            return 2
    return 0
