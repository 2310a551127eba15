"""x-ms-ratelimit-remaining-* headers: ARM's per-subscription token buckets (reporting only).

ARM (2024+) refills per-subscription buckets (reads 250 at 25/s, writes and deletes 200 at 10/s)
[DOC §6]; the emulator reports the remaining tokens but never throttles on them. Throttling that
matters to the product (3 copy PUTs per hour per target collection) lives in `rules.py`.
"""

from __future__ import annotations

import time

BUCKETS: dict[str, tuple[float, float]] = {
    "reads": (250.0, 25.0),
    "writes": (200.0, 10.0),
    "deletes": (200.0, 10.0),
}


class RateLimitCounters:
    def __init__(self) -> None:
        self._state: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, subscription: str, kind: str) -> int:
        capacity, refill = BUCKETS[kind]
        now = time.monotonic()
        tokens, last = self._state.get((subscription, kind), (capacity, now))
        tokens = min(capacity, tokens + (now - last) * refill)
        tokens = max(0.0, tokens - 1)
        self._state[(subscription, kind)] = (tokens, now)
        return int(tokens)

    def clear(self) -> None:
        self._state.clear()
