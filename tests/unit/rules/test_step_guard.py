"""shared/step_guard.py: whether a stage acts on a message, given the job's ledger row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage, Trigger
from shared.rules.step_guard import Verdict, decide, repeats_a_taken_step

JOB = "0123456789abcdef0123456789abcdef"
RP = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers"
    "/Microsoft.Compute/restorePointCollections/rpc1/restorePoints/rp1"
)
T0 = datetime(2025, 1, 1, tzinfo=UTC)

S = JobState
P, R, D, M = Verdict.PROCESS, Verdict.RESEND, Verdict.DROP, Verdict.MISSING


def record(state: JobState, *, step: int = 3, run: int = 1, outbox_sent: bool = True) -> JobRecord:
    return JobRecord(
        job_id=JOB,
        run=run,
        state=state,
        source_restore_point_id=RP,
        source_collection_id=RP.rsplit("/restorePoints/", 1)[0],
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg",
        target_collection_name="rpc1-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.HTTP,
        correlation_id="c",
        requested_at=T0,
        updated_at=T0,
        step=step,
        outbox_sent=outbox_sent,
    )


def message(stage: Stage, *, step: int = 3, run: int = 1) -> JobMessage:
    return JobMessage(
        job_id=JOB,
        run=run,
        step=step,
        stage=stage,
        source_restore_point_id=RP,
        target_region="westus",
        target_resource_group="rg",
        target_collection_name="rpc1-westus",
        target_restore_point_name="rp1",
        correlation_id="c",
        trigger=Trigger.HTTP,
        requested_at=T0,
    )


# Which (state, stage) pairs are processed when the row is at the message's step.
_APPLIES = {
    Stage.ENSURE_TARGET: {S.QUEUED, S.CREATING_TARGET},
    # A start that waits for the copy-PUT budget re-sends itself in WaitingForBudget.
    Stage.START_COPY: {S.STARTING, S.WAITING_FOR_BUDGET},
    Stage.POLL: {S.REPLICATING},
    Stage.FINISH: {
        S.QUEUED,
        S.WAITING,
        S.CREATING_TARGET,
        S.STARTING,
        S.WAITING_FOR_BUDGET,
        S.REPLICATING,
        S.RERUN_PENDING,
    },
    Stage.RERUN: {S.RERUN_PENDING},
}


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("state", list(JobState))
def test_same_step_every_state_and_stage(state: JobState, stage: Stage) -> None:
    decision = decide(record(state), message(stage))
    expected = P if state in _APPLIES[stage] else D
    assert decision.verdict is expected
    if state.terminal:
        assert decision.verdict is D
        assert state.value in decision.reason
    elif expected is D:
        assert stage.value in decision.reason
        assert state.value in decision.reason


# (record state, record step, record run, record outbox_sent, message stage, step, run) -> verdict
_TABLE = [
    # at the message's step
    (S.QUEUED, 0, 1, True, Stage.ENSURE_TARGET, 0, 1, P),
    (S.CREATING_TARGET, 1, 1, True, Stage.ENSURE_TARGET, 1, 1, P),
    (S.STARTING, 2, 1, True, Stage.START_COPY, 2, 1, P),
    (S.REPLICATING, 9, 1, True, Stage.POLL, 9, 1, P),
    (S.REPLICATING, 9, 1, False, Stage.POLL, 9, 1, P),  # outbox state is irrelevant here
    (S.REPLICATING, 9, 1, True, Stage.FINISH, 9, 1, P),
    (S.WAITING, 4, 1, True, Stage.FINISH, 4, 1, P),
    (S.WAITING, 4, 1, True, Stage.ENSURE_TARGET, 4, 1, D),
    (S.STARTING, 2, 1, True, Stage.POLL, 2, 1, D),
    (S.REPLICATING, 2, 1, True, Stage.START_COPY, 2, 1, D),
    (S.SUCCEEDED, 5, 1, True, Stage.FINISH, 5, 1, D),
    (S.FAILED, 5, 1, False, Stage.POLL, 5, 1, D),
    (S.SUPERSEDED, 5, 1, True, Stage.ENSURE_TARGET, 5, 1, D),
    # the row moved on by one and its outbox did not go out: send it again
    (S.STARTING, 2, 1, False, Stage.ENSURE_TARGET, 1, 1, R),
    (S.REPLICATING, 3, 1, False, Stage.START_COPY, 2, 1, R),
    (S.REPLICATING, 8, 1, False, Stage.POLL, 7, 1, R),
    (S.SUCCEEDED, 10, 1, False, Stage.FINISH, 9, 1, R),  # the outcome event is still owed
    (S.FAILED, 10, 1, False, Stage.POLL, 9, 1, R),
    # ... but once it was sent, the message is a duplicate
    (S.STARTING, 2, 1, True, Stage.ENSURE_TARGET, 1, 1, D),
    (S.SUCCEEDED, 10, 1, True, Stage.FINISH, 9, 1, D),
    # further behind, or ahead of the row: stale or impossible
    (S.REPLICATING, 8, 1, False, Stage.POLL, 6, 1, D),
    (S.REPLICATING, 8, 1, True, Stage.POLL, 0, 1, D),
    (S.REPLICATING, 8, 1, False, Stage.POLL, 9, 1, D),
    (S.QUEUED, 0, 1, False, Stage.ENSURE_TARGET, 1, 1, D),
    # another run of the job: always dropped, whatever the steps
    (S.QUEUED, 6, 2, True, Stage.ENSURE_TARGET, 6, 1, D),
    (S.QUEUED, 6, 2, False, Stage.POLL, 5, 1, D),
    (S.REPLICATING, 3, 1, True, Stage.POLL, 3, 2, D),
    (S.FAILED, 5, 1, False, Stage.FINISH, 4, 2, D),
]


@pytest.mark.parametrize(
    ("state", "rstep", "rrun", "sent", "stage", "mstep", "mrun", "verdict"), _TABLE
)
def test_decide(
    state: JobState,
    rstep: int,
    rrun: int,
    sent: bool,
    stage: Stage,
    mstep: int,
    mrun: int,
    verdict: Verdict,
) -> None:
    decision = decide(
        record(state, step=rstep, run=rrun, outbox_sent=sent),
        message(stage, step=mstep, run=mrun),
    )
    assert decision.verdict is verdict
    assert decision.reason


@pytest.mark.parametrize("stage", list(Stage))
def test_missing_record(stage: Stage) -> None:
    decision = decide(None, message(stage))
    assert decision.verdict is M
    assert JOB in decision.reason


def test_reasons_name_the_mismatch() -> None:
    other_run = decide(record(S.QUEUED, run=2), message(Stage.ENSURE_TARGET, run=1))
    assert "run 1" in other_run.reason
    assert "run 2" in other_run.reason
    stale = decide(record(S.REPLICATING, step=8), message(Stage.POLL, step=5))
    assert "step 5" in stale.reason
    assert "step 8" in stale.reason


# Which dropped messages repeat a step the job took (may vanish) and which name one it never
# took (must end as a failed placeholder job): (row step, row run, message step, message run).
@pytest.mark.parametrize(
    ("rstep", "rrun", "mstep", "mrun", "taken"),
    [
        (8, 1, 7, 1, True),
        (8, 1, 0, 1, True),
        (6, 2, 9, 1, True),  # any step of an earlier run
        (8, 1, 8, 1, False),  # the row's own step: another stage's turn, or a job that ended
        (8, 1, 9, 1, False),
        (8, 1, 3, 2, False),  # a run the job never had
    ],
)
def test_repeats_a_taken_step(rstep: int, rrun: int, mstep: int, mrun: int, taken: bool) -> None:
    row = record(S.SUCCEEDED, step=rstep, run=rrun)
    assert repeats_a_taken_step(row, message(Stage.POLL, step=mstep, run=mrun)) is taken


def test_a_message_in_flight_when_its_job_was_cancelled_is_dropped_as_such() -> None:
    """Cancel moves the row one step on; the stage messages still queued name the step before."""
    cancelled = record(S.CANCELLED).evolve(step=record(S.CANCELLED).step + 1)
    for stage in Stage:
        decision = decide(cancelled, message(stage))
        assert decision.verdict is D
        assert "cancelled" in decision.reason
