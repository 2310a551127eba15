"""`python -m drills.host_shim ARGS`: the local function host (`python -m devhost ARGS`) with a
shorter receive lock on queue messages.

The Storage queues extension (and devhost, `devhost.queue_listener.LOCK_SECONDS`) receives a
message under a 10-minute visibility lock and renews it at half time while the function runs.
When a host is killed, the messages it held come back only when their lock runs out. The crash
drill kills hosts dozens of times, so it shortens the lock (`DRILL_QUEUE_LOCK_SECONDS`) to keep a
run within minutes; everything else is devhost exactly as devstack starts it. The lock is still
renewed at half time, so a long invocation never loses its message to another host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from devhost import queue_listener
from devhost.cli import main

LOCK_SETTING = "DRILL_QUEUE_LOCK_SECONDS"


def apply_lock_setting(environ: Mapping[str, str] = os.environ) -> int:
    """Set the queue listener's receive lock from the environment; returns the lock in force."""
    value = environ.get(LOCK_SETTING)
    if value:
        seconds = int(value)
        if seconds < 2:
            raise SystemExit(f"{LOCK_SETTING} must be at least 2 seconds, not {value!r}")
        queue_listener.LOCK_SECONDS = seconds
    return int(queue_listener.LOCK_SECONDS)


if __name__ == "__main__":
    apply_lock_setting()
    raise SystemExit(main())
