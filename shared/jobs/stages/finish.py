"""Stage 4: record the outcome in the ledger and emit the completion or failure event; then free
the pair for the next restore point and, for policy copies, apply retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shared.jobs.stages.step import Announce, FollowUp, Result, Step, send, step
from shared.model.events import EventType
from shared.model.job import JobRecord, JobState
from shared.model.message import Failure, JobMessage, Outcome, Stage, Trigger
from shared.rules.reruns import RerunPlan, plan_rerun
from shared.services import Services
from shared.settings import Settings

EVENT_FOR_OUTCOME = {
    "Succeeded": EventType.SUCCEEDED,
    "Failed": EventType.FAILED,
    "Superseded": EventType.SUPERSEDED,
}


async def run(services: Services, message: JobMessage, record: JobRecord) -> Step:
    return finish_step(message, record, services.clock(), services.settings)


def finish_step(message: JobMessage, record: JobRecord, now: datetime, settings: Settings) -> Step:
    outcome = message.outcome or Outcome(
        state="Failed",
        failure=Failure(
            code="InvalidMessage", message="finish message without an outcome", stage=Stage.FINISH
        ),
    )
    state = JobState(outcome.state)
    if state is JobState.FAILED and outcome.failure is not None:
        plan = plan_rerun(
            outcome.failure,
            run=record.run,
            reruns_so_far=record.reruns,
            requested_at=record.requested_at,
            now=now,
            policy=settings.reruns,
        )
        if plan is not None:
            return _rerun_step(message, record, outcome, plan, now)
    succeeded = state is JobState.SUCCEEDED
    after = [FollowUp.RELEASE_PAIR]
    if succeeded and record.trigger is not Trigger.HTTP:
        # Policy-driven copies prune their target now; the sweep covers manual ones.
        after.append(FollowUp.RETENTION)
    return step(
        Result.FINISHED,
        {
            "state": state,
            "finished_at": now,
            "failure": None if succeeded else outcome.failure,
            "disks": outcome.disks or record.disks,
            "replication_done_at": outcome.replication_done_at or record.replication_done_at,
            "percent": 100.0 if succeeded else record.percent,
            "expected_finish": None,
            "next_attempt_at": None,
            "attempts": {**record.attempts, **message.attempts},
            "runs_failed": record.runs_failed + (1 if state is JobState.FAILED else 0),
        },
        Announce(EVENT_FOR_OUTCOME[outcome.state]),
        after=tuple(after),
    )


def _rerun_step(
    message: JobMessage, record: JobRecord, outcome: Outcome, plan: RerunPlan, now: datetime
) -> Step:
    """The run failed and another follows: record this run's failure, announce the next run,
    free the pair, and wake the rerun stage when the backoff is over."""
    failure = outcome.failure
    assert failure is not None
    return step(
        Result.FAILED,
        {
            "state": JobState.RERUN_PENDING,
            "failure": failure,
            "disks": outcome.disks or record.disks,
            "expected_finish": None,
            "next_attempt_at": None,
            "attempts": {**record.attempts, **message.attempts},
            "runs_failed": record.runs_failed + 1,
            "reruns": record.reruns + 1,
            "next_run_at": plan.at,
            "history": record.evolve(
                failure=failure, disks=outcome.disks or record.disks
            ).with_run_recorded(JobState.FAILED, now),
            "detail": f"run {record.run} failed ({failure.code}); run {plan.run} starts at "
            f"{plan.at.isoformat()} once the failed copy is deleted",
        },
        send(Stage.RERUN, plan.delay_seconds),
        Announce(EventType.RETRYING),
        after=(FollowUp.RELEASE_PAIR,),
    )


def failing_finish(
    message: JobMessage, record: JobRecord, failure: Failure, now: datetime, settings: Settings
) -> Step:
    """Failing inside finish: finish directly with the failure as the outcome."""
    failing = message.model_copy(update={"outcome": Outcome(state="Failed", failure=failure)})
    return replace(finish_step(failing, record, now, settings), result=Result.FAILED)
