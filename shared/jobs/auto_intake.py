"""Automatic copies: a new restore point in a protected collection is copied to every target
region its policies name, in parallel. Used by the Event Grid trigger (and shares its reading of
collections with the sweep)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from shared.arm.client import ArmError
from shared.jobs.intake import CopyRequest, IntakeError, request_copy
from shared.model.arm_events import ReadEvent, Verdict
from shared.model.ids import CollectionId, InvalidResourceId, RestorePointId, normalize_region
from shared.model.message import Trigger, parse_arm_time
from shared.policies.core import CollectionInfo, ResolvedTarget
from shared.services import Services
from shared.storage.ledger import JobRecord

log = logging.getLogger(__name__)


def collection_info(body: Mapping[str, Any]) -> CollectionInfo:
    """What policies need to know of a collection, from its ARM body.

    A collection whose `properties.source.id` is another collection is a cross-region copy
    target (ours or anyone's): it is never a source, so its restore points are never copied on.
    """
    cid = CollectionId.parse(body.get("id"), "collection id")
    source_id = ((body.get("properties") or {}).get("source") or {}).get("id")
    try:
        CollectionId.parse(source_id)
        is_copy_target = True
    except InvalidResourceId:
        is_copy_target = False
    tags = body.get("tags") if isinstance(body.get("tags"), Mapping) else {}
    region = normalize_region(str(body.get("location") or "").replace(" ", ""), "location")
    return CollectionInfo(
        id=cid, region=region, tags=dict(tags or {}), is_copy_target=is_copy_target
    )


def request_for(source: RestorePointId, target: ResolvedTarget, trigger: Trigger) -> CopyRequest:
    return CopyRequest(
        source=source,
        target_region=target.region,
        target_resource_group=target.resource_group,
        target_collection_name=target.collection_name,
        trigger=trigger,
    )


async def copy_to_targets(
    services: Services,
    source: RestorePointId,
    info: CollectionInfo,
    created_at: Any,
    targets: list[ResolvedTarget],
    trigger: Trigger,
) -> list[JobRecord]:
    """One copy request per target region, concurrently (fan-out is allowed by Azure)."""
    known = (info.region, created_at)
    results = await asyncio.gather(
        *(
            request_copy(services, request_for(source, t, trigger), known_source=known)
            for t in targets
        ),
        return_exceptions=True,
    )
    jobs: list[JobRecord] = []
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, IntakeError):
            log.warning("copy of %s to %s not requested: %s", source, target.region, result.detail)
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
        rp = await services.arm.get_or_none(str(source), operation="RestorePoints_Get")
        if rp is None:
            log.info("restore point %s no longer exists; nothing to copy", source)
            return []
        if (rp.get("properties") or {}).get("sourceRestorePoint"):
            log.info("restore point %s is a copy; copies are never copied again", source)
            return []
        rpc = await services.arm.get_or_none(
            str(source.collection), operation="RestorePointCollections_Get"
        )
    except ArmError as exc:
        if exc.transient:
            raise
        log.warning("event for %s dropped: ARM refused the lookup: %s", source, exc)
        return []
    if rpc is None:
        log.info("collection %s no longer exists; nothing to copy", source.collection)
        return []
    info = collection_info(rpc)
    resolution = services.policies.resolve(info)
    for problem in resolution.problems:
        log.warning("policy problem for %s: %s", info.id, problem)
    if not resolution.targets:
        log.info("%s is not protected by any policy; not copied", source.collection)
        return []
    created = parse_arm_time((rp.get("properties") or {}).get("timeCreated"))
    return await copy_to_targets(
        services, source, info, created, list(resolution.targets), Trigger.EVENT_GRID
    )
