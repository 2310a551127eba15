"""Is this restore point something Azure can copy to that region? One check for every caller.

Intake (HTTP, Event Grid, sweep) and the ensure-target stage (for jobs whose intake recorded
nothing) ask the same questions: the source restore point exists, is not itself a copy, and its
collection is in another region. Callers turn a `SourceProblem` into their own error (a 422 for
HTTP, a failed job for a stage); ARM errors are raised as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.arm import bodies
from shared.arm.client import ArmClient
from shared.arm.operations import ArmOperation
from shared.errors import SourceProblem
from shared.model.ids import RestorePointId


@dataclass(frozen=True)
class SourceFacts:
    region: str
    created_at: datetime | None
    # The source collection's VM (`properties.source.id`), kept as lineage; None if not a VM.
    vm_id: str | None = None


async def inspect_source(
    arm: ArmClient, source: RestorePointId, target_region: str, *, correlation_id: str | None = None
) -> SourceFacts:
    """Read the source restore point and its collection; raise SourceProblem if Azure could not
    copy it to `target_region`."""
    rp = await arm.get_or_none(
        str(source), operation=ArmOperation.RESTORE_POINTS_GET, correlation_id=correlation_id
    )
    if rp is None:
        raise SourceProblem(
            "SourceRestorePointNotFound",
            "Source restore point not found",
            f"restore point {source} does not exist (or this app's identity cannot read it)",
        )
    if bodies.copied_from(rp):
        raise SourceProblem(
            "CopyOfCopy",
            "Source is a copy",
            f"{source} is itself a cross-region copy; Azure cannot copy a copy. "
            "Copy the original restore point instead.",
        )
    # The source collection is read once per process: its region and VM (the lineage every copy
    # records; a restore point names its VM only by a GUID) never change. The restore point's
    # own sourceMetadata.location is the VM's region too; a body without it uses the collection's.
    collection = await _collection_facts(arm, source, correlation_id)
    region = bodies.source_region(rp) or collection.region
    if region == target_region:
        raise SourceProblem(
            "SameRegion",
            "Target region is the source region",
            f"{source} is in {region}; choose a different targetRegion "
            "(Azure does not copy restore points within a region)",
        )
    return SourceFacts(region, bodies.time_created(rp), collection.vm_id)


@dataclass(frozen=True)
class _CollectionFacts:
    region: str
    vm_id: str | None


# Collection id (lower-case) -> its facts. A collection's location and source are fixed when it
# is created; a collection deleted and re-created under the same name for another VM is the one
# case this can be stale in, and then only the lineage of copies requested by this process.
_KNOWN_COLLECTIONS: dict[str, _CollectionFacts] = {}
_KNOWN_COLLECTIONS_MAX = 4096


async def _collection_facts(
    arm: ArmClient, source: RestorePointId, correlation_id: str | None
) -> _CollectionFacts:
    key = str(source.collection).lower()
    known = _KNOWN_COLLECTIONS.get(key)
    if known is not None:
        return known
    rpc = await arm.get_or_none(
        str(source.collection),
        operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
        correlation_id=correlation_id,
    )
    if rpc is None:
        raise SourceProblem(
            "SourceCollectionNotFound",
            "Source collection not found",
            f"collection {source.collection} does not exist "
            "(or this app's identity cannot read it)",
        )
    facts = _CollectionFacts(bodies.location(rpc), bodies.collection_vm_id(rpc))
    if len(_KNOWN_COLLECTIONS) >= _KNOWN_COLLECTIONS_MAX:
        _KNOWN_COLLECTIONS.clear()
    _KNOWN_COLLECTIONS[key] = facts
    return facts
