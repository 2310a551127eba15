"""The sweep of a create-in-target pair (VM, target region): request a restore point when the
RPO says one is due (`shared.rules.creation_plan`), apply retention, judge the RPO.

The pair's source collection (the VM's own collection, which the policy matched) stands for the
VM: its `properties.source.id` names it and its region is the VM's.
"""

from __future__ import annotations

import dataclasses
import logging

from shared.arm.bodies import target_collection_view
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, InvalidRequest, InvalidResourceId, SourceProblem
from shared.jobs.admission import promote_waiting
from shared.jobs.create_intake import CreateRequest, request_create_in_target, slot_name
from shared.jobs.outbox import deliver, outbox_is_stale
from shared.jobs.retention_deletes import apply_retention
from shared.model.ids import VirtualMachineId
from shared.model.keys import pair_key
from shared.model.message import Trigger
from shared.model.resources import CollectionInfo, TargetCollectionView
from shared.policies.resolution import ResolvedTarget
from shared.rules.creation_plan import plan_creation
from shared.rules.protection import pair_status
from shared.rules.retention import plan_retention
from shared.services import Services
from shared.sweep.report import PairReport
from shared.sweep.rpo import announce_rpo

log = logging.getLogger(__name__)


def as_created(view: TargetCollectionView) -> TargetCollectionView:
    """The target collection with each restore point named as its own source: a created restore
    point's job is keyed by the restore point itself, so retention pairs them like copies."""
    points = tuple(
        dataclasses.replace(rp, source_restore_point_id=rp.source_restore_point_id or rp.id)
        for rp in view.restore_points
    )
    return dataclasses.replace(view, restore_points=points)


def creation_request(vm: VirtualMachineId, target: ResolvedTarget, name: str) -> CreateRequest:
    return CreateRequest(
        vm=vm,
        target_region=target.region,
        target_resource_group=target.resource_group,
        target_collection_name=target.collection_name,
        restore_point_name=name,
        trigger=Trigger.SWEEP,
        options=target.options,
    )


async def sweep_creation_pair(
    services: Services, info: CollectionInfo, target: ResolvedTarget, *, dry_run: bool
) -> PairReport:
    report = PairReport(str(info.id), target.region, str(target.collection_id), target.policy_name)
    report.mode = target.options.mode
    if info.source_vm_id is None:
        report.errors.append(
            "create-in-target needs the collection's source to be a VM; this one's is not"
        )
        return report
    vm = VirtualMachineId.parse(info.source_vm_id)
    now = services.clock()
    key = pair_key(str(vm), target.region)
    jobs = await services.ledger.for_pair(key)
    report.creation = plan_creation(jobs, rpo_minutes=target.rpo_minutes, now=now)
    if report.creation.due and not dry_run:
        assert report.creation.slot_start is not None
        name = slot_name(report.creation.slot_start)
        try:
            job, _ = await request_create_in_target(
                services, creation_request(vm, target, name), known_vm_region=info.region
            )
            report.requested.append(job.job_id)
        except (InvalidRequest, InvalidResourceId, SourceProblem) as exc:
            report.errors.append(f"creating a restore point of {vm}: {exc}")
        jobs = await services.ledger.for_pair(key)
    try:
        target_body = await services.arm.get_or_none(
            str(target.collection_id),
            operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
            params={"$expand": "restorePoints"},
        )
    except ArmError as exc:
        report.errors.append(f"reading the target collection failed: {exc}")
        return report
    view = as_created(target_collection_view(target_body, str(target.collection_id)))
    report.retention = plan_retention(
        view, jobs, keep_last=target.keep_last, max_age_days=target.max_age_days, now=now
    )
    if not dry_run:
        outcome = await apply_retention(services, report.retention)
        report.deleted.extend(outcome.deleted)
        report.errors.extend(outcome.errors)
        jobs = await services.ledger.for_pair(key)
    if not dry_run:
        # What a crash may have cut short: unsent outboxes, a pair nobody holds.
        for job in jobs:
            if not job.state.terminal and outbox_is_stale(job, now):
                await deliver(services, job)
        await promote_waiting(services, key)
    report.status = pair_status(jobs, rpo_minutes=target.rpo_minutes, now=now)
    if not dry_run:
        await announce_rpo(services, info, target, report.status, pair_source=str(vm))
    return report
