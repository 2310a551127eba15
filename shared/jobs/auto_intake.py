"""Automatic copies: a new restore point in a protected collection is copied to every target
region its policies name, in parallel. Used by the Event Grid trigger (and shares its reading of
collections with the sweep)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared.arm import bodies
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, InvalidRequest, SourceProblem
from shared.jobs.intake import CopyRequest, request_copy
from shared.model.arm_events import ReadEvent, Verdict
from shared.model.ids import RestorePointId
from shared.model.job import JobRecord
from shared.model.message import Trigger
from shared.model.resources import CollectionInfo
from shared.policies.resolution import ResolvedTarget
from shared.services import Services

log = logging.getLogger(__name__)


def request_for(source: RestorePointId, target: ResolvedTarget, trigger: Trigger) -> CopyRequest:
    return CopyRequest(
        source=source,
        target_region=target.region,
        target_resource_group=target.resource_group,
        target_collection_name=target.collection_name,
        trigger=trigger,
        options=target.options,
    )


async def copy_to_targets(
    services: Services,
    source: RestorePointId,
    info: CollectionInfo,
    created_at: Any,
    targets: list[ResolvedTarget],
    trigger: Trigger,
) -> list[JobRecord]:
    """One copy request per target region, concurrently (fan-out is allowed by Azure).

    A target with a copy schedule is left to its schedule (the sweep and the schedule timer
    copy at its slots): the event does not copy to it now."""
    for target in targets:
        if target.copy_schedule is not None:
            log.info(
                "copy of %s to %s waits for its copy schedule (%s)",
                source,
                target.region,
                target.copy_schedule.describe(),
            )
    targets = [t for t in targets if t.copy_schedule is None]
    known = (info.region, created_at)
    # A create-in-target pair takes no copies of source restore points: its restore points are
    # created from the VM (by the sweep, HTTP or a schedule, shared/jobs/create_intake.py).
    targets = [t for t in targets if not t.options.creates_in_target]
    results = await asyncio.gather(
        *(
            request_copy(
                services,
                request_for(source, t, trigger),
                known_source=known,
                source_vm_id=info.source_vm_id,
            )
            for t in targets
        ),
        return_exceptions=True,
    )
    jobs: list[JobRecord] = []
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, InvalidRequest | SourceProblem):
            log.warning("copy of %s to %s not requested: %s", source, target.region, result)
        elif isinstance(result, BaseException):
            raise result
        else:
            jobs.append(result[0])
    return jobs


async def on_restore_point_written(services: Services, event: ReadEvent) -> list[JobRecord]:
    """Handle a classified Event Grid event. Raises only for transient trouble (so Event Grid
    redelivers); anything about the event itself is logged and dropped."""
    if event.verdict is Verdict.IGNORED:
        log.debug("event %s ignored: %s", event.event_id, event.reason)
        return []
    if event.verdict is Verdict.MALFORMED or event.restore_point is None:
        log.warning("malformed event %s dropped: %s", event.event_id, event.reason)
        return []
    source = event.restore_point
    try:
        rp = await services.arm.get_or_none(str(source), operation=ArmOperation.RESTORE_POINTS_GET)
        if rp is None:
            log.info("restore point %s no longer exists; nothing to copy", source)
            return []
        if bodies.copied_from(rp):
            log.info("restore point %s is a copy; copies are never copied again", source)
            return []
        rpc = await services.arm.get_or_none(
            str(source.collection), operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET
        )
    except ArmError as exc:
        if exc.transient:
            raise
        log.warning("event for %s dropped: ARM refused the lookup: %s", source, exc)
        return []
    if rpc is None:
        log.info("collection %s no longer exists; nothing to copy", source.collection)
        return []
    info = bodies.collection_info(rpc)
    resolution = services.policies.resolve(info)
    for problem in resolution.problems:
        log.warning("policy problem for %s: %s", info.id, problem)
    if not resolution.targets:
        log.info("%s is not protected by any policy; not copied", source.collection)
        return []
    created = bodies.time_created(rp)
    return await copy_to_targets(
        services, source, info, created, list(resolution.targets), Trigger.EVENT_GRID
    )
