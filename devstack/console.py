"""Terminal output for `make demo` and `make run`: headings, JSON, signals. (Live copy progress
is the `rpcopy` command line's: `rpcopy_cli.progress`.)"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any, TextIO

WIDTH = 78


class Console:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def heading(self, text: str) -> None:
        self.line()
        self.line(f"== {text} ".ljust(WIDTH, "="))

    def json(self, data: Any, indent: int = 2) -> None:
        self.line(textwrap.indent(json.dumps(data, indent=2), " " * indent))

    def elapsed(self) -> float:
        return time.monotonic() - self.started


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt inside the block, so one try/finally stops
    the stack whichever of the two arrives."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; `kill -INT` must stop the stack there too.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def ignore_interrupts() -> None:
    """While the stack stops: a second Ctrl-C must not cut the cleanup short and leave
    children running (they are stopped by PID, with SIGKILL after a bounded wait)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
