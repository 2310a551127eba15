"""The `-poison` queues: a message that failed `maxDequeueCount` times fails its job."""

from __future__ import annotations

import logging

from shared import telemetry
from shared.errors import InvalidMessage
from shared.jobs.admission import job_event_out, release_and_promote
from shared.jobs.outbox import deliver
from shared.jobs.stages.dispatch import commit, fail_step, not_a_taken_step
from shared.jobs.stages.failures import (
    fail_record_directly,
    fail_without_record,
    record_from_message,
    reject_unreadable,
)
from shared.jobs.stages.step import Result
from shared.model.events import EventType
from shared.model.message import Failure, Stage, decode_message
from shared.rules.step_guard import Verdict, decide, repeats_a_taken_step
from shared.services import Services

log = logging.getLogger(__name__)


async def handle_poison(services: Services, stage: Stage, raw: str | bytes) -> Result:
    """A message that failed `maxDequeueCount` times: fail its job with the reason.

    This is the last line of defence, so if failing the job the normal way fails too (say its
    ledger row cannot be read), the row is replaced by a failed record and the event is sent
    directly: the job must not vanish into a queue nobody reads."""
    telemetry.poison_messages.add(1, {"rpcopy.stage": stage.value})
    log.warning("a %s message reached the poison handler", stage.value)
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
    record = record_from_message(services, message, failure)
    await services.ledger.overwrite(record)
    event = job_event_out(services, record, EventType.FAILED)
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
        if not repeats_a_taken_step(record, message):
            return await reject_unreadable(
                services, stage, not_a_taken_step(message, decision, raw)
            )
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
        await fail_record_directly(services, record, failure)
    else:
        await commit(services, message, record, fail_step(services, message, record, failure))
    return Result.FAILED
