"""``python manage.py run_desk_worker``: apply what fell due, in rounds, until SIGTERM."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from desk.apps import desk


class Command(BaseCommand):
    help = "Run servflow's due time limits (Desk.run_due) in rounds; SIGTERM stops cleanly."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=30.0)
        parser.add_argument("--batch", type=int, default=100)
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def on_signal(_number: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        changed = 0
        while not stop.is_set():
            done = desk().run_due(datetime.now().astimezone(), limit=options["batch"])
            for outcome in done:
                kinds = ", ".join(e.kind for e in outcome.events)
                self.stdout.write(f"case {outcome.case.id}: {kinds}")
            changed += len(done)
            if options["once"]:
                break
            if len(done) < options["batch"]:
                stop.wait(options["interval"])
        self.stdout.write(f"worker stopped; {changed} cases changed")
