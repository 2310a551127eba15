"""Terminal output for `make demo` and `make run`: headings, JSON, live progress lines, signals.

On a terminal, progress lines are redrawn in place; anywhere else (CI logs, a pipe) only lines
whose text changed are printed, with the elapsed time, so a log reads as a timeline.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
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


def bar(percent: float | None, width: int = 20) -> str:
    filled = round(width * max(0.0, min(100.0, percent or 0.0)) / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class LiveLines:
    """A block of status lines, each with a stable key, that updates as the status changes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.drawn = 0  # lines drawn by the last update (terminal mode)
        self.printed: dict[str, str] = {}  # last text printed per key (log mode)
        self.started = time.monotonic()

    def update(self, rows: Sequence[tuple[str, str]]) -> None:
        if self.console.tty:
            self._redraw([text for _, text in rows])
            return
        stamp = f"[{time.monotonic() - self.started:5.1f}s]"
        for key, text in rows:
            if self.printed.get(key) != text:
                self.printed[key] = text
                self.console.line(f"{stamp} {text}")

    def _redraw(self, lines: list[str]) -> None:
        out = self.console.stream
        # A line wider than the terminal would wrap and throw off the cursor arithmetic.
        columns = shutil.get_terminal_size().columns - 1
        if self.drawn:
            out.write(f"\x1b[{self.drawn}F")  # back to the first line of the block
        for text in lines:
            out.write("\x1b[2K" + text[:columns] + "\n")  # clear the line, then draw
        for _ in range(self.drawn - len(lines)):  # a shorter block: blank what is left
            out.write("\x1b[2K\n")
        out.flush()
        self.drawn = max(len(lines), self.drawn)


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
