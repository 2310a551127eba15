"""The process's work counts in a file, for the benchmarks (setting WORK_COUNTS_DIR).

Every second a daemon thread rewrites `<WORK_COUNTS_DIR>/<pid>.json` (atomically: a temp file,
then a rename) with the ARM requests sent by operation (`shared.arm.client.call_counts`), the
storage transactions by kind (`shared.storage.counting`) and the process's CPU time.
The counting itself is always on; this only makes it visible to another process. Nothing
secret is in it: names and numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from shared.arm.client import call_counts
from shared.storage import counting

_started: set[str] = set()
_lock = threading.Lock()


def current() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "armCalls": call_counts(),
        "storageTransactions": counting.snapshot(),
        "cpuSeconds": round(time.process_time(), 3),
    }


def path_for(directory: str, pid: int | None = None) -> Path:
    return Path(directory) / f"{pid or os.getpid()}.json"


def write(directory: str) -> None:
    target = path_for(directory)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(current(), sort_keys=True))
    temp.replace(target)


def start_writer(path: str, interval: float = 1.0) -> None:
    """Keep this process's file in directory `path` current from now on (once per process)."""
    with _lock:
        if path in _started:
            return
        _started.add(path)

    def run() -> None:
        while True:
            with contextlib.suppress(OSError):  # a benchmark aid: never the app's problem
                write(path)
            time.sleep(interval)

    threading.Thread(target=run, name="work-counts", daemon=True).start()
