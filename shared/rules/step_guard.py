"""Pure decision: should a stage act on this message, given the job's ledger row?"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage


class Verdict(StrEnum):
    PROCESS = "process"
    RESEND = "resend"  # the step was committed but its outbox may not have gone out
    DROP = "drop"
    MISSING = "missing"  # no ledger row: the message cannot be tied to a job we know


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


# The states in which each stage may find its job (a redelivery can find the later one).
_STATES_FOR_STAGE: dict[Stage, frozenset[JobState]] = {
    Stage.ENSURE_TARGET: frozenset({JobState.QUEUED, JobState.CREATING_TARGET}),
    Stage.START_COPY: frozenset({JobState.STARTING, JobState.WAITING_FOR_BUDGET}),
    Stage.POLL: frozenset({JobState.REPLICATING}),
    Stage.RERUN: frozenset({JobState.RERUN_PENDING}),
    Stage.FINISH: frozenset(
        {
            JobState.QUEUED,
            JobState.WAITING,
            JobState.CREATING_TARGET,
            JobState.STARTING,
            JobState.WAITING_FOR_BUDGET,
            JobState.REPLICATING,
            # The rerun stage can fail too (its failed copy cannot be deleted).
            JobState.RERUN_PENDING,
        }
    ),
}


def decide(record: JobRecord | None, message: JobMessage) -> Decision:
    if record is None:
        return Decision(Verdict.MISSING, f"job {message.job_id} is not in the ledger")
    if record.run != message.run:
        return Decision(
            Verdict.DROP, f"message is for run {message.run}, job is on run {record.run}"
        )
    if record.step == message.step:
        if record.state.terminal:
            return Decision(Verdict.DROP, f"job already ended {record.state.value}")
        if record.state not in _STATES_FOR_STAGE[message.stage]:
            return Decision(
                Verdict.DROP,
                f"stage {message.stage.value} does not apply to a job in state "
                f"{record.state.value}",
            )
        return Decision(Verdict.PROCESS, "job is at this message's step")
    if record.step == message.step + 1 and not record.outbox_sent:
        return Decision(Verdict.RESEND, "step was committed but its messages were not all sent")
    if record.state is JobState.CANCELLED:
        # In flight when an operator cancelled the job: a no-op, logged with this reason.
        return Decision(
            Verdict.DROP,
            f"job was cancelled (message step {message.step}, job step {record.step})",
        )
    return Decision(
        Verdict.DROP, f"duplicate or stale: message step {message.step}, job step {record.step}"
    )


def repeats_a_taken_step(record: JobRecord, message: JobMessage) -> bool:
    """Is the message behind the row (an earlier run, or an earlier step of this run)?

    Only such a message is a duplicate or a stale replay that may be dropped. Any other
    message the guard drops names a step the job never took (ahead of the row, or the step of
    a job that ended, for which nothing is ever sent, or another stage's turn): it cannot be a
    copy of anything the app sent, so it must not vanish silently either."""
    return message.run < record.run or (message.run == record.run and message.step < record.step)
