"""Restore drills' pure decisions as tables: drill status, due, schedule slots, which copy,
disk checks and leftovers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.model.drills import DrillPair, DrillPhase, DrillRecord, DrillState, new_drill_id
from shared.model.job import JobRecord, JobState
from shared.model.message import Trigger
from shared.rules.drills import (
    DrillStatus,
    disk_problems,
    drill_copy,
    drill_due,
    drill_status,
    is_leftover,
    schedule_slot,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = 86400.0
PAIR = DrillPair(source_collection_id="/subscriptions/s/x", target_region="westus")


def drill(state: str, hours_ago: float, name: str = "") -> DrillRecord:
    started = NOW - timedelta(hours=hours_ago)
    terminal = state != "Running"
    return DrillRecord(
        id=new_drill_id(started, name or f"{state}{hours_ago}"),
        state=DrillState(state),
        phase=DrillPhase.DONE if terminal else DrillPhase.WAIT,
        pair=PAIR,
        trigger="http",
        subscription_id="s",
        resource_group="rg",
        started_at=started,
        updated_at=started,
        finished_at=started + timedelta(minutes=5) if terminal else None,
    )


@pytest.mark.parametrize(
    ("drills", "interval", "status"),
    [
        ([], DAY, DrillStatus.UNTESTED),
        ([], None, DrillStatus.UNTESTED),
        ([drill("Succeeded", 2)], DAY, DrillStatus.PASSED),
        ([drill("Succeeded", 30)], DAY, DrillStatus.UNTESTED),  # older than the interval
        ([drill("Succeeded", 30)], None, DrillStatus.PASSED),  # no interval: any success
        ([drill("Succeeded", 5), drill("Failed", 2)], DAY, DrillStatus.FAILED),
        ([drill("Failed", 5), drill("Succeeded", 2)], DAY, DrillStatus.PASSED),
        ([drill("Running", 0.1)], DAY, DrillStatus.UNTESTED),
        ([drill("Succeeded", 3), drill("Running", 0.1)], DAY, DrillStatus.PASSED),
        ([drill("Failed", 1)], None, DrillStatus.FAILED),
    ],
)
def test_drill_status(drills: list[DrillRecord], interval: float | None, status: DrillStatus):
    result = drill_status(drills, interval_seconds=interval, now=NOW)
    assert result.status is status
    ok = [d for d in drills if d.state is DrillState.SUCCEEDED]
    assert result.last_succeeded_at == (max(d.finished_at for d in ok) if ok else None)
    newest = max(drills, key=lambda d: d.started_at, default=None)
    assert result.last_drill_id == (newest.id if newest else None)
    assert set(result.to_api()) == {"status", "lastSucceededAt", "lastDrillId"}


@pytest.mark.parametrize(
    ("drills", "due"),
    [
        ([], True),
        ([drill("Succeeded", 2)], False),
        ([drill("Failed", 2)], False),  # a failed drill is not re-run before its interval
        ([drill("Succeeded", 25)], True),
        ([drill("Running", 30)], False),  # never two at once
    ],
)
def test_drill_due(drills: list[DrillRecord], due: bool) -> None:
    assert drill_due(drills, interval_seconds=DAY, now=NOW) is due


def test_schedule_slots_are_stable_within_an_interval() -> None:
    a = schedule_slot(NOW, 3600)
    b = schedule_slot(NOW + timedelta(minutes=59), 3600)
    c = schedule_slot(NOW + timedelta(minutes=61), 3600)
    assert a == b == NOW
    assert c == NOW + timedelta(hours=1)


def test_drill_ids_sort_newest_first() -> None:
    older = new_drill_id(NOW, "a")
    newer = new_drill_id(NOW + timedelta(seconds=1), "a")
    assert newer < older
    assert len(older) == 32
    assert older != new_drill_id(NOW, "b")


def job(state: JobState, created_hours_ago: float, rp: str | None = "rp") -> JobRecord:
    return JobRecord(
        job_id=f"{state.value}{created_hours_ago}",
        run=1,
        state=state,
        source_restore_point_id="src",
        source_collection_id="/c",
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg",
        target_collection_name="c",
        target_restore_point_name="t",
        trigger=Trigger.HTTP,
        correlation_id="x",
        requested_at=NOW,
        updated_at=NOW,
        target_restore_point_id=rp and f"{rp}{created_hours_ago}",
        source_created_at=NOW - timedelta(hours=created_hours_ago),
    )


def test_a_drill_proves_the_newest_usable_copy() -> None:
    jobs = [
        job(JobState.SUCCEEDED, 5),
        job(JobState.SUCCEEDED, 2),
        job(JobState.FAILED, 1),
        job(JobState.REPLICATING, 0.5),
    ]
    chosen = drill_copy(jobs)
    assert chosen is not None
    assert chosen.target_restore_point_id == "rp2"
    assert drill_copy([job(JobState.FAILED, 1)]) is None
    assert drill_copy([job(JobState.SUCCEEDED, 1, rp=None)]) is None


GOOD = {
    "provisioning_state": "Succeeded",
    "location": "westus",
    "size_gb": 128,
    "source_resource_id": "/drp/A",
    "expected_region": "westus",
    "expected_size_gb": 128,
    "expected_source": "/drp/a",
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"provisioning_state": "Failed"}, "provisioningState"),
        ({"provisioning_state": None}, "provisioningState"),
        ({"location": "eastus"}, "target region"),
        ({"size_gb": 64}, "64 GB"),
        ({"expected_size_gb": None, "size_gb": 1}, None),  # the source size is unknown
        ({"source_resource_id": "/other"}, "restored from"),
    ],
)
def test_disk_checks(change: dict[str, object], problem: str | None) -> None:
    problems = disk_problems(**{**GOOD, **change})  # type: ignore[arg-type]
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


@pytest.mark.parametrize(
    ("record", "age_hours", "leftover"),
    [
        (None, 0, True),
        (drill("Succeeded", 1), 0, True),
        (drill("Failed", 1), 0, True),
        (drill("Running", 0.1), 0.1, False),
        (drill("Running", 3), 3, True),  # older than the bound: its drill is stuck
    ],
)
def test_leftovers(record: DrillRecord | None, age_hours: float, leftover: bool) -> None:
    created = NOW - timedelta(hours=age_hours)
    assert is_leftover(record, disk_created_at=created, now=NOW, bound=7200) is leftover
