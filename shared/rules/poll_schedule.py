"""Pure decision: how long to wait before polling a copy's replication status again.

Azure publishes progress about every 10 minutes and it may jump from 0 to 100, so:
- start near `initial_seconds` (a small copy can finish within the first progress interval);
- back off exponentially toward the progress granularity, never past `max_seconds`;
- once progress has moved at least twice, estimate the finish from the observed rate and aim
  at it (never sooner than `min_seconds`, never later than the backoff bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.model.message import PollState
from shared.settings import PollSettings


@dataclass(frozen=True)
class PollPlan:
    delay_seconds: float
    expected_finish: datetime | None
    reason: str


def observe(state: PollState, now: datetime, percent: float | None) -> PollState:
    """Fold one observation into the poll history."""
    changes: dict[str, object] = {"count": state.count + 1, "last_polled_at": now}
    if state.started_at is None:
        changes["started_at"] = now
    if percent is not None:
        if state.first_percent is None:
            changes["first_percent"] = percent
            changes["first_percent_at"] = now
        if state.last_percent is None or percent != state.last_percent:
            changes["last_percent"] = percent
            changes["last_progress_at"] = now
    return state.model_copy(update=changes)


_LONGEST_ESTIMATE_SECONDS = 15 * 24 * 3600.0


def expected_finish(state: PollState) -> datetime | None:
    """Linear estimate from the first and the latest progress change, if progress has moved."""
    if (
        state.first_percent is None
        or state.first_percent_at is None
        or state.last_percent is None
        or state.last_progress_at is None
    ):
        return None
    gained = state.last_percent - state.first_percent
    elapsed = (state.last_progress_at - state.first_percent_at).total_seconds()
    if gained <= 0 or elapsed <= 0 or state.last_percent >= 100:
        return None
    rate = gained / elapsed
    if rate <= 0:  # a gain so small that the rate underflows says nothing about the finish
        return None
    remaining = (100 - state.last_percent) / rate
    if remaining > _LONGEST_ESTIMATE_SECONDS:
        return None  # beyond Azure's 14-day copy limit the estimate means nothing
    return state.last_progress_at + timedelta(seconds=remaining)


def next_poll(state: PollState, now: datetime, settings: PollSettings) -> PollPlan:
    """Delay before the next poll, given the history including the observation just made."""
    granularity = max(settings.progress_granularity_seconds, settings.min_seconds)
    ceiling = min(settings.max_seconds, granularity)
    floor = min(settings.min_seconds, ceiling)
    # initial * 2**(count-1); a copy can be polled ~2000 times, past what a float holds.
    try:
        backoff = math.ldexp(settings.initial_seconds, max(state.count - 1, 0))
    except OverflowError:
        backoff = math.inf
    bound = max(min(backoff, ceiling), floor)
    finish = expected_finish(state)
    if finish is None:
        reason = "initial" if state.count <= 1 else "backoff"
        return PollPlan(bound, None, reason)
    until_finish = (finish - now).total_seconds()
    if until_finish <= floor:
        return PollPlan(floor, finish, "expected finish is near")
    if until_finish < bound:
        return PollPlan(until_finish, finish, "aiming at the expected finish")
    return PollPlan(bound, finish, "expected finish is beyond the backoff bound")
