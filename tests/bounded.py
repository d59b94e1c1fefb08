"""Run one hostile input under a time and memory ceiling, in a child process.

The hardening corpora (``tests/hostile/``) feed servflow inputs that once hung it or ate
all memory. Each case runs through :func:`run_bounded`: the test process forks, the child
lowers its own address-space limit (``RLIMIT_AS``) to what it already uses plus
``memory_mb``, runs the call and sends back what happened; the parent kills it after
``seconds``. A regression then fails one test with "timeout" or "memory" instead of
taking the whole suite (or the machine) down.

Forking keeps the cost of a case to a few milliseconds: the child inherits the imported
servflow, pydantic and jinja2 instead of importing them again.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Bounded", "run_bounded"]

Verdict = Literal["returned", "raised", "timeout", "memory", "crashed"]


@dataclass(frozen=True)
class Bounded:
    """What a bounded call did: returned a value, raised, or hit a ceiling."""

    verdict: Verdict
    value: Any = None
    error_type: str = ""
    error: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.verdict == "returned":
            return f"returned {self.value!r} in {self.seconds:.2f}s"
        if self.verdict == "raised":
            return f"raised {self.error_type}: {self.error} in {self.seconds:.2f}s"
        return f"{self.verdict} after {self.seconds:.2f}s {self.error}"


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * resource.getpagesize()


def run_bounded(
    fn: Callable[..., Any], *args: Any, seconds: float = 5.0, memory_mb: int = 256, **kwargs: Any
) -> Bounded:
    """Call ``fn(*args, **kwargs)`` in a forked child with ceilings on time and memory.

    The child's value (or its exception's type name and message) comes back pickled; a
    value that cannot be pickled comes back as its ``repr``.
    """
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        code = 0
        try:
            limit = _address_space() + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                value = fn(*args, **kwargs)
                try:
                    payload = pickle.dumps(("returned", value, "", ""))
                except Exception:
                    payload = pickle.dumps(("returned", repr(value), "", ""))
            except MemoryError:
                payload = pickle.dumps(("memory", None, "MemoryError", ""))
            except BaseException as exc:
                payload = pickle.dumps(("raised", None, type(exc).__name__, str(exc)))
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = started + seconds
    with os.fdopen(read_fd, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Bounded("timeout", seconds=time.monotonic() - started)
            ready, _, _ = select.select([pipe], [], [], left)
            if not ready:
                continue
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - started
    if not chunks:
        return Bounded("crashed", error=f"exit status {status}", seconds=elapsed)
    verdict, value, error_type, error = pickle.loads(b"".join(chunks))
    return Bounded(verdict, value, error_type, error, elapsed)
