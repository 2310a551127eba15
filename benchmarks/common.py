"""Helpers the benchmarks share: machine description, percentiles, result files, RSS sampling."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
if str(REPO) not in sys.path:  # `python benchmarks/x.py` as well as `python -m benchmarks.x`
    sys.path.insert(0, str(REPO))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memoryGB": round(psutil.virtual_memory().total / 2**30, 1),
        # Anything else running skews every figure here; the 1-minute load says if it was.
        "loadAverage1mAtStart": round(os.getloadavg()[0], 2),
    }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine_line(m: dict[str, Any]) -> str:
    line = f"{m['cpu']}, {m['cores']} cores, Python {m['python']} ({m['platform']})"
    if "loadAverage1mAtStart" in m:
        line += f"; 1-minute load average {m['loadAverage1mAtStart']} at start"
    return line


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float | int]:
    """count / min / median / p95 / max of a sample (seconds in, seconds out)."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min": round(min(values), digits),
        "median": round(statistics.median(values), digits),
        "p95": round(percentile(values, 95), digits),
        "max": round(max(values), digits),
    }


def fmt_summary(s: dict[str, Any], unit: str = "s") -> str:
    if not s.get("count"):
        return "n/a"
    return f"{s['median']} / {s['p95']} / {s['max']} {unit} (n={s['count']})"


def write_results(name: str, results: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """benchmarks/results/{name}.json and .md (the latest run overwrites the previous one)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    md_path = RESULTS / f"{name}.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown)
    return json_path, md_path


def git_commit() -> str:
    """The commit measured (short id, "+dirty" with uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            # Results files are what a run writes, not what it measured.
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!benchmarks/results",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def load_labelled(name: str) -> dict[str, Any]:
    """The labelled measurements (e.g. "before" / "after" a change) already in
    results/{name}.json; a file of the older single-measurement shape holds none."""
    path = RESULTS / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    labels = data.get("labels") if isinstance(data, dict) else None
    return dict(labels) if isinstance(labels, dict) else {}


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


class RssSampler:
    """Peak resident set size of one process, sampled from a thread.

    The kernel's own high-water mark (ru_maxrss / VmHWM) covers the whole process lifetime;
    sampling gives the peak of one phase. Use both: VmHWM cannot miss a short spike.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.01) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.start_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.start_rss = self.process.memory_info().rss
        self.peak = self.start_rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def high_water_mark_bytes(pid: int | None = None) -> int | None:
    """VmHWM from /proc (Linux): the process's peak RSS since it started."""
    try:
        for line in Path(f"/proc/{pid or os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def mb(num_bytes: float | None) -> float | None:
    return None if num_bytes is None else round(num_bytes / 2**20, 1)
