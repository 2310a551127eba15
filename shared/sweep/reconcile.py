"""The timer sweep: reconcile every protected collection against what exists, and the dry run.

Per sweep, ARM is read once per collection list page, once per protected source collection
(`$expand=restorePoints`) and once per target collection: the calls grow with the number of
collections, never with the number of restore points. For each (source collection, target
region) pair the sweep requests the missing restore points oldest first (the copy rules make
them run one at a time, in order), applies retention, judges the recovery-point objective and
repairs jobs a crash left waiting or unsent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared import telemetry
from shared.arm.bodies import collection_info, restore_points_of, target_collection_view
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, InvalidRequest, InvalidResourceId, SourceProblem, StoreError
from shared.jobs.admission import promote_waiting, release_and_promote
from shared.jobs.auto_intake import request_for
from shared.jobs.bulk_intake import NewCopy, request_new_copies
from shared.jobs.creations import CreationReport, apply_source_retention, run_creation
from shared.jobs.intake import request_copy, validate_target
from shared.jobs.outbox import deliver, outbox_is_stale
from shared.jobs.retention_deletes import apply_retention
from shared.jobs.scheduled_copies import copy_pending, finish_slot, scheduled_only, scheduled_plan
from shared.model.ids import RestorePointId
from shared.model.job import JobRecord, JobState
from shared.model.keys import job_id_for, pair_key
from shared.model.message import Trigger
from shared.model.resources import CollectionInfo
from shared.policies.resolution import ResolvedTarget
from shared.rules.protection import pair_status
from shared.rules.retention import plan_retention
from shared.rules.sweep_plan import plan_pair
from shared.services import Services
from shared.sweep.creation import sweep_creation_pair
from shared.sweep.drills import sweep_drills
from shared.sweep.poison_sinks import drain_poison_sinks
from shared.sweep.report import PairReport, SweepReport
from shared.sweep.rpo import announce_rpo

log = logging.getLogger(__name__)

LIST_ALL = "/subscriptions/{sub}/providers/Microsoft.Compute/restorePointCollections"


# -- listing -----------------------------------------------------------------------------------


def subscriptions(services: Services) -> list[str]:
    return sorted(
        set(services.policies.subscriptions()) | set(services.settings.sweep_subscriptions)
    )


async def protected_collections(
    services: Services, report: SweepReport
) -> list[tuple[CollectionInfo, list[ResolvedTarget]]]:
    """Every collection in reach that a policy (file or tags) protects, with its targets."""
    found: list[tuple[CollectionInfo, list[ResolvedTarget]]] = []
    for sub in subscriptions(services):
        async for body in services.arm.list_all(
            LIST_ALL.format(sub=sub), operation=ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL
        ):
            report.collections_listed += 1
            try:
                info = collection_info(body)
            except InvalidResourceId as exc:
                report.problems.append(f"collection listed with an unusable id or location: {exc}")
                continue
            resolution = services.policies.resolve(info)
            report.problems.extend(f"{info.id}: {p}" for p in resolution.problems)
            if resolution.targets:
                found.append((info, list(resolution.targets)))
    report.protected_collections = len(found)
    return found


# -- the sweep ---------------------------------------------------------------------------------


async def sweep(services: Services, *, dry_run: bool, only_scheduled: bool = False) -> SweepReport:
    """The sweep; `only_scheduled` (the schedule timer) acts only on scheduled pairs and on
    collections with scheduled creation, and drains no poison queues."""
    report = SweepReport(started_at=services.clock(), dry_run=dry_run)
    if not dry_run and not only_scheduled:
        report.poison_drained = await drain_poison_sinks(services)
    collections = await protected_collections(services, report)
    if only_scheduled:
        collections = scheduled_only(services, collections)
    limit = asyncio.Semaphore(services.settings.sweep_concurrency)

    async def one(info: CollectionInfo, targets: list[ResolvedTarget]) -> list[PairReport]:
        async with limit:
            return await sweep_collection(
                services, info, targets, dry_run=dry_run, creations=report.creations
            )

    results = await asyncio.gather(*(one(i, t) for i, t in collections), return_exceptions=True)
    for (info, _), result in zip(collections, results, strict=True):
        if isinstance(result, BaseException):
            report.problems.append(f"{info.id}: sweep failed: {result}")
            log.error("sweep of %s failed: %s", info.id, result)
        else:
            report.pairs.extend(result)
    try:
        report.drills = (await sweep_drills(services, collections, dry_run=dry_run)).to_api()
    except (ArmError, StoreError) as exc:
        report.problems.append(f"restore drills: {exc}")
    report.finished_at = services.clock()
    log.info(
        "sweep%s: %d collections listed, %d protected, %d pairs, %d copies requested",
        " (dry run)" if dry_run else "",
        report.collections_listed,
        report.protected_collections,
        len(report.pairs),
        sum(len(p.requested) for p in report.pairs),
    )
    return report


async def sweep_collection(
    services: Services,
    info: CollectionInfo,
    targets: list[ResolvedTarget],
    *,
    dry_run: bool,
    creations: dict[str, CreationReport] | None = None,
) -> list[PairReport]:
    source_body = await services.arm.get(
        str(info.id),
        operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
        params={"$expand": "restorePoints"},
    )
    source_points = restore_points_of(source_body)
    resolution = services.policies.resolve(info)
    create = resolution.create if creations is not None else None
    creation = None
    if create is not None:
        # Before the pairs: a restore point that just finished is copied as an event would.
        creation = await run_creation(
            services, info, create, list(resolution.targets), source_points, dry_run=dry_run
        )
    pairs = list(
        await asyncio.gather(
            *(sweep_pair(services, info, t, source_points, dry_run=dry_run) for t in targets)
        )
    )
    if create is not None and creation is not None and creations is not None:
        # After the pairs: source retention keeps what they still copy or wait on.
        pending = copy_pending(p.plan for p in pairs if p.plan is not None)
        await apply_source_retention(
            services, info, create, creation, source_points, pending, dry_run=dry_run
        )
        creations[str(info.id)] = creation
    return pairs


async def sweep_pair(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    source_points: tuple[Any, ...],
    *,
    dry_run: bool,
) -> PairReport:
    if target.options.creates_in_target:
        return await sweep_creation_pair(services, info, target, dry_run=dry_run)
    report = PairReport(str(info.id), target.region, str(target.collection_id), target.policy_name)
    now = services.clock()
    try:
        target_body = await services.arm.get_or_none(
            str(target.collection_id),
            operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
            params={"$expand": "restorePoints"},
        )
    except ArmError as exc:
        report.errors.append(f"reading the target collection failed: {exc}")
        return report
    view = target_collection_view(target_body, str(target.collection_id))
    key = pair_key(str(info.id), target.region)
    jobs = await services.ledger.for_pair(key)
    report.plan = plan_pair(
        source_points,
        view,
        jobs,
        max_failed_runs=services.settings.sweep_max_failed_runs,
        source_collection_id=str(info.id),
    )
    # Pending for the RPO: the oldest restore point still to copy, a scheduled one included.
    pending = min((c.created_at for c in report.plan.copies if c.created_at), default=None)
    report.plan, report.copy_schedule = await scheduled_plan(services, info, target, report.plan)
    if not dry_run:
        await _request_missing(services, info, target, report, {j.job_id for j in jobs})
        if report.copy_schedule is not None:
            report.skipped_by_schedule = await finish_slot(
                services, info, target, report.copy_schedule
            )
        await _repair(services, key, jobs)
    report.retention = plan_retention(
        view, jobs, keep_last=target.keep_last, max_age_days=target.max_age_days, now=now
    )
    if not dry_run:
        outcome = await apply_retention(services, report.retention)
        report.deleted.extend(outcome.deleted)
        report.errors.extend(outcome.errors)
    jobs = await services.ledger.for_pair(key) if not dry_run else jobs
    schedule = target.copy_schedule
    report.status = pair_status(
        jobs,
        rpo_minutes=target.rpo_minutes,
        now=now,
        pending_source_created_at=pending,
        copy_schedule=schedule.describe() if schedule else None,
        next_copy_slot=schedule.next_after(now) if schedule else None,
    )
    if report.status.age_minutes is not None:
        telemetry.rpo_age.set(
            report.status.age_minutes,
            {"rpcopy.source_collection": str(info.id), "rpcopy.target_region": target.region},
        )
    if not dry_run:
        await announce_rpo(services, info, target, report.status)
    return report


async def _request_missing(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    report: PairReport,
    in_ledger: set[str],
) -> None:
    """Request the plan's copies, oldest first (admission order follows creation order): the
    run of copies with no job yet in one go (`request_new_copies`: batched ledger writes),
    the others one by one (`request_copy`: a failed job's next run, a repair)."""
    assert report.plan is not None
    pending: list[NewCopy] = []

    async def flush() -> None:
        if pending:
            jobs = await request_new_copies(services, pending)
            report.requested.extend(job.job_id for job in jobs)
            pending.clear()

    trigger = Trigger.SCHEDULE if report.copy_schedule is not None else Trigger.SWEEP
    for copy in report.plan.copies:
        try:
            source = RestorePointId.parse(copy.source_restore_point_id)
            request = request_for(source, target, trigger)
            validate_target(request, services)
            known = (info.region, copy.created_at)
            if job_id_for(source, target.region) not in in_ledger:
                pending.append(NewCopy(request, known, info.source_vm_id))
                continue
            await flush()
            job, _ = await request_copy(
                services, request, known_source=known, source_vm_id=info.source_vm_id
            )
            report.requested.append(job.job_id)
        except (InvalidRequest, InvalidResourceId, SourceProblem) as exc:
            report.errors.append(f"{copy.source_restore_point_id}: {exc}")
    await flush()


async def _repair(services: Services, key: str, jobs: list[JobRecord]) -> None:
    """Finish what a crash may have cut short: unsent outboxes and a pair nobody holds."""
    now = services.clock()
    for job in jobs:
        # A cancel (DELETE /api/copies/{id}) ends a job outside the stages: no stage message
        # comes back to finish it, so its unsent event and held pair are finished here.
        cancelled = job.state is JobState.CANCELLED
        if (cancelled or not job.state.terminal) and outbox_is_stale(job, now):
            log.warning("job %s: re-sending step %s messages left unsent", job.job_id, job.step)
            await deliver(services, job)
            if cancelled:
                await release_and_promote(services, job)
    await promote_waiting(services, key)
