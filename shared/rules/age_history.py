"""Pure: a pair's copy age over time, for the status page's chart.

The age at time t is `t - source creation time of the newest copy usable at t` (the data a
failover at t would lose; the same age `rules/protection.py` judges against the RPO). It grows
with the clock and drops when a newer copy becomes usable, so the series is a saw: at each drop
two points share one time, the age just before and just after. Built from the pair's ledger jobs
only (Succeeded jobs with a known source time); retention deleting a copy later does not rewrite
the past.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.model.job import JobRecord, JobState
from shared.model.times import utc


@dataclass(frozen=True)
class AgePoint:
    at: datetime
    age_minutes: float


def _minutes(later: datetime, earlier: datetime) -> float:
    return round(max((later - earlier).total_seconds() / 60.0, 0.0), 2)


def age_series(jobs: Iterable[JobRecord], *, since: datetime, now: datetime) -> list[AgePoint]:
    """The age points from `since` to `now` (empty while the pair never had a usable copy)."""
    since, now = utc(since) or since, utc(now) or now
    usable: list[tuple[datetime, datetime]] = []
    for job in jobs:
        created = utc(job.source_created_at)
        became_usable = utc(job.replication_done_at) or utc(job.finished_at)
        if job.state is JobState.SUCCEEDED and created is not None and became_usable is not None:
            usable.append((became_usable, created))
    usable.sort()

    newest: datetime | None = None
    points: list[AgePoint] = []
    for at, created in usable:
        if at > now:
            break
        if at <= since:
            newest = created if newest is None else max(newest, created)
            continue
        if newest is not None and created <= newest:
            continue  # an older recovery point than one already usable: the age does not drop
        if not points and newest is not None:
            points.append(AgePoint(since, _minutes(since, newest)))
        if newest is not None:
            points.append(AgePoint(at, _minutes(at, newest)))
        newest = created
        points.append(AgePoint(at, _minutes(at, newest)))
    if newest is not None:
        if not points:
            points.append(AgePoint(since, _minutes(since, newest)))
        points.append(AgePoint(now, _minutes(now, newest)))
    return points
