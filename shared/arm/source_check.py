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
    # The restore point names its VM's region (sourceMetadata.location), and Azure keeps a
    # VM's local collection in the VM's region: that is the collection's region, without
    # reading the collection. A body without it (the field is read-only and not promised by
    # the spec) falls back to the collection itself: the safe reading.
    region = bodies.source_region(rp) or await _collection_region(arm, source, correlation_id)
    if region == target_region:
        raise SourceProblem(
            "SameRegion",
            "Target region is the source region",
            f"{source} is in {region}; choose a different targetRegion "
            "(Azure does not copy restore points within a region)",
        )
    return SourceFacts(region, bodies.time_created(rp))


async def _collection_region(
    arm: ArmClient, source: RestorePointId, correlation_id: str | None
) -> str:
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
    return bodies.location(rpc)
