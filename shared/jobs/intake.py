"""Turn a copy request (HTTP, Event Grid or the sweep) into a job: validate, dedupe, enqueue.

The job id is derived from (source restore point, target region), so every intake path lands on
the same ledger row: a copy that is queued, running, done or superseded is returned as it is; a
failed one starts a new run (Azure cannot resume a failed copy, so the run gets a new target
restore point name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.arm.client import current_job_id
from shared.arm.source_check import inspect_source
from shared.errors import InvalidRequest, InvalidResourceId
from shared.jobs.admission import admit_job, stage_message
from shared.jobs.outbox import deliver, outbox_is_stale
from shared.model.copy_options import NO_OPTIONS, CopyOptions
from shared.model.ids import (
    MAX_RESOURCE_NAME,
    RestorePointId,
    validate_resource_group_name,
    validate_resource_name,
)
from shared.model.job import JobRecord, JobState
from shared.model.keys import job_id_for
from shared.model.message import Stage, Trigger
from shared.model.regions import known_regions, normalize_region
from shared.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CopyRequest:
    source: RestorePointId
    target_region: str
    target_resource_group: str | None = None
    target_collection_name: str | None = None
    trigger: Trigger = Trigger.HTTP
    extra: dict[str, Any] = field(default_factory=dict)
    # Target subscription, encryption set and copied tags (lineage is filled in by intake).
    options: CopyOptions = NO_OPTIONS


def default_collection_name(source_collection: str, target_region: str) -> str:
    """`{source collection}-{target region}`, trimmed to ARM's 80-character names."""
    suffix = f"-{target_region}"
    return source_collection[: MAX_RESOURCE_NAME - len(suffix)] + suffix


def restore_point_name_for_run(source_name: str, run: int) -> str:
    if run == 1:
        return source_name
    suffix = f"-run{run}"
    return source_name[: MAX_RESOURCE_NAME - len(suffix)] + suffix


def check_target_region(value: str, services: Services, errors: list[dict[str, str]]) -> str:
    """The normalized target region ("" and a `targetRegion` entry in `errors` if it is not a
    region this deployment knows)."""
    try:
        region = normalize_region(value, "targetRegion")
    except InvalidResourceId as exc:
        errors.append({"field": "targetRegion", "message": str(exc)})
        return ""
    if region not in known_regions(services.settings.extra_regions):
        errors.append(
            {
                "field": "targetRegion",
                "message": f"{region!r} is not a known Azure region (add it to EXTRA_REGIONS "
                "if it is new)",
            }
        )
    return region


def validate_target(request: CopyRequest, services: Services) -> tuple[str, str, str]:
    """Region, resource group and collection name of the target, or InvalidRequest."""
    errors: list[dict[str, str]] = []
    region = check_target_region(request.target_region, services, errors)
    group = request.target_resource_group or request.source.collection.resource_group
    try:
        validate_resource_group_name(group, "targetResourceGroup")
    except InvalidResourceId as exc:
        errors.append({"field": "targetResourceGroup", "message": str(exc)})
    name = request.target_collection_name or default_collection_name(
        request.source.collection.name, region or "target"
    )
    try:
        validate_resource_name(name, "targetCollectionName")
    except InvalidResourceId as exc:
        errors.append({"field": "targetCollectionName", "message": str(exc)})
    if errors:
        raise InvalidRequest("Invalid copy request", errors[0]["message"], errors=errors)
    return region, group, name


def new_run_requested(
    services: Services,
    existing: JobRecord,
    *,
    trigger: Trigger,
    source_region: str | None = None,
    source_created_at: datetime | None = None,
    options: CopyOptions | None = None,
) -> JobRecord:
    """A failed (or cancelled) job asked to run again, by way of the rerun stage: the ended
    run's copy must be deleted first (Azure keeps one copy of a source restore point per target
    region). The ended run goes into the job's history."""
    now = services.clock()
    again = existing.evolve(
        step=existing.step + 1,
        state=JobState.RERUN_PENDING,
        detail=f"run {existing.run + 1} requested; deleting the copy of run {existing.run} first",
        trigger=trigger,
        requested_at=now,
        updated_at=now,
        reruns=0,
        next_run_at=now,
        next_attempt_at=None,
        source_region=source_region or existing.source_region,
        source_created_at=source_created_at or existing.source_created_at,
        history=existing.with_run_recorded(existing.state, now),
        target_collection_verified=False,  # a new run checks its target collection again
        # The new run takes the request's options (a fixed encryption set, say); lineage once
        # known is kept.
        options=existing.options
        if options is None
        else options.model_copy(
            update={"source_vm_id": options.source_vm_id or existing.options.source_vm_id}
        ),
    )
    return again.evolve(outbox=(stage_message(services, again, Stage.RERUN),), outbox_sent=False)


def fresh_record(
    request: CopyRequest,
    target: tuple[str, str, str],
    known_source: tuple[str, datetime | None],
    now: datetime,
    options: CopyOptions | None = None,
) -> JobRecord:
    """The ledger row of a new job (Waiting for admission) for a validated request; `target`
    is (region, resource group, collection name) from `validate_target`; `options` default to
    the request's (with the lineage the caller found)."""
    region, group, name = target
    source_region, source_created_at = known_source
    return JobRecord(
        job_id=job_id_for(request.source, region),
        run=1,
        state=JobState.WAITING,
        source_restore_point_id=str(request.source),
        source_collection_id=str(request.source.collection),
        source_region=source_region,
        target_region=region,
        target_resource_group=group,
        target_collection_name=name,
        target_restore_point_name=restore_point_name_for_run(request.source.name, 1),
        trigger=request.trigger,
        correlation_id=str(uuid.uuid4()),
        requested_at=now,
        updated_at=now,
        source_created_at=source_created_at,
        detail="admission pending",
        options=request.options if options is None else options,
    )


async def request_copy(
    services: Services,
    request: CopyRequest,
    *,
    known_source: tuple[str, datetime | None] | None = None,
    source_vm_id: str | None = None,
) -> tuple[JobRecord, bool]:
    """Create (or find) the job for this request. Returns (job, new_run_started).

    `known_source` (region, creation time) skips the ARM lookup when the caller (the sweep)
    has just listed the source restore point; `source_vm_id` is then the source collection's
    VM as the caller read it (lineage).
    """
    region, group, name = validate_target(request, services)
    token = current_job_id.set(job_id_for(request.source, region))
    try:
        return await _request_copy(
            services, request, region, group, name, known_source, source_vm_id
        )
    finally:
        current_job_id.reset(token)


async def _request_copy(
    services: Services,
    request: CopyRequest,
    region: str,
    group: str,
    name: str,
    known_source: tuple[str, datetime | None] | None,
    source_vm_id: str | None,
) -> tuple[JobRecord, bool]:
    if known_source is None:
        # The pair row is read beside the source (admission needs it next: its update then
        # writes without reading again), one round trip fewer for the caller.
        pair_read = asyncio.ensure_future(
            services.pairs.get(str(request.source.collection), region)
        )
        try:
            # SourceProblem and ArmError go up as they are: each caller words them its own way.
            facts = await inspect_source(services.arm, request.source, region)
        except BaseException:
            pair_read.cancel()
            with contextlib.suppress(BaseException):
                await pair_read
            raise
        await pair_read
        known_source = (facts.region, facts.created_at)
        source_vm_id = facts.vm_id
    source_region, source_created_at = known_source
    options = request.options.model_copy(update={"source_vm_id": source_vm_id})
    now = services.clock()
    fresh = fresh_record(request, (region, group, name), known_source, now, options)

    def restart(existing: JobRecord) -> JobRecord | None:
        if existing.state is JobState.SKIPPED_BY_SCHEDULE and request.trigger is Trigger.HTTP:
            # Copy schedules: a skipped restore point asked for by hand is copied after all
            # (admission still supersedes it if something newer was copied meanwhile).
            return fresh.evolve(step=existing.step + 1)
        if existing.state is not JobState.FAILED:
            return None
        return new_run_requested(
            services,
            existing,
            trigger=request.trigger,
            source_region=source_region,
            source_created_at=source_created_at,
            options=options,
        )

    record, changed = await services.ledger.put_new_or_replace_failed(fresh, restart=restart)
    if changed:
        log.info("job %s run %s requested (%s)", record.job_id, record.run, request.trigger.value)
        if record.state is JobState.RERUN_PENDING:
            await deliver(services, record)
            return record, True
        return await admit_job(services, record), True
    if record.state is JobState.WAITING:
        # Admission may have been cut short by a crash; deciding again is idempotent.
        return await admit_job(services, record), False
    if not record.state.terminal and outbox_is_stale(record, services.clock()):
        # An earlier request or stage stored a step but died before sending; finish its work.
        await deliver(services, record)
    return record, False
