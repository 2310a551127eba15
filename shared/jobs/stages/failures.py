"""Failing jobs from outside the step protocol: messages that cannot be read, jobs the ledger
does not know, and the placeholder kept when nothing ties a message to a job.

Nothing is dropped silently: each of these ends as a failed ledger row with its failure event.
"""

from __future__ import annotations

import logging
import uuid

from shared.errors import InvalidMessage
from shared.jobs.admission import job_event_out, release_and_promote
from shared.jobs.outbox import deliver
from shared.jobs.outcomes import record_outcome
from shared.jobs.stages.step import Result
from shared.model.copy_options import NO_OPTIONS
from shared.model.events import EventType
from shared.model.job import JobRecord, JobState
from shared.model.message import Failure, JobMessage, Stage, Trigger
from shared.services import Services

log = logging.getLogger(__name__)


def record_from_message(services: Services, message: JobMessage, failure: Failure) -> JobRecord:
    """A failed job row rebuilt from what its message carries."""
    now = services.clock()
    return JobRecord(
        job_id=message.job_id,
        run=message.run,
        state=JobState.FAILED,
        source_restore_point_id=message.source_restore_point_id,
        # A create-in-target job's pair is its VM (it has no source collection).
        source_collection_id=message.options.source_vm_id
        if message.options and message.options.creates_in_target and message.options.source_vm_id
        else str(message.source.collection),
        source_region=None,
        target_region=message.target_region,
        target_resource_group=message.target_resource_group,
        target_collection_name=message.target_collection_name,
        target_restore_point_name=message.target_restore_point_name,
        trigger=message.trigger,
        correlation_id=message.correlation_id,
        requested_at=message.requested_at,
        updated_at=now,
        started_at=message.started_at,
        finished_at=now,
        failure=failure,
        attempts=dict(message.attempts),
        step=message.step + 1,
        runs_failed=1,
        options=message.options or NO_OPTIONS,
    )


async def fail_without_record(services: Services, message: JobMessage, reason: str) -> None:
    """A well-formed message whose job has no ledger row: record it as failed, with an event."""
    failure = Failure(code="JobNotFound", message=reason, stage=message.stage)
    await _create_failed(services, record_from_message(services, message, failure))


async def _create_failed(services: Services, record: JobRecord) -> None:
    """Store a failed job that has no row yet, with its failure event in the outbox."""
    record = record.evolve(
        outbox=(job_event_out(services, record, EventType.FAILED),), outbox_sent=False
    )
    stored, created = await services.ledger.create(record)
    if created:
        await deliver(services, stored)
        record_outcome(stored)


async def reject_unreadable(services: Services, stage: Stage, exc: InvalidMessage) -> Result:
    """A message we cannot act on fails its job (if we can tell which) or a placeholder job."""
    log.error("unreadable %s message (sha256 %s): %s", stage.value, exc.raw_sha256, exc.reason)
    failure = Failure(code="InvalidMessage", message=exc.reason, stage=stage)
    if exc.job_id:
        record = await services.ledger.get(exc.job_id)
        if record is not None and not record.state.terminal:
            await fail_record_directly(services, record, failure)
            return Result.REJECTED
    await _record_placeholder_failure(services, stage, exc, failure)
    return Result.REJECTED


async def fail_record_directly(services: Services, record: JobRecord, failure: Failure) -> None:
    """Fail a job from outside the step protocol (its message is unusable)."""
    now = services.clock()

    def mutate(r: JobRecord) -> JobRecord | None:
        if r.state.terminal or r.run != record.run:
            return None
        failed = r.evolve(
            state=JobState.FAILED,
            failure=failure,
            finished_at=now,
            updated_at=now,
            step=r.step + 1,
            runs_failed=r.runs_failed + 1,
        )
        return failed.evolve(
            outbox=(job_event_out(services, failed, EventType.FAILED),), outbox_sent=False
        )

    stored, changed = await services.ledger.update(record.job_id, mutate)
    if changed and stored is not None:
        await deliver(services, stored)
        record_outcome(stored)
        await release_and_promote(services, stored)


async def _record_placeholder_failure(
    services: Services, stage: Stage, exc: InvalidMessage, failure: Failure
) -> None:
    """Nothing ties the message to a job: keep a failed placeholder row so it is not lost."""
    now = services.clock()
    placeholder_id = exc.raw_sha256[:32]
    record = JobRecord(
        job_id=placeholder_id,
        run=1,
        state=JobState.FAILED,
        source_restore_point_id="unknown",
        source_collection_id="unknown",
        source_region=None,
        target_region="unknown",
        target_resource_group="unknown",
        target_collection_name="unknown",
        target_restore_point_name="unknown",
        trigger=Trigger.HTTP,
        correlation_id=str(uuid.uuid4()),
        requested_at=now,
        updated_at=now,
        finished_at=now,
        failure=Failure(
            code=failure.code,
            message=f"{failure.message} (message sha256 "
            f"{exc.raw_sha256}, queue stage {stage.value})",
            stage=stage,
        ),
        runs_failed=1,
    )
    await _create_failed(services, record)
