"""Stage 1: the target restore point collection exists in the target region and really points
at this source collection (a collection with another source is a permanent error)."""

from __future__ import annotations

from datetime import datetime

from shared.arm import bodies
from shared.arm.operations import ArmOperation
from shared.arm.source_check import inspect_source
from shared.errors import SourceProblem, StageFailure
from shared.jobs.stages import create_target, target_inputs
from shared.jobs.stages.step import Result, Step, send, step
from shared.model.ids import CollectionId, same_id
from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage
from shared.services import Services


async def run(services: Services, message: JobMessage, record: JobRecord) -> Step:
    if record.options.creates_in_target:
        return await create_target.ensure(services, message, record)
    source = message.source
    if record.source_region is not None:
        # Intake already checked the source (exists, not a copy, another region) and recorded
        # its region and creation time; reading them again would only cost ARM calls.
        source_region, created_at = record.source_region, record.source_created_at
    else:
        source_region, created_at = await _check_source(services, message)

    # The target may live in another subscription (policy target `subscriptionId`).
    target = CollectionId.build(
        record.options.target_subscription(source.subscription_id),
        message.target_resource_group,
        message.target_collection_name,
    )
    if not skips_target_check(record):
        await ensure_collection(services, message, record, target)

    return step(
        Result.ADVANCED,
        {
            "state": JobState.STARTING,
            "target_collection_id": str(target),
            "source_region": source_region,
            "source_created_at": created_at or record.source_created_at,
        },
        send(Stage.START_COPY),
    )


def calls_arm(record: JobRecord) -> bool:
    """Whether `run` has ARM work for this row (else it only decides the step, at once)."""
    return (
        record.options.creates_in_target
        or record.source_region is None
        or not skips_target_check(record)
    )


def skips_target_check(record: JobRecord) -> bool:
    """The pair's last successful copy went into this very collection (admission checked), and
    no copied tags may have changed since: reading the collection again would only cost an ARM
    call. If it was deleted meanwhile, the copy PUT's 404 brings start-copy back here."""
    return record.target_collection_verified and record.options.copy_tags is None


async def ensure_collection(
    services: Services, message: JobMessage, record: JobRecord, target: CollectionId
) -> None:
    """Create the target collection, or check that the existing one is ours to copy into
    and give it the tags it lacks."""
    arm = services.arm
    cid = message.correlation_id
    source = message.source
    existing = await arm.get_or_none(
        str(target), operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET, correlation_id=cid
    )
    tags = await target_inputs.wanted_tags(services, message, record)
    if existing is None:
        await arm.put(
            str(target),
            bodies.target_collection_body(message.target_region, source.collection, tags),
            operation=ArmOperation.RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE,
            correlation_id=cid,
        )
    else:
        check_target_collection(existing, target, source.collection, message.target_region)
        await target_inputs.update_if_missing(
            services, message, target, existing, tags, str(source.collection)
        )


async def _check_source(services: Services, message: JobMessage) -> tuple[str, datetime | None]:
    """The source checks for a job whose intake did not record them."""
    try:
        facts = await inspect_source(
            services.arm,
            message.source,
            message.target_region,
            correlation_id=message.correlation_id,
        )
    except SourceProblem as problem:
        raise StageFailure(problem.code, problem.detail) from None
    return facts.region, facts.created_at


def check_target_collection(
    body: object, target: CollectionId, source: CollectionId, region: str
) -> None:
    """Reuse an existing target collection only if it is the copy target of this source."""
    points_at = bodies.collection_source_id(body) or ""
    if not same_id(points_at, str(source)):
        raise StageFailure(
            "TargetCollectionConflict",
            f"target collection {target} exists with source {points_at or 'none'!s}, not "
            f"{source}; choose another targetCollectionName",
        )
    location = bodies.location(body)
    if location != region:
        raise StageFailure(
            "TargetCollectionConflict",
            f"target collection {target} exists in {location or 'an unknown region'}, not {region}",
        )
