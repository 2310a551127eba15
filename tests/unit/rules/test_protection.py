"""Protection status of a pair against its RPO, as tables of cases, plus a property."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.model.job import JobRecord, JobState
from shared.model.message import Failure
from shared.rules.protection import PairStatus, RpoState, breach_event_key, pair_status, to_api
from tests.unit.rules.test_sweep_plan import at, job, src, tgt

RPO = 60


def status(
    jobs: list[JobRecord],
    now_minutes: float,
    rpo: int | None = RPO,
    pending: float | None = None,
) -> PairStatus:
    return pair_status(
        jobs,
        rpo_minutes=rpo,
        now=at(now_minutes),
        pending_source_created_at=at(pending) if pending is not None else None,
    )


def done(name: str, created: float, finished: float | None = None) -> JobRecord:
    end = at(finished if finished is not None else created + 5)
    return job(name, JobState.SUCCEEDED, created, replication_done_at=end, finished_at=end)


RPO_CASES = [
    ("no RPO set", [done("a", 0)], 500, None, None, RpoState.UNKNOWN),
    ("young copy", [done("a", 0)], 30, RPO, None, RpoState.OK),
    ("just below 75 %", [done("a", 0)], 44.9, RPO, None, RpoState.OK),
    ("75 % of the RPO", [done("a", 0)], 45, RPO, None, RpoState.AT_RISK),
    ("exactly the RPO is not beyond it", [done("a", 0)], 60, RPO, None, RpoState.AT_RISK),
    ("older than the RPO", [done("a", 0)], 60.1, RPO, None, RpoState.BREACHED),
    (
        "the newest recovery point counts, not the latest finish",
        [done("a", 0, finished=100), done("b", 50, finished=60)],
        90,
        RPO,
        None,
        RpoState.OK,
    ),
    (
        "a copy in flight expected after the deadline",
        [done("a", 0), job("b", JobState.REPLICATING, 20, expected_finish=at(70))],
        30,
        RPO,
        None,
        RpoState.AT_RISK,
    ),
    (
        "a copy in flight expected before the deadline",
        [done("a", 0), job("b", JobState.REPLICATING, 20, expected_finish=at(50))],
        30,
        RPO,
        None,
        RpoState.OK,
    ),
    (
        "a copy in flight without an expected finish",
        [done("a", 0), job("b", JobState.STARTING, 20)],
        30,
        RPO,
        None,
        RpoState.OK,
    ),
    (
        "an in-flight copy older than the newest usable one does not count",
        [done("b", 10), job("a", JobState.REPLICATING, 0, expected_finish=at(500))],
        30,
        RPO,
        None,
        RpoState.OK,
    ),
    ("nothing known at all", [], 30, RPO, None, RpoState.AT_RISK),
    ("nothing known, no RPO", [], 30, None, None, RpoState.UNKNOWN),
    (
        "no usable copy yet, within the RPO",
        [job("a", JobState.REPLICATING, 0)],
        30,
        RPO,
        None,
        RpoState.AT_RISK,
    ),
    (
        "no usable copy, the oldest waiting restore point is beyond the RPO",
        [job("a", JobState.WAITING, 0), job("b", JobState.WAITING, 50)],
        61,
        RPO,
        None,
        RpoState.BREACHED,
    ),
    (
        "no usable copy, a failed one counts from its restore point",
        [job("a", JobState.FAILED, 0)],
        61,
        RPO,
        None,
        RpoState.BREACHED,
    ),
    ("no jobs, a pending restore point within the RPO", [], 30, RPO, 0, RpoState.AT_RISK),
    ("no jobs, a pending restore point beyond the RPO", [], 90, RPO, 0, RpoState.BREACHED),
    (
        "no usable copy, no source time: the request time counts",
        [job("a", JobState.QUEUED, None, requested_at=at(0))],
        61,
        RPO,
        None,
        RpoState.BREACHED,
    ),
    (
        "a usable copy without a source time cannot be aged",
        [job("a", JobState.SUCCEEDED, None)],
        10,
        RPO,
        None,
        RpoState.AT_RISK,
    ),
    (
        "a usable copy with a time wins over one without",
        [job("a", JobState.SUCCEEDED, None), done("b", 0)],
        10,
        RPO,
        None,
        RpoState.OK,
    ),
]


@pytest.mark.parametrize(
    ("jobs", "now", "rpo", "pending", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in RPO_CASES],
)
def test_rpo_state(
    jobs: list[JobRecord],
    now: float,
    rpo: int | None,
    pending: float | None,
    expected: RpoState,
) -> None:
    result = status(jobs, now, rpo, pending)
    assert result.rpo_state is expected
    assert result.reason


def test_newest_usable_age_and_deadline() -> None:
    result = status([done("a", 0), done("b", 20, finished=30), done("c", 10, finished=90)], 50)
    assert result.newest_usable is not None
    assert result.newest_usable.job_id == "job-b"
    assert result.newest_usable.source_restore_point_id == src("b")
    assert result.newest_usable.target_restore_point_id == tgt("b")
    assert result.newest_usable.source_created_at == at(20)
    assert result.newest_usable.replication_done_at == at(30)
    assert result.age_minutes == pytest.approx(30)
    assert result.rpo_deadline == at(80)
    assert result.rpo_minutes == RPO


def test_deadline_without_usable_copy_counts_from_the_oldest_known_point() -> None:
    result = status([job("b", JobState.REPLICATING, 20)], 30, pending=10)
    assert result.newest_usable is None
    assert result.age_minutes is None
    assert result.rpo_deadline == at(70)


def test_no_rpo_still_reports_the_age() -> None:
    result = status([done("a", 0)], 500, rpo=None)
    assert (result.rpo_deadline, result.age_minutes) == (None, pytest.approx(500))


def test_age_never_negative() -> None:
    # A source clock ahead of ours must not give a negative age.
    result = status([done("a", 10)], 5)
    assert result.age_minutes == 0.0
    assert result.rpo_state is RpoState.OK


def test_in_flight_and_waiting() -> None:
    jobs = [
        done("a", 0),
        job("c", JobState.REPLICATING, 20, percent=40.0, expected_finish=at(45), started_at=at(21)),
        job("b", JobState.STARTING, 10),
        job("d", JobState.WAITING, 30),
        job("e", JobState.WAITING, 40),
        job("f", JobState.SUPERSEDED, 5),
    ]
    result = status(jobs, 30)
    assert [c.job_id for c in result.in_flight] == ["job-b", "job-c"]
    replicating = result.in_flight[1]
    assert (replicating.state, replicating.percent) == (JobState.REPLICATING, 40.0)
    assert (replicating.expected_finish, replicating.started_at) == (at(45), at(21))
    assert replicating.source_created_at == at(20)
    assert result.waiting == 2


@pytest.mark.parametrize(
    ("jobs", "expected"),
    [
        pytest.param([done("b", 10), job("a", JobState.FAILED, 0)], None, id="older than usable"),
        pytest.param([done("b", 10), job("c", JobState.FAILED, 20)], "job-c", id="newer"),
        pytest.param([job("a", JobState.FAILED, 0)], "job-a", id="no usable copy"),
        pytest.param(
            [
                job("a", JobState.FAILED, 0, finished_at=at(50)),
                job("b", JobState.FAILED, 10, finished_at=at(40)),
            ],
            "job-a",
            id="the most recent failure wins",
        ),
        pytest.param(
            [
                done("b", 10),
                job("c", JobState.FAILED, 20, finished_at=at(40)),
                job("a", JobState.FAILED, 0, finished_at=at(50)),
            ],
            "job-c",
            id="an older restore point failing later is not shown",
        ),
        pytest.param(
            [done("b", 10, finished=15), job("x", JobState.FAILED, None, finished_at=at(20))],
            "job-x",
            id="no source time: failed after the copy became usable",
        ),
        pytest.param(
            [done("b", 10, finished=25), job("x", JobState.FAILED, None, finished_at=at(20))],
            None,
            id="no source time: failed before the copy became usable",
        ),
    ],
)
def test_last_failure(jobs: list[JobRecord], expected: str | None) -> None:
    result = status(jobs, 30)
    assert (result.last_failure.job_id if result.last_failure else None) == expected


def test_last_failure_details() -> None:
    failed = job(
        "a",
        JobState.FAILED,
        0,
        finished_at=at(30),
        runs_failed=2,
        failure=Failure(code="ReplicationFailed", message="no detail from Azure"),
    )
    failure = status([failed], 40).last_failure
    assert failure is not None
    assert (failure.code, failure.message) == ("ReplicationFailed", "no detail from Azure")
    assert (failure.finished_at, failure.runs_failed) == (at(30), 2)
    assert failure.source_restore_point_id == src("a")


@pytest.mark.parametrize(
    ("jobs", "now", "expected"),
    [
        ([done("a", 0)], 30, None),
        ([done("a", 0)], 90, "job-a"),
        ([done("a", 0), done("b", 70)], 200, "job-b"),  # a later breach has a new key
        ([job("a", JobState.WAITING, 0)], 90, "none"),
        ([], 90, None),  # nothing known: at risk, not breached
    ],
)
def test_breach_event_key(jobs: list[JobRecord], now: float, expected: str | None) -> None:
    assert breach_event_key(status(jobs, now)) == expected


def test_breach_key_is_stable_while_the_breach_lasts() -> None:
    jobs = [done("a", 0), job("b", JobState.REPLICATING, 70)]
    keys = {breach_event_key(status(jobs, minutes)) for minutes in (61, 100, 500)}
    assert keys == {"job-a"}


def test_to_api() -> None:
    jobs = [
        done("a", 0),
        job("b", JobState.REPLICATING, 20, percent=50.0, expected_finish=at(70)),
        job("c", JobState.WAITING, 25),
        job("d", JobState.FAILED, 22, failure=Failure(code="X", message="y"), finished_at=at(23)),
    ]
    body = to_api(status(jobs, 30.04))
    assert json.loads(json.dumps(body)) == body
    assert body == {
        "rpoState": "at-risk",
        "rpoMinutes": 60,
        "rpoDeadline": at(60).isoformat(),
        "ageMinutes": 30.0,
        "reason": body["reason"],
        "newestUsable": {
            "jobId": "job-a",
            "sourceRestorePointId": src("a"),
            "targetRestorePointId": tgt("a"),
            "sourceCreatedAt": at(0).isoformat(),
            "replicationDoneAt": at(5).isoformat(),
        },
        "inFlight": [
            {
                "jobId": "job-b",
                "state": "Replicating",
                "sourceRestorePointId": src("b"),
                "percentComplete": 50.0,
                "expectedFinish": at(70).isoformat(),
                "sourceCreatedAt": at(20).isoformat(),
                "run": 1,
            }
        ],
        "waiting": 1,
        "lastFailure": {
            "jobId": "job-d",
            "sourceRestorePointId": src("d"),
            "code": "X",
            "message": "y",
            "finishedAt": at(23).isoformat(),
            "runsFailed": 0,
        },
    }
    assert "expected to finish" in body["reason"]


def test_to_api_with_nothing_known() -> None:
    body = to_api(status([], 0, rpo=None))
    assert body["rpoState"] == "unknown"
    assert body["newestUsable"] is None
    assert body["lastFailure"] is None
    assert (body["inFlight"], body["waiting"], body["ageMinutes"]) == ([], 0, None)


def test_naive_now_is_utc() -> None:
    jobs = [done("a", 0)]
    naive = pair_status(jobs, rpo_minutes=RPO, now=at(50).replace(tzinfo=None))
    assert naive == status(jobs, 50)


# --------------------------------------------------------------------------------------------
# Properties

_ORDER = {RpoState.OK: 0, RpoState.AT_RISK: 1, RpoState.BREACHED: 2}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 300), max_size=5),
    st.lists(st.integers(0, 300), max_size=3),
    st.integers(1, 240),
)
def test_rpo_state_only_worsens_as_time_passes(
    copied: list[int], waiting: list[int], rpo: int
) -> None:
    """With the jobs unchanged, a pair never gets better protected by waiting."""
    jobs = [done(f"c{i}", m) for i, m in enumerate(copied)]
    jobs += [job(f"w{i}", JobState.WAITING, m) for i, m in enumerate(waiting)]
    ranks = [_ORDER[status(jobs, now, rpo).rpo_state] for now in range(0, 700, 35)]
    assert ranks == sorted(ranks)
    final = status(jobs, 10_000, rpo)
    assert final.rpo_state is (RpoState.BREACHED if jobs else RpoState.AT_RISK)


@pytest.mark.parametrize(
    ("next_attempt", "state"),
    [(30, RpoState.OK), (61, RpoState.AT_RISK)],
    ids=["tries before the deadline", "tries after the deadline"],
)
def test_a_copy_waiting_for_the_copy_put_budget_counts_against_the_rpo(
    next_attempt: float, state: RpoState
) -> None:
    """WaitingForBudget: the copy cannot start, let alone finish, before its next attempt."""
    waiting = job("b", JobState.WAITING_FOR_BUDGET, 20, next_attempt_at=at(next_attempt))
    found = status([done("a", 0), waiting], 10)
    assert found.rpo_state is state
    (in_flight,) = to_api(found)["inFlight"]
    assert in_flight["state"] == "WaitingForBudget"
    assert in_flight["nextAttemptAt"] == at(next_attempt).isoformat()
    if state is RpoState.AT_RISK:
        assert "copy-PUT budget" in found.reason
