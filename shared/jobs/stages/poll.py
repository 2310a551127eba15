"""Stage 3: read the copy's instance view and decide: done, failed, or poll again later.

The message re-enqueues itself with a visibility delay chosen by `shared.rules.poll_schedule`
until every disk reports `ReplicationState/succeeded` at 100 %, the copy failed, or it ran past
Azure's 14-day limit.
"""

from __future__ import annotations

import logging

from shared.arm import bodies
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, StageFailure
from shared.jobs.stages.retries import to_finish
from shared.jobs.stages.step import Result, Step, send, step
from shared.model.job import JobRecord
from shared.model.message import Failure, JobMessage, Outcome, Stage
from shared.rules.poll_schedule import carry, next_poll, observe
from shared.rules.replication import CopyStatus, assess, fastest_running, slowest_percent
from shared.services import Services

log = logging.getLogger(__name__)


async def run(services: Services, message: JobMessage, record: JobRecord) -> Step:
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
    body = await services.arm.get_or_none(
        record.target_restore_point_id,
        operation=ArmOperation.RESTORE_POINTS_GET,
        params={"$expand": "instanceView"},
        correlation_id=message.correlation_id,
    )
    if body is None:
        raise StageFailure(
            "TargetRestorePointMissing", f"{record.target_restore_point_id} was deleted"
        )
    view = assess(bodies.instance_view(body))

    if view.status is CopyStatus.FAILED:
        failure = view.failure or Failure(code="ReplicationFailed", message="copy failed")
        failure = await _operation_detail(services, message, failure)
        outcome = Outcome(
            state="Failed",
            # Whatever code Azure gave, a failed copy can succeed when started again.
            failure=failure.model_copy(update={"stage": Stage.POLL, "retryable": True}),
            disks=view.disks,
        )
        return to_finish(outcome, disks=view.disks)
    if view.status is CopyStatus.SUCCEEDED:
        outcome = Outcome(state="Succeeded", disks=view.disks, replication_done_at=now)
        return to_finish(outcome, disks=view.disks, percent=100.0, replication_done_at=now)

    state_text = (
        view.status.value if view.percent is None else f"{view.status.value} {view.percent:.0f}%"
    )
    # The learned schedule follows the slowest disk: the copy ends when it does.
    replicating = view.status is CopyStatus.REPLICATING
    slowest = slowest_percent(view) if replicating else None
    fastest = fastest_running(view) if replicating else None
    history = observe(
        message.poll,
        now,
        view.percent,
        slowest=slowest,
        fastest=fastest,
        interval=settings.progress_granularity_seconds,
    )
    plan = next_poll(history, now, settings, copy_started=message.started_at)
    history = carry(history, plan)
    log.info(
        "job %s: %s; next poll in %.1fs (%s)",
        message.job_id,
        state_text,
        plan.delay_seconds,
        plan.reason,
    )
    return step(
        Result.WAITING,
        {
            "disks": view.disks,
            # A poll during initiation keeps the last known percentage.
            "percent": view.percent if view.percent is not None else record.percent,
            "expected_finish": plan.expected_finish,
        },
        send(Stage.POLL, plan.delay_seconds, poll=history, last_status=state_text),
    )


async def _operation_detail(services: Services, message: JobMessage, failure: Failure) -> Failure:
    """A failed copy LRO carries its error on the operation resource; read it if we can. A
    copy whose operation failed may also show failed disks (Azure does not say), so the
    operation is asked whatever the instance view looked like: its error is the more precise."""
    if not message.operation_url:
        return failure
    try:
        status = await services.arm.operation_status(
            message.operation_url, operation=ArmOperation.OPERATIONS_GET
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
