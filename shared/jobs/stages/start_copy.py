"""Stage 2: start the copy, a PUT of the target restore point with `sourceRestorePoint`.

Idempotent: an existing copy of the same source (from an earlier delivery of this step) is
continued from its state; the copy-PUT budget of the target collection is waited for, not failed.
A redelivery after a crash between the PUT and the commit takes one more budget slot.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from shared.arm import bodies
from shared.arm.client import ArmResponse
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, ArmNotFound, StageFailure
from shared.jobs.stages import create_target, ensure_target, target_inputs
from shared.jobs.stages.step import Announce, Result, Step, send, step
from shared.model.events import EventType
from shared.model.ids import CollectionId, RestorePointId, same_id
from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage
from shared.services import Services

log = logging.getLogger(__name__)


async def run(services: Services, message: JobMessage, record: JobRecord) -> Step:
    if record.options.creates_in_target:
        return await create_target.start(services, message, record)
    assert record.target_collection_id, "ensure-target sets the target collection"
    target_rp = CollectionId.parse(record.target_collection_id).restore_point(
        message.target_restore_point_name
    )
    operation_url = message.operation_url
    # The PUT goes first, without a GET: the target restore point is new on every first
    # delivery. Only a refused PUT, or a spent budget, asks ARM whether an earlier delivery of
    # this step (a crash before its commit) already made our copy.
    settings = services.settings
    wait = await services.budget.reserve_copy_put(
        str(target_rp.collection),
        services.clock(),
        settings.copy_puts_per_window,
        timedelta(seconds=settings.copy_put_window_seconds),
    )
    if wait > 0:
        if not await _is_our_copy(services, message, str(target_rp)):
            return _wait_for_budget(services, message, wait)
    else:
        try:
            response = await _copy_put(services, message, record, target_rp)
            operation_url = response.headers.get("azure-asyncoperation") or operation_url
        except ArmError as exc:
            # Another delivery of this step may have created it (Azure refuses to update an
            # existing restore point): if it is our copy, carry on with it.
            if exc.transient or not await _is_our_copy(services, message, str(target_rp)):
                raise

    started = message.started_at or services.clock()
    return step(
        Result.ADVANCED,
        {
            "state": JobState.REPLICATING,
            "started_at": record.started_at or started,
            "target_restore_point_id": str(target_rp),
            "percent": 0.0,
            "detail": None,
            "next_attempt_at": None,
        },
        send(
            Stage.POLL,
            services.settings.poll.initial_seconds,
            started_at=started,
            operation_url=operation_url,
        ),
        Announce(EventType.STARTED),
    )


async def _copy_put(
    services: Services, message: JobMessage, record: JobRecord, target_rp: RestorePointId
) -> ArmResponse:
    """The copy PUT. When ensure-target skipped reading the target collection (the pair's last
    copy proved it), a 404 means it was deleted since: make it again, then PUT once more."""
    body = await target_inputs.copy_body(services, message, record)

    async def put() -> ArmResponse:
        return await services.arm.put(
            str(target_rp),
            body,
            operation=ArmOperation.RESTORE_POINTS_CREATE,
            correlation_id=message.correlation_id,
        )

    try:
        return await put()
    except ArmNotFound:
        if not ensure_target.skips_target_check(record):
            raise
    log.info(
        "job %s: target collection %s is gone; creating it", message.job_id, target_rp.collection
    )
    await ensure_target.ensure_collection(services, message, record, target_rp.collection)
    return await put()


def _copies(body: object, message: JobMessage) -> bool:
    """Is this restore point body a copy of the message's source?"""
    copied_from = bodies.copied_from(body)
    return bool(copied_from) and same_id(copied_from or "", message.source_restore_point_id)


async def _is_our_copy(services: Services, message: JobMessage, target_rp: str) -> bool:
    """Does the target restore point exist as a copy of our source? False if it does not
    exist; TargetRestorePointConflict if it exists as something else."""
    body = await services.arm.get_or_none(
        target_rp, operation=ArmOperation.RESTORE_POINTS_GET, correlation_id=message.correlation_id
    )
    if body is None:
        return False
    if not _copies(body, message):
        raise StageFailure(
            "TargetRestorePointConflict",
            f"{target_rp} already exists and is not a copy of {message.source_restore_point_id}",
        )
    return True


def _wait_for_budget(services: Services, message: JobMessage, wait: float) -> Step:
    """The target collection used its copy PUTs for this window: try again when one frees up."""
    settings = services.settings
    delay = wait + random.uniform(0.5, 3.0)
    attempts = {**message.attempts, "budget": message.attempts.get("budget", 0) + 1}
    log.info(
        "job %s: copy budget of the target collection is spent; starting in %.0fs",
        message.job_id,
        delay,
    )
    return step(
        Result.WAITING,
        {
            "attempts": attempts,
            # A state of its own, with when it tries: the RPO judgement counts this wait.
            "state": JobState.WAITING_FOR_BUDGET,
            "next_attempt_at": services.clock() + timedelta(seconds=delay),
            "detail": f"copy PUT budget spent; retrying in {delay:.0f}s (Azure allows "
            f"{settings.copy_puts_per_window} per target collection per "
            f"{settings.copy_put_window_seconds:.0f}s)",
        },
        send(Stage.START_COPY, delay, attempts=attempts),
    )
