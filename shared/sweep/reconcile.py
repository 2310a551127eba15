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
from shared.errors import ArmError, InvalidRequest, InvalidResourceId, SourceProblem
from shared.jobs.admission import promote_waiting, release_and_promote
from shared.jobs.auto_intake import request_for
from shared.jobs.intake import request_copy
from shared.jobs.outbox import deliver, outbox_is_stale
from shared.jobs.retention_deletes import apply_retention
from shared.model.ids import RestorePointId
from shared.model.job import JobRecord, JobState
from shared.model.keys import pair_key
from shared.model.message import Trigger
from shared.model.resources import CollectionInfo
from shared.policies.resolution import ResolvedTarget
from shared.rules.protection import pair_status
from shared.rules.retention import plan_retention
from shared.rules.sweep_plan import plan_pair
from shared.services import Services
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


async def sweep(services: Services, *, dry_run: bool) -> SweepReport:
    report = SweepReport(started_at=services.clock(), dry_run=dry_run)
    if not dry_run:
        report.poison_drained = await drain_poison_sinks(services)
    collections = await protected_collections(services, report)
    limit = asyncio.Semaphore(services.settings.sweep_concurrency)

    async def one(info: CollectionInfo, targets: list[ResolvedTarget]) -> list[PairReport]:
        async with limit:
            return await sweep_collection(services, info, targets, dry_run=dry_run)

    results = await asyncio.gather(*(one(i, t) for i, t in collections), return_exceptions=True)
    for (info, _), result in zip(collections, results, strict=True):
        if isinstance(result, BaseException):
            report.problems.append(f"{info.id}: sweep failed: {result}")
            log.error("sweep of %s failed: %s", info.id, result)
        else:
            report.pairs.extend(result)
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
    services: Services, info: CollectionInfo, targets: list[ResolvedTarget], *, dry_run: bool
) -> list[PairReport]:
    source_body = await services.arm.get(
        str(info.id),
        operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
        params={"$expand": "restorePoints"},
    )
    source_points = restore_points_of(source_body)
    return list(
        await asyncio.gather(
            *(sweep_pair(services, info, t, source_points, dry_run=dry_run) for t in targets)
        )
    )


async def sweep_pair(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    source_points: tuple[Any, ...],
    *,
    dry_run: bool,
) -> PairReport:
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
    if not dry_run:
        await _request_missing(services, info, target, report)
        await _repair(services, key, jobs)
    report.retention = plan_retention(
        view, jobs, keep_last=target.keep_last, max_age_days=target.max_age_days, now=now
    )
    if not dry_run:
        outcome = await apply_retention(services, report.retention)
        report.deleted.extend(outcome.deleted)
        report.errors.extend(outcome.errors)
    jobs = await services.ledger.for_pair(key) if not dry_run else jobs
    pending = min((c.created_at for c in report.plan.copies if c.created_at), default=None)
    report.status = pair_status(
        jobs, rpo_minutes=target.rpo_minutes, now=now, pending_source_created_at=pending
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
    services: Services, info: CollectionInfo, target: ResolvedTarget, report: PairReport
) -> None:
    assert report.plan is not None
    for copy in report.plan.copies:  # oldest first: admission order follows creation order
        try:
            source = RestorePointId.parse(copy.source_restore_point_id)
            job, _ = await request_copy(
                services,
                request_for(source, target, Trigger.SWEEP),
                known_source=(info.region, copy.created_at),
            )
            report.requested.append(job.job_id)
        except (InvalidRequest, InvalidResourceId, SourceProblem) as exc:
            report.errors.append(f"{copy.source_restore_point_id}: {exc}")


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
