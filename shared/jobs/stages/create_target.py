"""The ensure-target and start stages of a create-in-target job (arm-contract §14).

ensure-target: the target collection exists in the target region with `properties.source.id` =
the VM (another region), tagged managed and with the VM as lineage. start: the restore point PUT
into it with `excludeDisks` and no `sourceRestorePoint`; then poll and finish exactly as a copy
(the instance view reports the cross-region transfer the same way).

Undocumented, read the safe way: whether the copy rules apply (one in flight per collection: the
pair admits one job at a time anyway; the 3-PUTs-per-hour budget: reserved as for copies).
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from shared.arm import bodies
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, StageFailure
from shared.jobs.stages import target_inputs
from shared.jobs.stages.step import Announce, Result, Step, send, step
from shared.model.events import EventType
from shared.model.ids import CollectionId, same_id
from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage
from shared.model.tags import target_collection_tags
from shared.services import Services

log = logging.getLogger(__name__)


def _target(record: JobRecord) -> CollectionId:
    # The job key is the restore point it creates, in the target collection.
    return CollectionId.parse(record.source_restore_point_id.rsplit("/restorePoints/", 1)[0])


async def ensure(services: Services, message: JobMessage, record: JobRecord) -> Step:
    arm = services.arm
    cid = message.correlation_id
    vm_id = record.source_collection_id
    target = _target(record)
    existing = await arm.get_or_none(
        str(target), operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET, correlation_id=cid
    )
    # Lineage: the VM (no source collection: the VM is this collection's source).
    tags = target_collection_tags(None, vm_id)
    if existing is None:
        await arm.put(
            str(target),
            bodies.collection_body(message.target_region, vm_id, tags),
            operation=ArmOperation.RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE,
            correlation_id=cid,
        )
    else:
        points_at = bodies.collection_source_id(existing) or ""
        if not same_id(points_at, vm_id):
            raise StageFailure(
                "TargetCollectionConflict",
                f"target collection {target} exists with source {points_at or 'none'}, not the "
                f"VM {vm_id}; choose another targetCollectionName",
            )
        location = bodies.location(existing)
        if location != message.target_region:
            raise StageFailure(
                "TargetCollectionConflict",
                f"target collection {target} exists in {location or 'an unknown region'}, not "
                f"{message.target_region}",
            )
        await target_inputs.update_if_missing(services, message, target, existing, tags, vm_id)
    return step(
        Result.ADVANCED,
        {"state": JobState.STARTING, "target_collection_id": str(target)},
        send(Stage.START_COPY),
    )


async def start(services: Services, message: JobMessage, record: JobRecord) -> Step:
    arm = services.arm
    cid = message.correlation_id
    assert record.target_collection_id, "ensure-target sets the target collection"
    target_rp = CollectionId.parse(record.target_collection_id).restore_point(
        message.target_restore_point_name
    )
    existing = await arm.get_or_none(
        str(target_rp), operation=ArmOperation.RESTORE_POINTS_GET, correlation_id=cid
    )
    operation_url = message.operation_url
    if existing is None:
        settings = services.settings
        wait = await services.budget.reserve_copy_put(
            str(target_rp.collection),
            services.clock(),
            settings.copy_puts_per_window,
            timedelta(seconds=settings.copy_put_window_seconds),
        )
        if wait > 0:
            return _wait_for_budget(message, wait)
        try:
            response = await arm.put(
                str(target_rp),
                bodies.create_body(record.options.exclude_disks),
                operation=ArmOperation.RESTORE_POINTS_CREATE,
                correlation_id=cid,
            )
            operation_url = response.headers.get("azure-asyncoperation") or operation_url
        except ArmError as exc:
            # Another delivery may have created it a moment ago: the name is this job's own.
            if exc.transient or not await _is_created(services, str(target_rp), cid):
                raise
    elif bodies.copied_from(existing):
        raise StageFailure(
            "TargetRestorePointConflict",
            f"{target_rp} already exists and is a copy of {bodies.copied_from(existing)}, not a "
            "restore point created from the VM",
        )
    started = message.started_at or services.clock()
    return step(
        Result.ADVANCED,
        {
            "state": JobState.REPLICATING,
            "started_at": record.started_at or started,
            "target_restore_point_id": str(target_rp),
            "percent": 0.0,
            "detail": None,
        },
        send(
            Stage.POLL,
            services.settings.poll.initial_seconds,
            started_at=started,
            operation_url=operation_url,
        ),
        Announce(EventType.STARTED),
    )


async def _is_created(services: Services, target_rp: str, cid: str) -> bool:
    body = await services.arm.get_or_none(
        target_rp, operation=ArmOperation.RESTORE_POINTS_GET, correlation_id=cid
    )
    return body is not None and not bodies.copied_from(body)


def _wait_for_budget(message: JobMessage, wait: float) -> Step:
    delay = wait + random.uniform(0.5, 3.0)
    attempts = {**message.attempts, "budget": message.attempts.get("budget", 0) + 1}
    log.info("job %s: PUT budget of the target collection spent; in %.0fs", message.job_id, delay)
    return step(
        Result.WAITING,
        {
            "attempts": attempts,
            "detail": f"restore point PUT budget spent; retrying in {delay:.0f}s",
        },
        send(Stage.START_COPY, delay, attempts=attempts),
    )
