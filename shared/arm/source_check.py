"""Is this restore point something Azure can copy to that region? One check for every caller.

Intake (HTTP, Event Grid, sweep) and the ensure-target stage (for jobs whose intake recorded
nothing) ask the same questions: the source restore point exists, is not itself a copy, and its
collection is in another region. Callers turn a `SourceProblem` into their own error (a 422 for
HTTP, a failed job for a stage); ARM errors are raised as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.arm import bodies
from shared.arm.client import ArmClient
from shared.arm.operations import ArmOperation
from shared.errors import SourceProblem
from shared.model.ids import RestorePointId


@dataclass(frozen=True)
class CollectionFacts:
    """What never changes about a source collection: its region and its VM (the lineage every
    copy records; a restore point names its VM only by a GUID). Kept in process memory, so a
    later copy of the collection reads only its restore point."""

    region: str
    vm_id: str | None
    # The VM's GUID (`sourceMetadata.vmId`) the facts were read with: every restore point
    # carries it, so a collection deleted and re-created under the same name for another VM
    # is noticed and read again instead of being copied with stale lineage.
    vm_guid: str | None = None


@dataclass(frozen=True)
class SourceFacts:
    region: str
    created_at: datetime | None
    # The source collection's VM (`properties.source.id`), kept as lineage; None if not a VM.
    vm_id: str | None = None


def _not_found(source: RestorePointId) -> SourceProblem:
    return SourceProblem(
        "SourceRestorePointNotFound",
        "Source restore point not found",
        f"restore point {source} does not exist (or this app's identity cannot read it)",
    )


async def inspect_source(
    arm: ArmClient,
    source: RestorePointId,
    target_region: str,
    *,
    correlation_id: str | None = None,
) -> SourceFacts:
    """Read the source restore point (and its collection unless this process knows it); raise
    SourceProblem if Azure could not copy it to `target_region`.

    One ARM call either way: the restore point alone when the collection's facts are known,
    else the collection with its restore points (`$expand=restorePoints`), which holds both
    (a cold process reads a big collection's list once, instead of making a second call)."""
    key = str(source.collection).lower()
    collection = _KNOWN_COLLECTIONS.get(key)
    rp: dict[str, Any] | None
    if collection is not None:
        rp = await _get_restore_point(arm, source, correlation_id)
        if rp is None:
            raise _not_found(source)
        guid = bodies.source_vm_guid(rp)
        if collection.vm_guid and guid and guid.lower() != collection.vm_guid.lower():
            # Another VM's restore point under a known name: the collection was re-created.
            rp, collection = await _read_with_collection(arm, source, correlation_id)
    else:
        rp, collection = await _read_with_collection(arm, source, correlation_id)
    if bodies.copied_from(rp):
        raise SourceProblem(
            "CopyOfCopy",
            "Source is a copy",
            f"{source} is itself a cross-region copy; Azure cannot copy a copy. "
            "Copy the original restore point instead.",
        )
    # The restore point's own sourceMetadata.location is the VM's region too; a body without
    # it uses the collection's.
    region = bodies.source_region(rp) or collection.region
    if region == target_region:
        raise SourceProblem(
            "SameRegion",
            "Target region is the source region",
            f"{source} is in {region}; choose a different targetRegion "
            "(Azure does not copy restore points within a region)",
        )
    _remember(key, collection)
    return SourceFacts(region, bodies.time_created(rp), collection.vm_id)


async def _get_restore_point(
    arm: ArmClient, source: RestorePointId, correlation_id: str | None
) -> dict[str, Any] | None:
    return await arm.get_or_none(
        str(source), operation=ArmOperation.RESTORE_POINTS_GET, correlation_id=correlation_id
    )


async def _read_with_collection(
    arm: ArmClient, source: RestorePointId, correlation_id: str | None
) -> tuple[dict[str, Any], CollectionFacts]:
    """The restore point as its collection lists it, and the collection's facts: one GET."""
    rpc = await arm.get_or_none(
        str(source.collection),
        operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
        correlation_id=correlation_id,
        params={"$expand": "restorePoints"},
    )
    if rpc is None:
        raise _not_found(source)  # no collection, no restore point in it
    rp = bodies.contained_restore_point(rpc, source.name)
    if rp is None:
        # Not listed (yet): the restore point's own GET is the authority on whether it exists.
        rp = await _get_restore_point(arm, source, correlation_id)
        if rp is None:
            raise _not_found(source)
    facts = CollectionFacts(
        bodies.location(rpc), bodies.collection_vm_id(rpc), bodies.source_vm_guid(rp)
    )
    return rp, facts


# Collection id (lower-case) -> its facts, in this process. A collection's location and source
# are fixed when it is created; a re-created one is told apart by its VM's GUID.
_KNOWN_COLLECTIONS: dict[str, CollectionFacts] = {}
_KNOWN_COLLECTIONS_MAX = 4096


def _remember(key: str, facts: CollectionFacts) -> None:
    if _KNOWN_COLLECTIONS.get(key) == facts:
        return
    if len(_KNOWN_COLLECTIONS) >= _KNOWN_COLLECTIONS_MAX:
        _KNOWN_COLLECTIONS.clear()
    _KNOWN_COLLECTIONS[key] = facts
