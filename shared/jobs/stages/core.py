"""The four queue stages of a copy, and the handling of messages that cannot be processed.

1. ensure-target: the target restore point collection exists in the target region and really
   points at this source collection (a collection with another source is a permanent error).
2. start-copy: PUT the target restore point with `sourceRestorePoint` (idempotent: an existing
   copy of the same source is continued from its state).
3. poll: read the instance view; re-enqueue itself with a visibility delay until every disk
   reports `ReplicationState/succeeded` at 100 %, or the copy failed or timed out.
4. finish: record the outcome in the ledger and emit the completion or failure event.

Every stage acts only when the ledger row is at the message's step, and commits its result with
the messages it sends (shared/outbox.py): duplicate and replayed messages change nothing.
Transient ARM failures are retried by re-enqueueing with backoff (bounded); permanent ones fail
the job; a message that cannot be read fails its job (or a placeholder job) with an event.
Anything unexpected is raised so the host retries it and, in the end, moves it to the poison
queue, where `handle_poison` fails the job with an event.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.arm.client import ArmError, ArmThrottled, current_job_id
from shared.arm.source_check import SourceProblem, inspect_source
from shared.jobs.admission import job_event_out, release_and_promote
from shared.jobs.outbox import commit, deliver
from shared.model import events
from shared.model.ids import (
    MANAGED_TAG,
    CollectionId,
    same_id,
)
from shared.model.message import (
    Failure,
    InvalidMessage,
    JobMessage,
    Outcome,
    Stage,
    Trigger,
    decode_message,
)
from shared.rules.poll_schedule import next_poll, observe
from shared.rules.replication import CopyStatus, assess
from shared.rules.step_guard import Verdict, decide
from shared.services import Services
from shared.storage.ledger import JobRecord, JobState, Outbound
from shared.sweep.reconcile import retention_after_success

log = logging.getLogger(__name__)


class Result(StrEnum):
    ADVANCED = "advanced"
    WAITING = "waiting"  # re-enqueued itself to try again later
    FINISHED = "finished"
    FAILED = "failed"  # the job was failed (the finish stage emits the event)
    DROPPED = "dropped"
    RESENT = "resent"
    REJECTED = "rejected"  # unreadable message turned into a failed job


class StageFailure(Exception):
    """A permanent reason to fail the job, raised by a stage."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.failure_code = code
        self.message = message


def queue_for(services: Services, stage: Stage) -> str:
    queues = services.settings.queues
    return {
        Stage.ENSURE_TARGET: queues.ensure_target,
        Stage.START_COPY: queues.start_copy,
        Stage.POLL: queues.poll,
        Stage.FINISH: queues.finish,
    }[stage]


def to_stage(
    services: Services,
    record: JobRecord,
    message: JobMessage,
    stage: Stage,
    delay: float = 0.0,
    **changes: Any,
) -> Outbound:
    """The message for `stage`, at the step the commit moves the row to."""
    nxt = message.next(stage, step=record.step, **changes)
    return Outbound(queue_for(services, stage), nxt.encode(), delay)


# -- entry point ---------------------------------------------------------------------------


async def handle(services: Services, stage: Stage, raw: str | bytes) -> Result:
    """Process one message from `stage`'s queue."""
    try:
        message = decode_message(raw)
        if message.stage != stage:
            raise InvalidMessage(
                f"a {message.stage.value} message arrived on the {stage.value} queue",
                job_id=message.job_id,
            )
    except InvalidMessage as exc:
        return await reject_unreadable(services, stage, exc)

    current_job_id.set(message.job_id)
    record = await services.ledger.get(message.job_id)
    decision = decide(record, message)
    if decision.verdict is Verdict.MISSING:
        await fail_without_record(services, message, f"{decision.reason}; message dropped")
        return Result.REJECTED
    assert record is not None
    if decision.verdict is Verdict.DROP:
        log.info("job %s: %s message dropped: %s", message.job_id, stage.value, decision.reason)
        return Result.DROPPED
    if decision.verdict is Verdict.RESEND:
        await deliver(services, record)
        return Result.RESENT

    try:
        return await _STAGES[stage](services, message, record)
    except StageFailure as exc:
        return await fail_job(
            services,
            message,
            record,
            Failure(code=exc.failure_code, message=exc.message, stage=stage),
        )
    except ArmThrottled as exc:
        return await _throttled(services, message, record, exc)
    except ArmError as exc:
        if exc.transient:
            return await _retry_later(services, message, record, exc)
        return await fail_job(
            services, message, record, Failure(code=exc.code, message=str(exc), stage=stage)
        )


async def _throttled(
    services: Services, message: JobMessage, record: JobRecord, exc: ArmThrottled
) -> Result:
    waits = message.attempts.get("throttled", 0) + 1
    if waits > services.settings.max_throttle_waits:
        failure = Failure(
            code=exc.code, message=f"throttled {waits - 1} times: {exc}", stage=message.stage
        )
        return await fail_job(services, message, record, failure)
    delay = (exc.retry_after or 60.0) + random.uniform(0, 2)
    log.info("job %s: ARM throttled %s; retrying in %.0fs", message.job_id, exc.operation, delay)
    attempts = {**message.attempts, "throttled": waits}
    await commit(
        services,
        message,
        lambda r: r.evolve(attempts=attempts),
        lambda r: [to_stage(services, r, message, message.stage, delay, attempts=attempts)],
    )
    return Result.WAITING


async def _retry_later(
    services: Services, message: JobMessage, record: JobRecord, exc: ArmError
) -> Result:
    retried = message.with_attempt()
    attempt = retried.attempts_at(message.stage)
    if attempt >= services.settings.stage_max_attempts:
        failure = Failure(
            code=exc.code, message=f"gave up after {attempt} attempts: {exc}", stage=message.stage
        )
        return await fail_job(services, message, record, failure)
    base = services.settings.stage_retry_base_seconds
    delay = exc.retry_after or min(base * 2 ** (attempt - 1), 900.0) * random.uniform(0.8, 1.2)
    log.warning(
        "job %s: %s failed transiently (%s); retry %s in %.1fs",
        message.job_id,
        message.stage.value,
        exc,
        attempt,
        delay,
    )
    await commit(
        services,
        message,
        lambda r: r.evolve(attempts=retried.attempts),
        lambda r: [to_stage(services, r, message, message.stage, delay, attempts=retried.attempts)],
    )
    return Result.WAITING


# -- stage 1: ensure the target collection ----------------------------------------------------


async def ensure_target(services: Services, message: JobMessage, record: JobRecord) -> Result:
    arm = services.arm
    cid = message.correlation_id
    if record.state is JobState.QUEUED:
        # Visible progress for the status API; not a step (the commit below is).
        await services.ledger.update(
            record.job_id,
            lambda r: (
                r.evolve(state=JobState.CREATING_TARGET, updated_at=services.clock())
                if r.step == message.step and r.state is JobState.QUEUED
                else None
            ),
        )
    source = message.source
    if record.source_region is not None:
        # Intake already checked the source (exists, not a copy, another region) and recorded
        # its region and creation time; reading them again would only cost ARM calls.
        source_region, created_at = record.source_region, record.source_created_at
    else:
        source_region, created_at = await _check_source(services, message)

    target = CollectionId.build(
        source.subscription_id, message.target_resource_group, message.target_collection_name
    )
    existing = await arm.get_or_none(
        str(target), operation="RestorePointCollections_Get", correlation_id=cid
    )
    if existing is None:
        body = {
            "location": message.target_region,
            # Retention only ever deletes inside collections carrying this tag.
            "tags": {MANAGED_TAG: "true"},
            "properties": {"source": {"id": str(source.collection)}},
        }
        await arm.put(
            str(target),
            body,
            operation="RestorePointCollections_CreateOrUpdate",
            correlation_id=cid,
        )
    else:
        _check_target_collection(existing, target, source.collection, message.target_region)

    await commit(
        services,
        message,
        lambda r: r.evolve(
            state=JobState.STARTING,
            target_collection_id=str(target),
            source_region=source_region,
            source_created_at=created_at or r.source_created_at,
        ),
        lambda r: [to_stage(services, r, message, Stage.START_COPY)],
    )
    return Result.ADVANCED


async def _check_source(services: Services, message: JobMessage) -> tuple[str, datetime | None]:
    """The source checks for a job whose intake did not record them."""
    try:
        facts = await inspect_source(
            services.arm,
            message.source,
            message.target_region,
            correlation_id=message.correlation_id,
        )
    except SourceProblem as problem:
        raise StageFailure(problem.code, problem.detail) from None
    return facts.region, facts.created_at


def _check_target_collection(
    body: dict[str, Any], target: CollectionId, source: CollectionId, region: str
) -> None:
    """Reuse an existing target collection only if it is the copy target of this source."""
    points_at = ((body.get("properties") or {}).get("source") or {}).get("id") or ""
    if not same_id(points_at, str(source)):
        raise StageFailure(
            "TargetCollectionConflict",
            f"target collection {target} exists with source {points_at or 'none'!s}, not "
            f"{source}; choose another targetCollectionName",
        )
    location = str(body.get("location") or "").replace(" ", "").lower()
    if location != region:
        raise StageFailure(
            "TargetCollectionConflict",
            f"target collection {target} exists in {location or 'an unknown region'}, not {region}",
        )


# -- stage 2: start the copy ------------------------------------------------------------------


async def start_copy(services: Services, message: JobMessage, record: JobRecord) -> Result:
    arm = services.arm
    cid = message.correlation_id
    assert record.target_collection_id, "ensure-target sets the target collection"
    target_rp = CollectionId.parse(record.target_collection_id).restore_point(
        message.target_restore_point_name
    )
    existing = await arm.get_or_none(
        str(target_rp), operation="RestorePoints_Get", correlation_id=cid
    )
    operation_url = message.operation_url
    if existing is None:
        settings = services.settings
        wait = await services.rules.reserve_copy_put(
            str(target_rp.collection),
            services.clock(),
            settings.copy_puts_per_window,
            timedelta(seconds=settings.copy_put_window_seconds),
        )
        if wait > 0:
            return await _wait_for_budget(services, message, wait)
        body = {"properties": {"sourceRestorePoint": {"id": message.source_restore_point_id}}}
        try:
            response = await arm.put(
                str(target_rp), body, operation="RestorePoints_Create", correlation_id=cid
            )
            operation_url = response.headers.get("azure-asyncoperation") or operation_url
        except ArmError as exc:
            # Another delivery of this step may have created it a moment ago (Azure refuses
            # to update an existing restore point): if it is our copy, carry on with it.
            if exc.transient or not await _is_our_copy(services, message, str(target_rp)):
                raise
    else:
        # A copy from an earlier attempt of this step: continue from its state, if it is ours.
        copied_from = ((existing.get("properties") or {}).get("sourceRestorePoint") or {}).get("id")
        if not copied_from or not same_id(copied_from, message.source_restore_point_id):
            raise StageFailure(
                "TargetRestorePointConflict",
                f"{target_rp} already exists and is not a copy of "
                f"{message.source_restore_point_id}",
            )

    now = services.clock()
    started = message.started_at or now
    await commit(
        services,
        message,
        lambda r: r.evolve(
            state=JobState.REPLICATING,
            started_at=r.started_at or started,
            target_restore_point_id=str(target_rp),
            percent=0.0,
            detail=None,
        ),
        lambda r: [
            to_stage(
                services,
                r,
                message,
                Stage.POLL,
                services.settings.poll.initial_seconds,
                started_at=started,
                operation_url=operation_url,
            ),
            job_event_out(services, r, events.EventType.STARTED),
        ],
    )
    return Result.ADVANCED


async def _is_our_copy(services: Services, message: JobMessage, target_rp: str) -> bool:
    body = await services.arm.get_or_none(
        target_rp, operation="RestorePoints_Get", correlation_id=message.correlation_id
    )
    copied_from = (((body or {}).get("properties") or {}).get("sourceRestorePoint") or {}).get("id")
    return bool(copied_from) and same_id(copied_from, message.source_restore_point_id)


async def _wait_for_budget(services: Services, message: JobMessage, wait: float) -> Result:
    """The target collection used its copy PUTs for this window: try again when one frees up."""
    delay = wait + random.uniform(0.5, 3.0)
    waits = message.attempts.get("budget", 0) + 1
    attempts = {**message.attempts, "budget": waits}
    log.info(
        "job %s: copy budget of the target collection is spent; starting in %.0fs",
        message.job_id,
        delay,
    )
    await commit(
        services,
        message,
        lambda r: r.evolve(
            attempts=attempts,
            detail=f"copy PUT budget spent; retrying in "
            f"{delay:.0f}s (Azure allows "
            f"{services.settings.copy_puts_per_window} per target collection per "
            f"{services.settings.copy_put_window_seconds:.0f}s)",
        ),
        lambda r: [to_stage(services, r, message, Stage.START_COPY, delay, attempts=attempts)],
    )
    return Result.WAITING


# -- stage 3: poll replication ----------------------------------------------------------------


async def poll(services: Services, message: JobMessage, record: JobRecord) -> Result:
    arm = services.arm
    settings = services.settings.poll
    now = services.clock()
    started = message.started_at or record.started_at or now
    if (now - started).total_seconds() > settings.copy_timeout_seconds:
        raise StageFailure(
            "CopyTimedOut",
            f"replication did not finish within {settings.copy_timeout_seconds / 86400:.1f} days "
            "(Azure terminates copies after 14 days)",
        )
    assert record.target_restore_point_id
    body = await arm.get_or_none(
        record.target_restore_point_id,
        operation="RestorePoints_Get",
        params={"$expand": "instanceView"},
        correlation_id=message.correlation_id,
    )
    if body is None:
        raise StageFailure(
            "TargetRestorePointMissing", f"{record.target_restore_point_id} was deleted"
        )
    view = assess(body)
    state_text = (
        view.status.value if view.percent is None else f"{view.status.value} {view.percent:.0f}%"
    )

    if view.status is CopyStatus.FAILED:
        failure = view.failure or Failure(code="ReplicationFailed", message="copy failed")
        failure = await _operation_detail(services, message, failure)
        outcome = Outcome(
            state="Failed",
            failure=failure.model_copy(update={"stage": Stage.POLL}),
            disks=view.disks,
        )
        await _to_finish(services, message, outcome, lambda r: r.evolve(disks=view.disks))
        return Result.FAILED
    if view.status is CopyStatus.SUCCEEDED:
        outcome = Outcome(state="Succeeded", disks=view.disks, replication_done_at=now)
        await _to_finish(
            services,
            message,
            outcome,
            lambda r: r.evolve(disks=view.disks, percent=100.0, replication_done_at=now),
        )
        return Result.ADVANCED

    history = observe(message.poll, now, view.percent)
    plan = next_poll(history, now, settings)
    log.info(
        "job %s: %s; next poll in %.1fs (%s)",
        message.job_id,
        state_text,
        plan.delay_seconds,
        plan.reason,
    )
    await commit(
        services,
        message,
        lambda r: r.evolve(
            disks=view.disks,
            percent=view.percent if view.percent is not None else r.percent,
            expected_finish=plan.expected_finish,
        ),
        lambda r: [
            to_stage(
                services,
                r,
                message,
                Stage.POLL,
                plan.delay_seconds,
                poll=history,
                last_status=state_text,
            )
        ],
    )
    return Result.WAITING


async def _operation_detail(services: Services, message: JobMessage, failure: Failure) -> Failure:
    """A failed copy LRO carries its error on the operation resource; read it if we can."""
    if not message.operation_url or failure.code != "CopyOperationFailed":
        return failure
    try:
        status = await services.arm.operation_status(
            message.operation_url, operation="Operations_Get"
        )
    except ArmError as exc:
        log.info("job %s: could not read the failed operation: %s", message.job_id, exc)
        return failure
    error = status.get("error") if isinstance(status.get("error"), dict) else None
    if not error:
        return failure
    return Failure(
        code=str(error.get("code") or failure.code),
        message=str(error.get("message") or failure.message),
        stage=Stage.POLL,
    )


async def _to_finish(
    services: Services,
    message: JobMessage,
    outcome: Outcome,
    transform: Callable[[JobRecord], JobRecord] = lambda r: r,
) -> None:
    await commit(
        services,
        message,
        transform,
        lambda r: [to_stage(services, r, message, Stage.FINISH, outcome=outcome)],
    )


# -- stage 4: finish --------------------------------------------------------------------------

_EVENT_FOR_STATE = {
    "Succeeded": events.EventType.SUCCEEDED,
    "Failed": events.EventType.FAILED,
    "Superseded": events.EventType.SUPERSEDED,
}


async def finish(services: Services, message: JobMessage, record: JobRecord) -> Result:
    outcome = message.outcome
    if outcome is None:
        outcome = Outcome(
            state="Failed",
            failure=Failure(
                code="InvalidMessage",
                message="finish message without an outcome",
                stage=Stage.FINISH,
            ),
        )
    now = services.clock()
    state = JobState(outcome.state)

    def transform(r: JobRecord) -> JobRecord:
        return r.evolve(
            state=state,
            finished_at=now,
            failure=outcome.failure if state is not JobState.SUCCEEDED else None,
            disks=outcome.disks or r.disks,
            replication_done_at=outcome.replication_done_at or r.replication_done_at,
            percent=100.0 if state is JobState.SUCCEEDED else r.percent,
            expected_finish=None,
            attempts={**r.attempts, **message.attempts},
            runs_failed=r.runs_failed + (1 if state is JobState.FAILED else 0),
        )

    stored = await commit(
        services,
        message,
        transform,
        lambda r: [job_event_out(services, r, _EVENT_FOR_STATE[outcome.state])],
    )
    ended = stored or await _current(services, record)
    await release_and_promote(services, ended)
    if (
        stored is not None
        and stored.state is JobState.SUCCEEDED
        and stored.trigger is not Trigger.HTTP
    ):
        # Policy-driven copies prune their target now; the sweep covers manual ones.
        await retention_after_success(services, stored)
    return Result.FINISHED


async def _current(services: Services, record: JobRecord) -> JobRecord:
    """The job as stored now (a redelivered finish still releases the pair it held)."""
    return await services.ledger.get(record.job_id) or record


# -- failing jobs -------------------------------------------------------------------------------


async def fail_job(
    services: Services, message: JobMessage, record: JobRecord, failure: Failure
) -> Result:
    """Fail the job: the finish stage records it and emits the failure event."""
    log.warning(
        "job %s failed in %s: %s %s",
        message.job_id,
        message.stage.value,
        failure.code,
        failure.message,
    )
    if message.stage is Stage.FINISH:
        # Failing inside finish: finish directly with the failure outcome.
        failing = message.model_copy(update={"outcome": Outcome(state="Failed", failure=failure)})
        await finish(services, failing, record)
        return Result.FAILED
    await _to_finish(
        services, message, Outcome(state="Failed", failure=failure, disks=record.disks)
    )
    return Result.FAILED


def _record_from_message(services: Services, message: JobMessage, failure: Failure) -> JobRecord:
    """A failed job row rebuilt from what its message carries."""
    now = services.clock()
    return JobRecord(
        job_id=message.job_id,
        run=message.run,
        state=JobState.FAILED,
        source_restore_point_id=message.source_restore_point_id,
        source_collection_id=str(message.source.collection),
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
    )


async def fail_without_record(services: Services, message: JobMessage, reason: str) -> None:
    """A well-formed message whose job has no ledger row: record it as failed, with an event."""
    failure = Failure(code="JobNotFound", message=reason, stage=message.stage)
    await _create_failed(services, _record_from_message(services, message, failure))


async def _create_failed(services: Services, record: JobRecord) -> None:
    """Store a failed job that has no row yet, with its failure event in the outbox."""
    record = record.evolve(
        outbox=(job_event_out(services, record, events.EventType.FAILED),), outbox_sent=False
    )
    stored, created = await services.ledger.create(record)
    if created:
        await deliver(services, stored)


async def reject_unreadable(services: Services, stage: Stage, exc: InvalidMessage) -> Result:
    """A message we cannot act on fails its job (if we can tell which) or a placeholder job."""
    log.error("unreadable %s message (sha256 %s): %s", stage.value, exc.raw_sha256, exc.reason)
    failure = Failure(code="InvalidMessage", message=exc.reason, stage=stage)
    if exc.job_id:
        record = await services.ledger.get(exc.job_id)
        if record is not None and not record.state.terminal:
            await _fail_record_directly(services, record, failure)
            return Result.REJECTED
    await _record_placeholder_failure(services, stage, exc, failure)
    return Result.REJECTED


async def _fail_record_directly(services: Services, record: JobRecord, failure: Failure) -> None:
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
            outbox=(job_event_out(services, failed, events.EventType.FAILED),), outbox_sent=False
        )

    stored, changed = await services.ledger.update(record.job_id, mutate)
    if changed and stored is not None:
        await deliver(services, stored)
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


async def handle_poison(services: Services, stage: Stage, raw: str | bytes) -> Result:
    """A message that failed `maxDequeueCount` times: fail its job with the reason.

    This is the last line of defence, so if failing the job the normal way fails too (say its
    ledger row cannot be read), the row is replaced by a failed record and the event is sent
    directly: the job must not vanish into a queue nobody reads."""
    try:
        return await _handle_poison(services, stage, raw)
    except Exception as exc:
        log.exception("poison %s message could not be handled normally; forcing failure", stage)
        return await _force_fail(services, stage, raw, exc)


async def _force_fail(
    services: Services, stage: Stage, raw: str | bytes, cause: Exception
) -> Result:
    try:
        message = decode_message(raw)
    except InvalidMessage:
        raise cause from None
    failure = Failure(
        code="StageFailedRepeatedly",
        message=f"the {stage.value} stage failed on every delivery of its message, and the job's "
        f"ledger row could not be updated ({type(cause).__name__}); the row was replaced by this "
        f"failed record (correlation id {message.correlation_id})",
        stage=stage,
    )
    record = _record_from_message(services, message, failure)
    await services.ledger.overwrite(record)
    event = job_event_out(services, record, events.EventType.FAILED)
    await services.emit(event.text)
    try:
        await release_and_promote(services, record)
    except Exception:  # the pair row is repaired by the sweep
        log.exception("job %s: could not release its pair", record.job_id)
    return Result.FAILED


async def _handle_poison(services: Services, stage: Stage, raw: str | bytes) -> Result:
    try:
        message = decode_message(raw)
    except InvalidMessage as exc:
        return await reject_unreadable(services, stage, exc)
    record = await services.ledger.get(message.job_id)
    decision = decide(record, message)
    if decision.verdict is Verdict.MISSING:
        await fail_without_record(services, message, "poison message for a job not in the ledger")
        return Result.REJECTED
    assert record is not None
    if decision.verdict is Verdict.RESEND:
        await deliver(services, record)
        return Result.RESENT
    if decision.verdict is Verdict.DROP:
        log.info(
            "poison %s message for job %s dropped: %s", stage.value, message.job_id, decision.reason
        )
        return Result.DROPPED
    failure = Failure(
        code="StageFailedRepeatedly",
        message=f"the {stage.value} stage failed on every delivery of its message; see the "
        "function logs for the error (correlation id " + message.correlation_id + ")",
        stage=stage,
    )
    if stage is Stage.FINISH:
        await _fail_record_directly(services, record, failure)
    else:
        await fail_job(services, message, record, failure)
    return Result.FAILED


_STAGES: dict[Stage, Callable[[Services, JobMessage, JobRecord], Awaitable[Result]]] = {
    Stage.ENSURE_TARGET: ensure_target,
    Stage.START_COPY: start_copy,
    Stage.POLL: poll,
    Stage.FINISH: finish,
}
