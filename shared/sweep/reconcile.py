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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.arm.client import ArmError
from shared.jobs.admission import promote_waiting
from shared.jobs.auto_intake import collection_info, request_for
from shared.jobs.intake import IntakeError, request_copy
from shared.jobs.outbox import deliver, outbox_is_stale
from shared.model import events
from shared.model.ids import CollectionId, InvalidResourceId, RestorePointId
from shared.model.message import Trigger
from shared.policies.core import CollectionInfo, ResolvedTarget
from shared.rules.copy_rules import pair_key
from shared.rules.protection import PairStatus, breach_event_key, pair_status
from shared.rules.protection import to_api as status_to_api
from shared.rules.retention import RetentionPlan, plan_retention
from shared.rules.sweep_plan import (
    PairPlan,
    TargetCollectionView,
    plan_pair,
    restore_points_from_collection,
)
from shared.services import Services
from shared.storage.ledger import JobRecord

log = logging.getLogger(__name__)

LIST_ALL = "/subscriptions/{sub}/providers/Microsoft.Compute/restorePointCollections"


@dataclass
class PairReport:
    source_collection_id: str
    target_region: str
    target_collection_id: str
    policy: str
    plan: PairPlan | None = None
    retention: RetentionPlan | None = None
    status: PairStatus | None = None
    requested: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sourceCollectionId": self.source_collection_id,
            "targetRegion": self.target_region,
            "targetCollectionId": self.target_collection_id,
            "policy": self.policy,
        }
        if self.plan is not None:
            body["plan"] = self.plan.to_api()
        if self.retention is not None:
            body["retention"] = self.retention.to_api()
        if self.status is not None:
            body["protection"] = status_to_api(self.status)
        if self.requested:
            body["requestedJobs"] = self.requested
        if self.deleted:
            body["deleted"] = self.deleted
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass
class SweepReport:
    started_at: datetime
    dry_run: bool
    finished_at: datetime | None = None
    collections_listed: int = 0
    protected_collections: int = 0
    pairs: list[PairReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
            "collectionsListed": self.collections_listed,
            "protectedCollections": self.protected_collections,
            "pairs": [p.to_api() for p in self.pairs],
            "problems": self.problems,
        }


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
            LIST_ALL.format(sub=sub), operation="RestorePointCollections_ListAll"
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


def target_view(target: ResolvedTarget, body: Mapping[str, Any] | None) -> TargetCollectionView:
    if body is None:
        return TargetCollectionView.missing(str(target.collection_id))
    return TargetCollectionView.from_arm(body, str(target.collection_id))


# -- the sweep ---------------------------------------------------------------------------------


async def sweep(services: Services, *, dry_run: bool) -> SweepReport:
    report = SweepReport(started_at=services.clock(), dry_run=dry_run)
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
        str(info.id), operation="RestorePointCollections_Get", params={"$expand": "restorePoints"}
    )
    source_points = restore_points_from_collection(source_body)
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
            operation="RestorePointCollections_Get",
            params={"$expand": "restorePoints"},
        )
    except ArmError as exc:
        report.errors.append(f"reading the target collection failed: {exc}")
        return report
    view = target_view(target, target_body)
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
        await apply_retention(services, report.retention, report)
    jobs = await services.ledger.for_pair(key) if not dry_run else jobs
    pending = min((c.created_at for c in report.plan.copies if c.created_at), default=None)
    report.status = pair_status(
        jobs, rpo_minutes=target.rpo_minutes, now=now, pending_source_created_at=pending
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
        except (IntakeError, InvalidResourceId) as exc:
            report.errors.append(f"{copy.source_restore_point_id}: {exc}")


async def _repair(services: Services, key: str, jobs: list[JobRecord]) -> None:
    """Finish what a crash may have cut short: unsent outboxes and a pair nobody holds."""
    now = services.clock()
    for job in jobs:
        if not job.state.terminal and outbox_is_stale(job, now):
            log.warning("job %s: re-sending step %s messages left unsent", job.job_id, job.step)
            await deliver(services, job)
    await promote_waiting(services, key)


# -- retention ---------------------------------------------------------------------------------


async def apply_retention(services: Services, plan: RetentionPlan, report: PairReport) -> None:
    for deletion in plan.deletions:
        try:
            await delete_copy(
                services,
                deletion.target_restore_point_id,
                deletion.reason,
                deletion.source_restore_point_id,
            )
            report.deleted.append(deletion.target_restore_point_id)
        except ArmError as exc:
            report.errors.append(f"deleting {deletion.target_restore_point_id} failed: {exc}")


async def delete_copy(
    services: Services, target_rp: str, reason: str, source_rp: str | None
) -> None:
    """Delete one target copy (an ARM long-running DELETE) and announce it."""
    arm = services.arm
    response = await arm.request(
        "DELETE", target_rp, operation="RestorePoints_Delete", accept_status=(404,)
    )
    if response.status != 404:
        result = await arm.wait_for_completion(
            "DELETE", target_rp, response, operation="RestorePoints_Delete"
        )
        if not result.succeeded:
            raise result.error or ArmError("delete failed", code="DeleteFailed")
    now = services.clock()
    event = events.cloud_event(
        events.EventType.RETENTION_DELETED,
        source=services.settings.event_source,
        subject=target_rp,
        time=now,
        data={
            "targetRestorePointId": target_rp,
            "sourceRestorePointId": source_rp,
            "reason": reason,
            "deletedAt": now.isoformat(),
        },
        id_parts=(target_rp.lower(),),
    )
    await services.rules.record_deletion(target_rp, source_rp, reason, now)
    await services.emit(events.encode(event))
    log.info("retention deleted %s: %s", target_rp, reason)


async def retention_after_success(services: Services, record: JobRecord) -> None:
    """After a copy succeeds, prune its target collection per policy (best effort)."""
    try:
        source = CollectionId.parse(record.source_collection_id)
        body = await services.arm.get_or_none(str(source), operation="RestorePointCollections_Get")
        if body is None:
            return
        info = collection_info(body)
        target = next(
            (
                t
                for t in services.policies.resolve(info).targets
                if t.region == record.target_region
            ),
            None,
        )
        if target is None or (target.keep_last is None and target.max_age_days is None):
            return
        if (
            not record.target_collection_id
            or record.target_collection_id.lower() != str(target.collection_id).lower()
        ):
            return  # the copy went elsewhere (a manual request): not this policy's collection
        target_body = await services.arm.get_or_none(
            record.target_collection_id,
            operation="RestorePointCollections_Get",
            params={"$expand": "restorePoints"},
        )
        jobs = await services.ledger.for_pair(record.pair_key)
        plan = plan_retention(
            target_view(target, target_body),
            jobs,
            keep_last=target.keep_last,
            max_age_days=target.max_age_days,
            now=services.clock(),
        )
        log.info(
            "retention after job %s: %d to delete, kept %s",
            record.job_id,
            len(plan.deletions),
            ", ".join(
                f"{k.target_restore_point_id.rsplit('/', 1)[-1]}={k.reason}" for k in plan.kept
            ),
        )
        report = PairReport(
            str(info.id), target.region, str(target.collection_id), target.policy_name
        )
        await apply_retention(services, plan, report)
        for error in report.errors:
            log.warning("retention after job %s: %s", record.job_id, error)
    except (ArmError, InvalidResourceId) as exc:
        log.warning("retention after job %s skipped: %s", record.job_id, exc)


# -- recovery-point objective --------------------------------------------------------------------


async def announce_rpo(
    services: Services, info: CollectionInfo, target: ResolvedTarget, status: PairStatus
) -> None:
    """Emit an RPO-breach event when a pair crosses its objective (ok/at-risk -> breached).

    The pair row keeps the last judged state, so a breach that lasts several sweeps (first no
    copy at all, then a copy that is still too old) is announced once; recovering and breaching
    again is a new crossing."""
    breach = breach_event_key(status)
    announce: list[bool] = []

    def mutate(pair: Any) -> Any:
        announce.clear()
        crossed = breach is not None and pair.rpo_state != "breached"
        if pair.rpo_state == status.rpo_state and not crossed:
            return None
        if crossed:
            announce.append(True)
            return pair.evolve(rpo_state=status.rpo_state, rpo_breach_announced_for=breach)
        return pair.evolve(rpo_state=status.rpo_state)

    await services.rules.update_pair(str(info.id), target.region, mutate)
    if not announce:
        return
    event = events.cloud_event(
        events.EventType.RPO_BREACHED,
        source=services.settings.event_source,
        subject=str(info.id),
        time=services.clock(),
        data={
            "sourceCollectionId": str(info.id),
            "targetRegion": target.region,
            "policy": target.policy_name,
            "protection": status_to_api(status),
        },
        id_parts=(str(info.id).lower(), target.region, breach),
    )
    await services.emit(events.encode(event))
    log.warning("RPO breached for %s -> %s", info.id, target.region)


async def protection(services: Services) -> dict[str, Any]:
    """`GET /api/protection`: every protected pair's status, from ARM's collection list and
    the ledger (no per-restore-point calls)."""
    report = SweepReport(started_at=services.clock(), dry_run=True)
    collections = await protected_collections(services, report)
    now = services.clock()
    pairs: list[dict[str, Any]] = []
    for info, targets in collections:
        for target in targets:
            jobs = await services.ledger.for_pair(pair_key(str(info.id), target.region))
            status = pair_status(jobs, rpo_minutes=target.rpo_minutes, now=now)
            pairs.append(
                {
                    "sourceCollectionId": str(info.id),
                    "sourceRegion": info.region,
                    "targetRegion": target.region,
                    "targetCollectionId": str(target.collection_id),
                    "policy": target.policy_name,
                    **status_to_api(status),
                }
            )
    return {"generatedAt": now.isoformat(), "pairs": pairs, "problems": report.problems}
