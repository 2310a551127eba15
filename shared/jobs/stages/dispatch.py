"""The entry point of every stage queue: read the message, guard the step, run the stage, and
commit what it returns, once.

Every stage acts only when the ledger row is at the message's step (`shared.rules.step_guard`),
and its `Step` is committed with the messages it sends (`shared.jobs.outbox`): duplicate and
replayed messages change nothing. Transient ARM failures are retried by re-enqueueing with
backoff (bounded); permanent ones fail the job; a message that cannot be read fails its job (or
a placeholder job) with an event. Anything unexpected is raised so the host retries it and, in
the end, moves it to the poison queue (`shared.jobs.stages.failures.handle_poison`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from shared import telemetry
from shared.arm.client import current_job_id
from shared.errors import ArmError, ArmThrottled, InvalidMessage, StageFailure
from shared.jobs.admission import admit_job, job_event_out, release_and_promote
from shared.jobs.outbox import deliver
from shared.jobs.outcomes import record_outcome
from shared.jobs.retention_deletes import retention_after_success
from shared.jobs.stages import ensure_target, finish, poll, rerun, retries, start_copy
from shared.jobs.stages.failures import fail_without_record, reject_unreadable
from shared.jobs.stages.step import Announce, FollowUp, Result, Send, Step
from shared.model.job import JobRecord, JobState, Outbound
from shared.model.message import Failure, JobMessage, Stage, decode_message, queue_text
from shared.rules.step_guard import Decision, Verdict, decide, repeats_a_taken_step
from shared.services import Services

log = logging.getLogger(__name__)

StageFunction = Callable[[Services, JobMessage, JobRecord], Awaitable[Step]]

STAGES: dict[Stage, StageFunction] = {
    Stage.ENSURE_TARGET: ensure_target.run,
    Stage.START_COPY: start_copy.run,
    Stage.POLL: poll.run,
    Stage.FINISH: finish.run,
    Stage.RERUN: rerun.run,
}

# The follow-ups that a delivery finding its own step already committed still does: the
# delivery that committed it may have died before them (the host then delivers the message
# again). Retention is left to the committing delivery and the sweep.
_AFTER_COMMITTED: dict[Stage, tuple[FollowUp, ...]] = {
    Stage.FINISH: (FollowUp.RELEASE_PAIR,),
    Stage.RERUN: (FollowUp.ADMIT,),
}

# The stages that may act on the row as this process last wrote or read it, when that row is at
# the message's step, instead of reading it again (a read per stage, per poll): before their
# commit they only read ARM, or make the target collection (which a job cancelled meanwhile
# leaves in place, as it does when the cancel comes a moment later). Their writes, the commit
# included, are under that row's ETag: a row changed meanwhile is read then, and nothing is
# committed twice or lost. Start-copy reads the row first: its copy PUT cannot be taken back,
# so a cancel keeps the narrowest window to land before it.
_KNOWN_ROW_WILL_DO = frozenset({Stage.ENSURE_TARGET, Stage.POLL, Stage.FINISH})

# A stage that shows progress while its ARM work runs: (state it finds, state it shows, whether
# it has ARM work for this row). Without ARM work the commit follows at once: no progress write.
_PROGRESS: dict[Stage, tuple[JobState, JobState, Callable[[JobRecord], bool]]] = {
    Stage.ENSURE_TARGET: (JobState.QUEUED, JobState.CREATING_TARGET, ensure_target.calls_arm),
}


async def handle(services: Services, stage: Stage, raw: str | bytes) -> Result:
    """Process one message from `stage`'s queue."""
    try:
        message = decode_message(raw)
        if message.stage != stage:
            raise InvalidMessage(
                f"a {message.stage.value} message arrived on the {stage.value} queue",
                job_id=message.job_id,
                # Its own text: a placeholder job is keyed by it, one per message.
                raw=queue_text(raw),
            )
    except InvalidMessage as exc:
        return await reject_unreadable(services, stage, exc)

    current_job_id.set(message.job_id)
    attributes = telemetry.job_attributes(
        job_id=message.job_id,
        run=message.run,
        correlation_id=message.correlation_id,
        source=message.source_restore_point_id,
        target_region=message.target_region,
        stage=stage.value,
    )
    with telemetry.job_span(f"stage {stage.value}", attributes, message.traceparent) as span:
        result = await _handle(services, message, raw)
        span.set_attribute("rpcopy.result", result.value)
        return result


async def _handle(services: Services, message: JobMessage, raw: str | bytes) -> Result:
    stage = message.stage
    record = await services.ledger.get(
        message.job_id,
        reuse=(lambda r: decide(r, message).verdict is Verdict.PROCESS)
        if stage in _KNOWN_ROW_WILL_DO
        else None,
    )
    decision = decide(record, message)
    if decision.verdict is Verdict.MISSING:
        await fail_without_record(services, message, f"{decision.reason}; message dropped")
        return Result.REJECTED
    assert record is not None
    if decision.verdict is Verdict.DROP:
        if not repeats_a_taken_step(record, message):
            return await reject_unreadable(
                services, stage, not_a_taken_step(message, decision, raw)
            )
        log.info("job %s: %s message dropped: %s", message.job_id, stage.value, decision.reason)
        await _complete_committed(services, message, record)
        return Result.DROPPED
    if decision.verdict is Verdict.RESEND:
        await deliver(services, record)
        await _complete_committed(services, message, record)
        return Result.RESENT

    await _show_progress(services, message, record)
    return await commit(services, message, record, await _run(services, message, record))


def not_a_taken_step(message: JobMessage, decision: Decision, raw: str | bytes) -> InvalidMessage:
    """A well-formed message naming a step its job never took: kept as a failed placeholder
    job of its own (keyed by its text), the job itself left as it is."""
    return InvalidMessage(
        f"a {message.stage.value} message for run {message.run} step {message.step} of job "
        f"{message.job_id} names a step the job never took ({decision.reason}); the job was "
        "left as it is",
        raw=queue_text(raw),
    )


def committed_by(record: JobRecord, message: JobMessage) -> bool:
    """Is the row one step past this message, its own step committed? (The rerun stage's
    commit also moves the row to the next run.)"""
    runs = (message.run, message.run + 1) if message.stage is Stage.RERUN else (message.run,)
    return record.step == message.step + 1 and record.run in runs


async def _complete_committed(services: Services, message: JobMessage, record: JobRecord) -> None:
    """A redelivery of a message whose step was committed: do the follow-ups a crash may have
    cut short (each is idempotent: a pair already freed, a run already admitted stay so)."""
    after = _AFTER_COMMITTED.get(message.stage, ())
    if after and committed_by(record, message):
        await _follow_up(services, record, None, after)


async def _run(services: Services, message: JobMessage, record: JobRecord) -> Step:
    """The stage's step, or the step its trouble calls for."""
    settings = services.settings
    try:
        return await STAGES[message.stage](services, message, record)
    except StageFailure as exc:
        failure = Failure(code=exc.failure_code, message=exc.message, stage=message.stage)
    except ArmThrottled as exc:
        outcome = retries.throttled(settings, message, exc)
        if isinstance(outcome, Step):
            return outcome
        failure = outcome
    except ArmError as exc:
        if exc.transient:
            outcome = retries.retry_later(settings, message, exc)
            if isinstance(outcome, Step):
                return outcome
            failure = outcome
        else:
            failure = Failure(code=exc.code, message=str(exc), stage=message.stage)
    return fail_step(services, message, record, failure)


def fail_step(services: Services, message: JobMessage, record: JobRecord, failure: Failure) -> Step:
    if message.stage is Stage.FINISH:
        return finish.failing_finish(message, record, failure, services.clock(), services.settings)
    return retries.fail(message, record, failure)


async def _show_progress(services: Services, message: JobMessage, record: JobRecord) -> None:
    """Visible progress for the status API while the stage works; not a step."""
    progress = _PROGRESS.get(message.stage)
    if progress is None:
        return
    found, shown, calls_arm = progress
    if record.state is not found or not calls_arm(record):
        return
    await services.ledger.update(
        record.job_id,
        lambda r: (
            r.evolve(state=shown, updated_at=services.clock())
            if r.step == message.step and r.state is found
            else None
        ),
    )


def _outbound(
    services: Services, message: JobMessage, committed: JobRecord, item: object
) -> Outbound:
    if isinstance(item, Send):
        nxt = message.next(
            item.stage,
            step=committed.step,
            traceparent=telemetry.current_traceparent(),
            **item.changes,
        )
        return Outbound(
            services.settings.queues.for_stage(item.stage), nxt.encode(), item.delay_seconds
        )
    assert isinstance(item, Announce)
    return job_event_out(services, committed, item.event_type)


async def commit(services: Services, message: JobMessage, record: JobRecord, step: Step) -> Result:
    """Claim step `message.step` -> +1 with the step's changes and outbox, send it, follow up."""
    now = services.clock()

    def claim(current: JobRecord) -> JobRecord | None:
        if current.run != message.run or current.step != message.step or current.state.terminal:
            return None
        changed = current.evolve(**step.changes, step=current.step + 1, updated_at=now)
        outbox = tuple(_outbound(services, message, changed, item) for item in step.out)
        return changed.evolve(outbox=outbox, outbox_sent=False)

    stored, changed = await services.ledger.update(message.job_id, claim)
    committed = stored if changed else None
    if committed is None:
        log.info("job %s step %s was already committed; nothing sent", message.job_id, message.step)
    else:
        await deliver(services, committed)
    await _follow_up(services, record, committed, step.after)
    return step.result


async def _follow_up(
    services: Services, record: JobRecord, committed: JobRecord | None, after: tuple[FollowUp, ...]
) -> None:
    if committed is not None:
        record_outcome(committed)
    if FollowUp.RELEASE_PAIR in after:
        # A redelivered finish still releases the pair the job held.
        ended = committed or await services.ledger.get(record.job_id) or record
        await release_and_promote(services, ended)
    if FollowUp.RETENTION in after and committed is not None:
        await retention_after_success(services, committed)
    if FollowUp.ADMIT in after:
        # A crash before admission is repaired by the next promote of the pair (the sweep).
        admitting = committed or await services.ledger.get(record.job_id)
        if admitting is not None:
            await admit_job(services, admitting)
