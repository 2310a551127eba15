"""What the app sends for a target beyond the plain bodies: the target collection's tags
(lineage, copied tags, managed; ensure-target stage) and the copy's encryption input
(start-copy stage).

Lineage (the source VM and collection) is known from the job; copied tags are read from the
source collection, one GET per job that asks for them (tags can change between copies).
Existing target collections missing any of these tags get them with a tags-only update (the
only change Azure allows on a collection), keeping every tag already there.
"""

from __future__ import annotations

from typing import Any

from shared.arm import bodies
from shared.arm.operations import ArmOperation
from shared.errors import StageFailure
from shared.model.ids import CollectionId
from shared.model.job import JobRecord
from shared.model.message import JobMessage
from shared.model.tags import MANAGED_TAG, copied_tags, tags_missing, target_collection_tags
from shared.services import Services


async def wanted_tags(services: Services, message: JobMessage, record: JobRecord) -> dict[str, str]:
    options = record.options
    source = message.source.collection
    vm_id = options.source_vm_id
    copied: dict[str, str] = {}
    if options.copy_tags is not None:
        body = await services.arm.get_or_none(
            str(source),
            operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
            correlation_id=message.correlation_id,
        )
        copied = copied_tags(bodies.collection_tags(body), options.copy_tags)
        vm_id = vm_id or bodies.collection_vm_id(body)
    return target_collection_tags(str(source), vm_id, copied)


async def update_if_missing(
    services: Services,
    message: JobMessage,
    target: CollectionId,
    existing: Any,
    wanted: dict[str, str],
    source_id: str,
) -> None:
    """Add the tags `existing` lacks (a tags-only PUT: same location and source)."""
    present = bodies.collection_tags(existing)
    if not bodies.target_collection_view(existing, str(target)).managed:
        # A collection someone else created is never marked managed by us: that would let
        # retention delete in it.
        wanted = {k: v for k, v in wanted.items() if k.lower() != MANAGED_TAG}
    if not tags_missing(wanted, present):
        return
    lowered = {name.lower() for name in wanted}
    merged = {k: v for k, v in present.items() if k.lower() not in lowered} | wanted
    await services.arm.put(
        str(target),
        bodies.collection_body(message.target_region, source_id, merged),
        operation=ArmOperation.RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE,
        correlation_id=message.correlation_id,
    )


async def copy_body(services: Services, message: JobMessage, record: JobRecord) -> dict[str, Any]:
    """The copy PUT body; with a disk encryption set, the source restore point is read for its
    disks (one GET), so the set is named for each of them."""
    des = record.options.disk_encryption_set_id
    if not des:
        return bodies.copy_body(message.source_restore_point_id)
    source = await services.arm.get_or_none(
        message.source_restore_point_id,
        operation=ArmOperation.RESTORE_POINTS_GET,
        correlation_id=message.correlation_id,
    )
    if source is None:
        raise StageFailure(
            "SourceRestorePointNotFound",
            f"restore point {message.source_restore_point_id} no longer exists; it cannot be "
            "copied",
        )
    return bodies.copy_body(
        message.source_restore_point_id,
        disk_encryption_set_id=des,
        disks=bodies.source_disks(source),
    )
