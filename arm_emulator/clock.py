"""The virtual clock: simulated time = start + real elapsed x time_scale + manual advances.

All emulator state is stamped in simulated epoch seconds (float); ARM renders timestamps with seven
fractional digits and a `+00:00` offset [WIRE], Event Grid with seven digits and `Z` [EX].
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime


class VirtualClock:
    def __init__(self, time_scale: float = 1.0, start: float | None = None) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._scale = float(time_scale)
        self._real0 = time.monotonic()
        self._sim0 = time.time() if start is None else start
        self._advanced = 0.0

    @property
    def time_scale(self) -> float:
        return self._scale

    @property
    def advanced_seconds(self) -> float:
        return self._advanced

    def now(self) -> float:
        return self._sim0 + (time.monotonic() - self._real0) * self._scale + self._advanced

    def advance(self, seconds: float) -> float:
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError("the clock only moves forward by a finite number of seconds")
        self._advanced += seconds
        return self.now()

    def set_time_scale(self, time_scale: float) -> None:
        if time_scale < 0 or not math.isfinite(time_scale):
            raise ValueError("time_scale must be a finite number >= 0")
        # Re-anchor so simulated time is continuous across the change.
        now = self.now()
        self._real0 = time.monotonic()
        self._sim0 = now - self._advanced
        self._scale = float(time_scale)

    def real_seconds(self, simulated: float) -> float:
        """How long `simulated` seconds take in real time (inf when the clock is frozen)."""
        if simulated <= 0:
            return 0.0
        return simulated / self._scale if self._scale > 0 else math.inf

    def retry_after(self, simulated: float) -> int:
        """A Retry-After header value in REAL seconds: ceil(simulated / time_scale), at least 1.

        With a frozen clock (time_scale 0) the simulated seconds are returned: nothing will pass
        on its own, and the caller is expected to advance the clock.
        """
        if self._scale <= 0:
            return max(1, math.ceil(simulated))
        return max(1, math.ceil(simulated / self._scale))


def format_arm(ts: float) -> str:
    """2023-10-20T03:44:14.3026769+00:00"""
    return _format(ts) + "+00:00"


def format_event(ts: float) -> str:
    """2018-07-19T18:38:04.6117357Z"""
    return _format(ts) + "Z"


def _format(ts: float) -> str:
    ticks = round(ts * 10_000_000)
    seconds, fraction = divmod(ticks, 10_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{fraction:07d}"


_routing_cache: tuple[int, str] = (-1, "")


def format_routing(ts: float) -> str:
    """yyyyMMddTHHmmssZ, as in x-ms-routing-request-id (cached per second: it is on every reply)."""
    global _routing_cache
    second = int(ts)
    if _routing_cache[0] != second:
        _routing_cache = (second, datetime.fromtimestamp(second, UTC).strftime("%Y%m%dT%H%M%SZ"))
    return _routing_cache[1]


def parse_time(value: str) -> float:
    """Parse an ISO-8601 timestamp (any number of fractional digits, Z or offset)."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    frac = ""
    if "." in text:
        head, tail = text.split(".", 1)
        digits = ""
        while tail and tail[0].isdigit():
            digits, tail = digits + tail[0], tail[1:]
        text, frac = head + tail, digits
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() + (float("0." + frac) if frac else 0.0)
