"""Create-in-target: a restore point created directly in the target region from a VM in another
region (arm-contract §14), as a job like a copy.

`request_create_in_target` is the one entry point (HTTP `POST /api/copies` with `sourceVmId`, the
sweep when a pair's RPO says one is due, and a scheduler). The job has no source restore point:
its pair is (VM, target region), its `source_collection_id` is the VM (the target collection's
own `properties.source.id`), and its `source_restore_point_id` is the restore point it creates in
the target (the job key: the same name is the same job, so a request repeated by any way in
lands on one job). From then on it is tracked like a copy: admission (one in flight per pair, in
request order), ensure-target, start (the PUT with `excludeDisks`), poll, finish, re-runs, events.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.arm.operations import ArmOperation
from shared.errors import InvalidRequest, InvalidResourceId, SourceProblem
from shared.jobs.admission import admit_job, stage_message
from shared.jobs.intake import (
    check_target_region,
    default_collection_name,
    restore_point_name_for_run,
)
from shared.jobs.outbox import deliver, outbox_is_stale
from shared.model.copy_options import CREATE_IN_TARGET, NO_OPTIONS, CopyOptions
from shared.model.ids import (
    CollectionId,
    VirtualMachineId,
    validate_resource_group_name,
    validate_resource_name,
)
from shared.model.job import JobRecord, JobState
from shared.model.keys import create_job_id
from shared.model.message import Stage, Trigger
from shared.services import Services

log = logging.getLogger(__name__)

NAME_PREFIX = "rpcopy-"


@dataclass(frozen=True)
class CreateRequest:
    vm: VirtualMachineId
    target_region: str
    target_resource_group: str | None = None
    target_collection_name: str | None = None
    # None: `rpcopy-<request time, UTC, to the second>`; the sweep passes its slot's name.
    restore_point_name: str | None = None
    trigger: Trigger = Trigger.HTTP
    options: CopyOptions = NO_OPTIONS


def slot_name(at: datetime) -> str:
    """The name of a restore point requested at `at` (UTC)."""
    return NAME_PREFIX + at.strftime("%Y%m%dt%H%M%S")


def _validate(request: CreateRequest, services: Services) -> tuple[str, str, str, str]:
    errors: list[dict[str, str]] = []

    def check(field: str, action: Callable[[], object]) -> None:
        try:
            action()
        except InvalidResourceId as exc:
            errors.append({"field": field, "message": str(exc)})

    region = check_target_region(request.target_region, services, errors)
    group = request.target_resource_group or request.vm.resource_group
    name = request.target_collection_name or default_collection_name(
        request.vm.name, region or "target"
    )
    rp_name = request.restore_point_name or slot_name(services.clock())
    check("targetResourceGroup", lambda: validate_resource_group_name(group))
    check("targetCollectionName", lambda: validate_resource_name(name, "targetCollectionName"))
    check("restorePointName", lambda: validate_resource_name(rp_name, "restorePointName"))
    if errors:
        raise InvalidRequest("Invalid create request", errors[0]["message"], errors=errors)
    return region, group, name, rp_name


async def vm_region(services: Services, vm: VirtualMachineId, target_region: str) -> str:
    """The VM's region; SourceProblem if it does not exist or is in the target region."""
    body = await services.arm.get_or_none(str(vm), operation=ArmOperation.VIRTUAL_MACHINES_GET)
    if body is None:
        raise SourceProblem(
            "SourceVmNotFound",
            "Source VM not found",
            f"virtual machine {vm} does not exist (or this app's identity cannot read it)",
        )
    region = str(body.get("location") or "").replace(" ", "").lower()
    if region == target_region:
        raise SourceProblem(
            "SameRegion",
            "Target region is the VM's region",
            f"{vm} is in {region}; a restore point created in its own region is a local one, "
            "not a DR copy: choose a different targetRegion",
        )
    return region


async def request_create_in_target(
    services: Services, request: CreateRequest, *, known_vm_region: str | None = None
) -> tuple[JobRecord, bool]:
    """Create (or find) the job that creates one restore point of `request.vm` in the target
    region. Returns (job, new_run_started). `known_vm_region` skips the VM lookup (the sweep
    knows it: the VM's own collection is in the VM's region)."""
    region, group, name, rp_name = _validate(request, services)
    source_region = known_vm_region or await vm_region(services, request.vm, region)
    if source_region == region:
        raise SourceProblem(
            "SameRegion",
            "Target region is the VM's region",
            f"{request.vm} is in {region}: choose a different targetRegion",
        )
    options = request.options.model_copy(
        update={"mode": CREATE_IN_TARGET, "source_vm_id": str(request.vm)}
    )
    target = CollectionId.build(
        options.target_subscription(request.vm.subscription_id), group, name
    )
    created_rp = target.restore_point(rp_name)
    now = services.clock()
    fresh = JobRecord(
        job_id=create_job_id(str(request.vm), region, str(created_rp)),
        run=1,
        state=JobState.WAITING,
        # No source restore point: the job is keyed by the restore point it creates.
        source_restore_point_id=str(created_rp),
        source_collection_id=str(request.vm),
        source_region=source_region,
        target_region=region,
        target_resource_group=group,
        target_collection_name=name,
        target_restore_point_name=restore_point_name_for_run(rp_name, 1),
        trigger=request.trigger,
        correlation_id=str(uuid.uuid4()),
        requested_at=now,
        updated_at=now,
        # The restore point is taken when it is created: request order is creation order.
        source_created_at=now,
        detail="admission pending",
        options=options,
    )

    def restart(existing: JobRecord) -> JobRecord | None:
        if existing.state is not JobState.FAILED:
            return None
        again = existing.evolve(
            step=existing.step + 1,
            state=JobState.RERUN_PENDING,
            detail=f"run {existing.run + 1} requested; deleting the failed restore point of "
            f"run {existing.run} first",
            trigger=request.trigger,
            requested_at=now,
            updated_at=now,
            reruns=0,
            next_run_at=now,
            options=options,
        )
        return again.evolve(
            outbox=(stage_message(services, again, Stage.RERUN),), outbox_sent=False
        )

    record, changed = await services.ledger.put_new_or_replace_failed(fresh, restart=restart)
    if changed:
        log.info(
            "create-in-target job %s run %s requested (%s)",
            record.job_id,
            record.run,
            request.trigger.value,
        )
        if record.state is JobState.RERUN_PENDING:
            await deliver(services, record)
            return record, True
        return await admit_job(services, record), True
    if record.state is JobState.WAITING:
        return await admit_job(services, record), False
    if not record.state.terminal and outbox_is_stale(record, services.clock()):
        await deliver(services, record)
    return record, False
