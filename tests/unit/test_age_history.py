"""The copy-age series of the status page's chart: a saw that drops when a newer copy lands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.model.job import JobRecord, JobState
from shared.model.message import Trigger
from shared.rules.age_history import AgePoint, age_series

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _job(
    created: float | None, usable: float | None, state: JobState = JobState.SUCCEEDED
) -> JobRecord:
    return JobRecord(
        job_id=f"{int((created or 0) * 1000):032x}"[-32:],
        run=1,
        state=state,
        source_restore_point_id=f"rp-{created}",
        source_collection_id="c",
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg",
        target_collection_name="c-westus",
        target_restore_point_name="rp",
        trigger=Trigger.SWEEP,
        correlation_id="x",
        requested_at=_at(0),
        updated_at=_at(0),
        source_created_at=_at(created) if created is not None else None,
        replication_done_at=_at(usable) if usable is not None else None,
    )


def _points(series: list[AgePoint]) -> list[tuple[float, float]]:
    return [((p.at - T0).total_seconds() / 60, p.age_minutes) for p in series]


@pytest.mark.parametrize(
    ("jobs", "since", "now", "expected"),
    [
        # never a usable copy: nothing to draw
        ([], 0, 100, []),
        ([_job(10, None, JobState.REPLICATING), _job(5, 50, JobState.FAILED)], 0, 100, []),
        # one copy inside the window: it appears when it becomes usable, then ages
        ([_job(10, 30)], 0, 100, [(30, 20), (100, 90)]),
        # a copy usable before the window: the window starts with its age
        ([_job(10, 30)], 60, 100, [(60, 50), (100, 90)]),
        # a newer copy lands: two points at the drop (just before, just after)
        ([_job(10, 30), _job(60, 80)], 0, 100, [(30, 20), (80, 70), (80, 20), (100, 40)]),
        # input order does not matter
        ([_job(60, 80), _job(10, 30)], 0, 100, [(30, 20), (80, 70), (80, 20), (100, 40)]),
        # an older recovery point landing later does not lower the age
        ([_job(60, 80), _job(10, 90)], 0, 100, [(80, 20), (100, 40)]),
        # a copy that becomes usable after `now` is not drawn yet
        ([_job(10, 30), _job(60, 120)], 0, 100, [(30, 20), (100, 90)]),
        # unknown source time: its age cannot be known, so it is left out
        ([_job(None, 30)], 0, 100, []),
        # superseded / waiting jobs are never usable copies
        ([_job(10, 30, JobState.SUPERSEDED)], 0, 100, []),
    ],
)
def test_age_series(
    jobs: list[JobRecord], since: float, now: float, expected: list[tuple[float, float]]
) -> None:
    assert _points(age_series(jobs, since=_at(since), now=_at(now))) == expected


def test_ages_are_never_negative() -> None:
    # A restore point whose clock is ahead of ours (skew) still draws at age 0, not below.
    series = age_series([_job(50, 40)], since=_at(0), now=_at(45))
    assert [p.age_minutes for p in series] == [0, 0]
