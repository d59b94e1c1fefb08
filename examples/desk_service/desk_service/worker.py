"""The worker: applies what fell due, opens scheduled cases, delivers the outbox, in a loop.

    python -m desk_service.worker [--interval SECONDS] [--batch N] [--once]

Each round claims at most ``--batch`` due cases (``Desk.run_due``: warnings, breaches,
escalations, then the cases the procedures' schedules have due), then hands at most
``--batch`` pending effects of the outbox to :func:`send` (``Desk.deliver``: each at
least once, under a stable id the receiver de-duplicates on, retried with back-off), and
sleeps ``--interval`` seconds, or goes straight on when a batch was full.
Any number of workers may run against one database: each due case is claimed by one of
them at a time. SIGTERM and SIGINT stop the worker cleanly: the round under way finishes,
its claims are released, and the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from types import FrameType

from desk_service.settings import ASSIGNEE_FIELDS, Settings
from servflow import Desk, Engine
from servflow.store import OutboxEntry, SqlStore

log = logging.getLogger("desk_service.worker")


def send(entry: OutboxEntry) -> None:
    """Deliver one effect. This example logs it; a host sends the SMS, the e-mail, the
    message to the maintenance team's app here, keyed on ``entry.id`` so that a repeated
    delivery (after a crash between sending and marking) is recognised and dropped."""
    effect = entry.effect
    log.info(
        "deliver %s: %s to %s%s",
        entry.id,
        effect.kind,
        effect.recipient,
        f" ({effect.template})" if effect.template else "",
    )


def run(
    desk: Desk,
    *,
    clock: Callable[[], datetime],
    stop: threading.Event,
    interval: float,
    batch: int,
    once: bool = False,
) -> int:
    """Run rounds until ``stop`` is set (or one round with ``once``); returns cases changed."""
    changed = 0
    while not stop.is_set():
        try:
            done = desk.run_due(clock(), limit=batch)
        except Exception:  # one bad case must not stop the desk: logged, retried later
            log.exception("a round of run_due failed; the next round retries")
            done = []
        changed += len(done)
        for outcome in done:
            kinds = ", ".join(e.kind for e in outcome.events)
            log.info("case %s: %s", outcome.case.id, kinds)
        try:
            sent = desk.deliver(send, at=clock(), limit=batch)
        except Exception:
            log.exception("a round of deliver failed; the next round retries")
            sent = []
        if once:
            break
        if len(done) < batch and len(sent) < batch:
            stop.wait(interval)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desk_service.worker", description=__doc__)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    parser.add_argument("--batch", type=int, default=100, help="cases per round (1-10000)")
    parser.add_argument("--once", action="store_true", help="run one round and exit")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 10_000 or args.interval < 0:
        parser.error("--batch must be 1 to 10000 and --interval 0 or more")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = Settings.from_environment()
    engine = (
        Engine.from_directory(settings.procedures) if settings.procedures else Engine.standard()
    )
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping after this round", signal.Signals(number).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SqlStore(settings.db, assignee_fields=ASSIGNEE_FIELDS) as store:
        log.info("worker started on %s", store.url)
        changed = run(
            Desk(engine, store),
            clock=lambda: datetime.now(settings.timezone),
            stop=stop,
            interval=args.interval,
            batch=args.batch,
            once=args.once,
        )
    log.info("worker stopped; %d cases changed", changed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
