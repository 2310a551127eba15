"""Live per-disk progress of copy jobs: the one progress display of the project (the `rpcopy`
command line and `make demo` both use it).

On a terminal it is a Rich live table of bars, redrawn in place; anywhere else (a pipe, a CI log)
only lines whose text changed are printed, with the elapsed time, so a log reads as a timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rpcopy_cli.render import (
    TERMINAL_STATES,
    disk_name,
    disk_state,
    job_situation,
    percent_text,
    progress_lines,
)

Job = Mapping[str, Any]
DiskLabel = Callable[[str | None], str]


class FollowTimeout(Exception):
    """The jobs did not all end within the time given; `jobs` is how they were last seen."""

    def __init__(self, jobs: Sequence[Job], timeout: float) -> None:
        waiting = ", ".join(f"{j.get('id')} ({j.get('state')})" for j in jobs)
        super().__init__(f"timed out after {timeout:.0f} s waiting for copies {waiting}")
        self.jobs = list(jobs)


class ProgressView:
    """Shows the latest state of some jobs, one line per job and one bar per disk."""

    def __init__(self, console: Console, *, disk_label: DiskLabel | None = None) -> None:
        self.console = console
        self.disk_label = disk_label
        self.started = time.monotonic()
        self.printed: dict[str, str] = {}
        self.live: Live | None = None

    def update(self, jobs: Sequence[Job], labels: Mapping[str, str]) -> None:
        now = datetime.now(UTC)
        if self.console.is_terminal:
            renderable = self._table(jobs, labels, now)
            if self.live is None:
                self.live = Live(renderable, console=self.console, auto_refresh=False)
                self.live.start()
            self.live.update(renderable, refresh=True)
            return
        stamp = f"[{time.monotonic() - self.started:5.1f}s]"
        for job in jobs:
            label = labels.get(str(job.get("id")), str(job.get("targetRegion", "")))
            for key, text in progress_lines(job, label, now, self.disk_label):
                if self.printed.get(key) != text:
                    self.printed[key] = text
                    self.console.print(
                        f"{stamp} {text}", markup=False, highlight=False, soft_wrap=True
                    )

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _table(self, jobs: Sequence[Job], labels: Mapping[str, str], now: datetime) -> Group:
        blocks = []
        for job in jobs:
            label = labels.get(str(job.get("id")), str(job.get("targetRegion", "")))
            state = str(job.get("state"))
            head = Text.assemble((f"{label} ", "bold"), (state, _style(state)))
            if state in ("Replicating", "Succeeded"):
                head.append(f"  {percent_text(job.get('percentComplete')).strip()} % overall")
            if state not in TERMINAL_STATES and (situation := job_situation(job, now)):
                head.append(f"  {situation}", style="dim")
            table = Table.grid(padding=(0, 1))
            table.add_column()
            table.add_column()
            table.add_column(justify="right")
            table.add_column()
            for disk in job.get("disks", []) or []:
                pct = disk.get("percent")
                done = float(pct) if isinstance(pct, int | float) else 0.0
                name = (
                    self.disk_label(disk.get("name"))
                    if self.disk_label
                    else disk_name(disk.get("name"))
                )
                table.add_row(
                    f"  {name}",
                    ProgressBar(total=100.0, completed=done, width=30),
                    f"{percent_text(pct, 3, 0)} %",
                    disk_state(disk.get("code")),
                )
            blocks.extend([head, table])
        return Group(*blocks)


def _style(state: str) -> str:
    return {"Succeeded": "green", "Failed": "red", "Cancelled": "yellow"}.get(state, "cyan")


def follow(
    fetch: Callable[[str], Job],
    job_ids: Sequence[str],
    labels: Mapping[str, str],
    view: ProgressView,
    *,
    timeout: float | None,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Job]:
    """Fetch the jobs until every one has ended, showing each change; FollowTimeout when
    `timeout` seconds pass first (None: no limit)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            jobs = [fetch(job_id) for job_id in job_ids]
            view.update(jobs, labels)
            if all(job.get("state") in TERMINAL_STATES for job in jobs):
                return jobs
            if deadline is not None and time.monotonic() > deadline:
                raise FollowTimeout(jobs, timeout or 0)
            sleep(interval)
    finally:
        view.close()
