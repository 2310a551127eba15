"""ARM's subscription throttling: token buckets per (subscription, ARM region, kind).

ARM (2024+) refills per-subscription buckets per region: reads 250 at 25/s, writes and deletes
200 at 10/s [DOC §6]. Each answer reports the remaining tokens in
`x-ms-ratelimit-remaining-subscription-{reads|writes|deletes}`; with `armThrottling` on, also in
the newer `x-ms-ratelimit-remaining-subscription-global-{reads|writes|deletes}`, and an empty
bucket answers 429 `SubscriptionRequestsThrottled` with `Retry-After` (the request is not
processed and takes no token). Off by default: the headers are reported, nothing is refused.
The buckets run on REAL time (request rates are real even when the simulated clock is scaled).
The restore-point-specific limit (3 copy PUTs per hour per target collection) is in `rules.py`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .config import EmulatorConfig
from .errors import ArmError

KINDS = ("reads", "writes", "deletes")
VERBS = {"reads": "read", "writes": "write", "deletes": "delete"}


def kind_of(method: str) -> str:
    return "reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes"


def bucket(cfg: EmulatorConfig, kind: str) -> tuple[float, float]:
    """(capacity, refill per second) of one kind of request."""
    return {
        "reads": (cfg.arm_read_bucket, cfg.arm_read_refill),
        "writes": (cfg.arm_write_bucket, cfg.arm_write_refill),
        "deletes": (cfg.arm_delete_bucket, cfg.arm_delete_refill),
    }[kind]


class RateLimitCounters:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._state: dict[tuple[str, str, str], tuple[float, float]] = {}

    def _tokens(self, key: tuple[str, str, str], capacity: float, refill: float) -> float:
        now = self.clock()
        tokens, last = self._state.get(key, (capacity, now))
        return min(capacity, tokens + max(0.0, now - last) * refill)

    def take(self, subscription: str, kind: str, cfg: EmulatorConfig, region: str = "") -> int:
        """Take one token; the tokens left. Raises 429 when throttling is on and none is left."""
        capacity, refill = bucket(cfg, kind)
        key = (subscription, region, kind)
        tokens = self._tokens(key, capacity, refill)
        if tokens < 1 and cfg.arm_throttling:
            self._state[key] = (tokens, self.clock())
            wait = math.ceil((1 - tokens) / refill) if refill > 0 else 3600
            raise throttled(subscription, kind, max(1, wait))
        tokens = max(0.0, tokens - 1)
        self._state[key] = (tokens, self.clock())
        return int(tokens)

    def clear(self) -> None:
        self._state.clear()


def throttled(subscription: str, kind: str, retry_after: int) -> ArmError:
    # ARM's own answer (request-limits-and-throttling doc): 429 + Retry-After in seconds.
    return ArmError(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{VERBS[kind]}' requests for subscription '{subscription}' exceeded. Please "
        f"try again after '{retry_after}' seconds after additional tokens are available. Refer "
        "to https://aka.ms/arm-throttling for additional information.",
        headers={"Retry-After": str(retry_after)},
    )


def headers(kind: str, remaining: int, cfg: EmulatorConfig) -> list[tuple[bytes, bytes]]:
    value = str(remaining).encode()
    out = [(f"x-ms-ratelimit-remaining-subscription-{kind}".encode(), value)]
    if cfg.arm_throttling:
        out.append((f"x-ms-ratelimit-remaining-subscription-global-{kind}".encode(), value))
    return out
