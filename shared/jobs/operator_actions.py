"""What an operator can do to one job over the HTTP API: cancel it, or run it again.

Both are one ETag-guarded write of the job's row that moves it to the next step with its outbox
(the same way a stage commits), so a stage working on the job at the same moment loses its
commit and changes nothing; its in-flight messages then name a step behind the row and are
dropped by the step guard (logged as belonging to a cancelled job).

A cancel of a job whose copy is already replicating leaves that copy to Azure and stops tracking
it, unless the operator asks for it to be deleted: Azure cannot pause a copy, and deleting data
on a status call is not something to do by surprise. The deletion is started, not waited for
(it is a long-running ARM operation); its outcome is in the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from shared.arm.operations import ArmOperation
from shared.errors import ArmError, JobConflict
from shared.jobs.admission import job_event_out, release_and_promote
from shared.jobs.intake import new_run_requested
from shared.jobs.outbox import deliver
from shared.jobs.outcomes import record_outcome
from shared.model.events import EventType
from shared.model.ids import CollectionId
from shared.model.job import JobRecord, JobState
from shared.model.message import Trigger
from shared.services import Services

log = logging.getLogger(__name__)

# States whose run may already have a copy in the target (the PUT may have been sent).
_MAY_HAVE_A_COPY = frozenset(
    {JobState.STARTING, JobState.WAITING_FOR_BUDGET, JobState.REPLICATING, JobState.RERUN_PENDING}
)
RETRYABLE_STATES = frozenset({JobState.FAILED, JobState.CANCELLED})


class CopyDeletion(StrEnum):
    """What became of the cancelled run's copy in the target region."""

    NONE = "none"  # the run never got as far as a copy
    LEFT = "left"  # left to Azure, no longer tracked (the default)
    DELETING = "deleting"  # the DELETE was accepted; Azure finishes it
    DELETED = "deleted"
    NOT_FOUND = "not-found"  # there was nothing to delete
    FAILED = "failed"  # ARM refused the DELETE; the copy may still be there


@dataclass(frozen=True)
class CancelOutcome:
    record: JobRecord
    # False when the job was already cancelled (the call is idempotent).
    changed: bool
    copy: CopyDeletion
    copy_id: str | None = None
    copy_error: str | None = None


def copy_of_run(record: JobRecord) -> str | None:
    """The run's target restore point, known or where it would be."""
    if record.target_restore_point_id:
        return record.target_restore_point_id
    if record.target_collection_id:
        collection = CollectionId.parse(record.target_collection_id)
        return str(collection.restore_point(record.target_restore_point_name))
    return None


def _cancel_detail(record: JobRecord, copy_id: str | None, delete_copy: bool) -> str:
    if copy_id is None or record.state not in _MAY_HAVE_A_COPY:
        return f"cancelled in state {record.state.value}, before its copy started"
    if delete_copy:
        return f"cancelled in state {record.state.value}; its copy {copy_id} is being deleted"
    return (
        f"cancelled in state {record.state.value}; its copy {copy_id}, if Azure started it, is "
        "left to Azure and no longer tracked"
    )


async def cancel_job(services: Services, job_id: str, *, delete_copy: bool) -> CancelOutcome | None:
    """Cancel a job that has not ended (None: no such job; JobConflict: it already ended)."""
    now = services.clock()
    # The state the job was cancelled in (the last try of the ETag loop wins).
    cancelled_from: list[JobState] = []

    def cancel(current: JobRecord) -> JobRecord | None:
        if current.state.terminal:
            return None
        cancelled_from[:] = [current.state]
        detail = _cancel_detail(current, copy_of_run(current), delete_copy)
        ended = current.evolve(
            state=JobState.CANCELLED,
            step=current.step + 1,
            finished_at=now,
            updated_at=now,
            expected_finish=None,
            next_attempt_at=None,
            next_run_at=None,
            detail=detail,
        )
        return ended.evolve(
            outbox=(job_event_out(services, ended, EventType.CANCELLED),), outbox_sent=False
        )

    stored, changed = await services.ledger.update(job_id, cancel)
    if stored is None:
        return None
    if not changed:
        if stored.state is JobState.CANCELLED:
            if not stored.outbox_sent:
                # An earlier cancel was cut short after its commit: finish it.
                await _after_cancel(services, stored)
            return CancelOutcome(stored, False, CopyDeletion.NONE)
        raise JobConflict(
            "Copy job already ended",
            f"job {job_id} ended {stored.state.value} at {stored.finished_at or stored.updated_at}"
            "; only a job that has not ended can be cancelled",
        )
    log.info("job %s cancelled: %s", job_id, stored.detail)
    record_outcome(stored)
    await _after_cancel(services, stored)
    copy_id = copy_of_run(stored)
    if copy_id is None or cancelled_from[0] not in _MAY_HAVE_A_COPY:
        return CancelOutcome(stored, True, CopyDeletion.NONE)
    if not delete_copy:
        return CancelOutcome(stored, True, CopyDeletion.LEFT, copy_id)
    deletion, error = await _start_delete(services, stored, copy_id)
    return CancelOutcome(stored, True, deletion, copy_id, error)


async def _after_cancel(services: Services, record: JobRecord) -> None:
    """The cancel's event, then the pair it may hold (each idempotent; the sweep and a repeated
    cancel call this again if a crash cut it short)."""
    await deliver(services, record)
    await release_and_promote(services, record)


async def _start_delete(
    services: Services, record: JobRecord, copy_id: str
) -> tuple[CopyDeletion, str | None]:
    try:
        response = await services.arm.request(
            "DELETE",
            copy_id,
            operation=ArmOperation.RESTORE_POINTS_DELETE,
            accept_status=(404,),
            correlation_id=record.correlation_id,
        )
    except ArmError as exc:
        log.warning(
            "job %s: deleting the cancelled copy %s failed: %s", record.job_id, copy_id, exc
        )
        return CopyDeletion.FAILED, str(exc)
    if response.status == 404:
        return CopyDeletion.NOT_FOUND, None
    return (CopyDeletion.DELETING if response.status == 202 else CopyDeletion.DELETED), None


async def retry_job(services: Services, job_id: str) -> JobRecord | None:
    """Run a Failed or Cancelled job again (None: no such job; JobConflict: another state).

    The new run goes the way of every re-run: the rerun stage deletes the ended run's copy
    (Azure keeps one copy of a source restore point per target region), then admission."""

    def again(current: JobRecord) -> JobRecord | None:
        if current.state not in RETRYABLE_STATES:
            return None
        return new_run_requested(services, current, trigger=Trigger.HTTP)

    stored, changed = await services.ledger.update(job_id, again)
    if stored is None:
        return None
    if not changed:
        raise JobConflict(
            "Copy job cannot be retried",
            f"job {job_id} is {stored.state.value}; only a Failed or Cancelled job can be "
            "retried (a job in flight already runs, a Succeeded one has its copy)",
        )
    log.info("job %s: run %s requested by an operator", job_id, stored.run + 1)
    await deliver(services, stored)
    return stored
