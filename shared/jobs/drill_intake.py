"""Starting a restore drill (HTTP `POST /api/drills` and the sweep's schedule).

A drill needs a protected pair (a policy or tags name the target region for the source
collection) and a usable copy in it (the newest Succeeded copy job). One drill runs per pair at a
time: asking again while one runs answers the running drill. The drill's disks go to the
policy's drill resource group, else the target's resource group, in the target's subscription.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from shared.arm.bodies import collection_info
from shared.arm.operations import ArmOperation
from shared.errors import SourceProblem
from shared.jobs.drill_outbox import deliver_drill
from shared.model.drills import (
    DrillPair,
    DrillPhase,
    DrillRecord,
    DrillState,
    OutboxItem,
    encode_drill_message,
    new_drill_id,
)
from shared.model.ids import CollectionId
from shared.model.keys import pair_key
from shared.model.regions import normalize_region
from shared.model.resources import CollectionInfo
from shared.policies.resolution import ResolvedTarget
from shared.rules.drills import drill_copy
from shared.services import Services

log = logging.getLogger(__name__)


def drill_resource_group(target: ResolvedTarget) -> str:
    if target.drill is not None and target.drill.resource_group:
        return target.drill.resource_group
    return target.resource_group


async def resolve_pair(
    services: Services, source_collection_id: CollectionId, target_region: str
) -> tuple[CollectionInfo, ResolvedTarget]:
    """The protected pair, or SourceProblem saying why there is none."""
    region = normalize_region(target_region, "targetRegion")
    body = await services.arm.get_or_none(
        str(source_collection_id), operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET
    )
    if body is None:
        raise SourceProblem(
            "SourceCollectionNotFound",
            "Source collection not found",
            f"{source_collection_id} does not exist",
        )
    info = collection_info(body)
    for target in services.policies.targets_for(info):
        if target.region == region:
            return info, target
    raise SourceProblem(
        "PairNotProtected",
        "Pair not protected",
        f"no policy or tag copies {source_collection_id} to {region}; a drill needs a "
        "protected pair",
    )


async def request_drill(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    *,
    trigger: str,
    drill_id: str | None = None,
) -> tuple[DrillRecord, bool]:
    """Start a drill for the pair (or answer the one running). (record, started)."""
    now = services.clock()
    running = await services.drills.list(
        limit=5,
        state=DrillState.RUNNING,
        source_collection_id=str(info.id),
        target_region=target.region,
    )
    if running:
        return running[0], False
    # A create-in-target pair's copies are the VM's (its jobs are keyed by it).
    jobs = await services.ledger.for_pair(pair_key(target.pair_source(info), target.region))
    copy = drill_copy(jobs)
    if copy is None:
        raise SourceProblem(
            "NoUsableCopy",
            "No usable copy to drill",
            f"the pair {info.id} -> {target.region} has no usable copy yet; a drill restores "
            "the newest usable copy",
        )
    record = new_drill(
        services, info, target, copy.job_id, copy.target_restore_point_id,
        copy.source_restore_point_id, trigger=trigger, now=now,
        drill_id=drill_id or new_drill_id(now, uuid.uuid4().hex),
    )  # fmt: skip
    stored, created = await services.drills.start(record, services.clock)
    if created:
        log.info("restore drill %s started (%s) for %s", stored.id, trigger, copy.job_id)
    await deliver_drill(services, stored)
    return stored, created


def new_drill(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    copy_job_id: str,
    restore_point_id: str | None,
    source_restore_point_id: str,
    *,
    trigger: str,
    now: datetime,
    drill_id: str,
) -> DrillRecord:
    return DrillRecord(
        id=drill_id,
        state=DrillState.RUNNING,
        phase=DrillPhase.CREATE,
        pair=DrillPair(
            source_collection_id=str(info.id),
            target_region=target.region,
            target_collection_id=str(target.collection_id),
            policy=target.policy_name,
        ),
        trigger=trigger,
        subscription_id=target.collection_id.subscription_id,
        resource_group=drill_resource_group(target),
        started_at=now,
        updated_at=now,
        restore_point_id=restore_point_id,
        source_restore_point_id=source_restore_point_id,
        copy_job_id=copy_job_id,
        step=0,
        outbox=(
            OutboxItem(
                queue=services.settings.queues.drill, text=encode_drill_message(drill_id, 0)
            ),
        ),
        outbox_sent=False,
    )
