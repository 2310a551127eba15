"""Scheduled restore point creation, carried out per source collection (its VM), then source
retention. Called by the sweep and by the schedule timer with the collection's fresh listing.

A creation is a record first (the claim of the slot: `shared.storage.schedules`), then an ARM
PUT of `rpcopy-<slot time>` in the source collection, then (once Azure reports it Succeeded) the
same copy requests an Event Grid event would make, to every policy region. Refusals, Azure's
and our own early ones (one creation at a time per VM, 500 restore points per VM), are retried
`CREATE_MAX_ATTEMPTS` times `CREATE_RETRY_SECONDS` apart when they can pass, and otherwise end
the record as Failed with the reason and an `rpcopy.creation.failed` event: never a silent skip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.arm.operations import ArmOperation
from shared.errors import ArmError
from shared.jobs.auto_intake import copy_to_targets
from shared.model import events
from shared.model.ids import RestorePointId, id_key
from shared.model.keys import collection_key
from shared.model.message import Trigger
from shared.model.resources import CollectionInfo, RestorePointView
from shared.model.schedule import due_slot
from shared.model.times import iso
from shared.policies.resolution import ResolvedCreate, ResolvedTarget
from shared.rules.source_retention import (
    Refusal,
    SourceRetentionPlan,
    created_name,
    creation_refusal,
    plan_source_retention,
)
from shared.services import Services
from shared.storage.schedules import (
    CreationRecord,
    CreationState,
    CreationStore,
    ScheduleKind,
)

log = logging.getLogger(__name__)

# ARM codes that mean "not now" rather than "never" for a creation (arm-contract §12).
_RETRYABLE_CODES = {"VMRestorePointInternalError", "OperationNotAllowed"}


@dataclass
class CreationReport:
    schedule: str
    next_slot: datetime
    due_slot: datetime | None = None
    records: list[CreationRecord] = field(default_factory=list)
    retention: SourceRetentionPlan | None = None
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schedule": self.schedule,
            "nextSlot": iso(self.next_slot),
            "dueSlot": iso(self.due_slot),
            "creations": [r.to_api() for r in sorted(self.records, key=lambda r: r.slot)[-10:]],
        }
        if self.retention is not None:
            body["retention"] = self.retention.to_api()
        if self.deleted:
            body["deleted"] = self.deleted
        if self.errors:
            body["errors"] = self.errors
        return {k: v for k, v in body.items() if v is not None}


def _store(services: Services) -> CreationStore:
    if services.creations is None:
        raise RuntimeError("the creation store is not configured")
    return services.creations


async def run_creation(
    services: Services,
    info: CollectionInfo,
    create: ResolvedCreate,
    targets: list[ResolvedTarget],
    points: tuple[RestorePointView, ...],
    *,
    dry_run: bool,
) -> CreationReport:
    """Follow up open creations (copies of new ones go out as an event's would), then act on a
    due slot. Source retention is `apply_source_retention`, once the pairs are planned."""
    now = services.clock()
    store = _store(services)
    report = CreationReport(create.schedule.describe(), create.schedule.next_after(now))
    assert services.slots is not None
    last = await services.slots.last_fired(ScheduleKind.CREATE, collection_key(str(info.id)))
    report.due_slot = due_slot(create.schedule, now, last)
    records = {r.restore_point_name: r for r in await store.for_collection(str(info.id))}
    if not dry_run:
        for record in list(records.values()):
            if record.state.open or (
                record.state is CreationState.SUCCEEDED and not record.copies_requested
            ):
                records[record.restore_point_name] = await _follow_up(
                    services, info, create, targets, points, record
                )
        if report.due_slot is not None:
            record = await _claim(services, info, create, report.due_slot)
            if record is not None:
                records[record.restore_point_name] = await _attempt(
                    services, info, create, points, record
                )
    report.records = list(records.values())
    return report


async def apply_source_retention(
    services: Services,
    info: CollectionInfo,
    create: ResolvedCreate,
    report: CreationReport,
    points: tuple[RestorePointView, ...],
    copy_pending: set[str],
    *,
    dry_run: bool,
) -> None:
    """Plan (and unless `dry_run`, carry out) the create section's source retention."""
    if create.keep_last is None and create.max_age_days is None:
        return
    created = {
        id_key(r.restore_point_id)
        for r in report.records
        if r.state in (CreationState.SUCCEEDED, CreationState.CREATING)
    }
    report.retention = plan_source_retention(
        points,
        created_by_app=created,
        copy_pending=copy_pending,
        keep_last=create.keep_last,
        max_age_days=create.max_age_days,
        now=services.clock(),
    )
    if not dry_run:
        await _delete(services, info, report)


async def _claim(
    services: Services, info: CollectionInfo, create: ResolvedCreate, slot: datetime
) -> CreationRecord | None:
    now = services.clock()
    record = CreationRecord(
        collection_id=str(info.id),
        restore_point_name=created_name(slot),
        slot=slot,
        state=CreationState.PENDING,
        policy_name=create.policy_name,
        requested_at=now,
        updated_at=now,
    )
    claimed = await _store(services).claim(record)
    assert services.slots is not None
    await services.slots.advance(ScheduleKind.CREATE, collection_key(str(info.id)), slot)
    return record if claimed else None


async def _save(
    services: Services, before: CreationRecord, after: CreationRecord
) -> tuple[CreationRecord, bool]:
    """Write `after` only if the row is still `before` (ETag-guarded): when two hosts follow up
    one creation, the first to act wins and the other leaves its result alone."""
    stored, changed = await _store(services).update(
        before.collection_id,
        before.restore_point_name,
        lambda current: after if current == before else None,
    )
    return (stored or before), changed


async def _fail(
    services: Services, before: CreationRecord, record: CreationRecord, code: str, reason: str
) -> CreationRecord:
    now = services.clock()
    failed, changed = await _save(
        services,
        before,
        record.evolve(
            state=CreationState.FAILED,
            code=code,
            reason=reason,
            updated_at=now,
            next_attempt_at=None,
        ),
    )
    if not changed:
        return failed  # another host moved it on first
    await services.emit(events.encode(_event(services, events.EventType.CREATION_FAILED, failed)))
    log.warning("creating %s failed: %s: %s", record.restore_point_id, code, reason)
    return failed


def _event(services: Services, kind: events.EventType, record: CreationRecord) -> dict[str, Any]:
    return events.cloud_event(
        kind,
        identity=services.settings.event_identity,
        subject=record.restore_point_id,
        time=services.clock(),
        data={
            **record.to_api(),
            "collectionId": record.collection_id,
            "trigger": Trigger.SCHEDULE.value,
        },
        id_parts=(record.restore_point_id.lower(), record.state.value),
    )


async def _retry_or_fail(
    services: Services, before: CreationRecord, record: CreationRecord, code: str, reason: str
) -> CreationRecord:
    """Another attempt later, or Failed once the attempts are spent."""
    settings = services.settings
    if record.attempts >= settings.create_max_attempts:
        return await _fail(
            services,
            before,
            record,
            code,
            f"{reason} (gave up after {record.attempts} attempts, "
            f"{settings.create_retry_seconds:g} s apart)",
        )
    now = services.clock()
    later = now + timedelta(seconds=settings.create_retry_seconds)
    log.info("creating %s refused (%s); again at %s", record.restore_point_id, code, later)
    stored, _ = await _save(
        services,
        before,
        record.evolve(code=code, reason=reason, next_attempt_at=later, updated_at=now),
    )
    return stored


async def _attempt(
    services: Services,
    info: CollectionInfo,
    create: ResolvedCreate,
    points: tuple[RestorePointView, ...],
    record: CreationRecord,
) -> CreationRecord:
    """One PUT of the restore point (after our own checks of Azure's limits)."""
    before = record
    record = record.evolve(attempts=record.attempts + 1, updated_at=services.clock())
    refusal = creation_refusal(points)
    if refusal is not None:
        code, reason = refusal
        if code is Refusal.RESTORE_POINT_LIMIT:
            return await _fail(services, before, record, code.value, reason)
        return await _retry_or_fail(services, before, record, code.value, reason)
    properties: dict[str, Any] = {}
    if create.consistency_mode:
        properties["consistencyMode"] = create.consistency_mode
    if create.exclude_disks:
        properties["excludeDisks"] = [{"id": disk} for disk in create.exclude_disks]
    try:
        await services.arm.put(
            record.restore_point_id,
            {"properties": properties},
            operation=ArmOperation.RESTORE_POINTS_CREATE,
        )
    except ArmError as exc:
        concurrent = "concurrent" in exc.message.lower()
        if exc.transient or concurrent or exc.code in _RETRYABLE_CODES:
            code = Refusal.CONCURRENT_CREATION.value if concurrent else exc.code
            return await _retry_or_fail(services, before, record, code, str(exc))
        return await _fail(services, before, record, exc.code, str(exc))
    # The PUT was accepted: the long-running creation is followed up from later listings.
    log.info("creating %s (slot %s)", record.restore_point_id, iso(record.slot))
    stored, _ = await _save(
        services,
        before,
        record.evolve(
            state=CreationState.CREATING,
            code=None,
            reason=None,
            next_attempt_at=None,
            updated_at=services.clock(),
        ),
    )
    return stored


async def _follow_up(
    services: Services,
    info: CollectionInfo,
    create: ResolvedCreate,
    targets: list[ResolvedTarget],
    points: tuple[RestorePointView, ...],
    record: CreationRecord,
) -> CreationRecord:
    now = services.clock()
    if record.state is CreationState.PENDING:
        if record.next_attempt_at is not None and record.next_attempt_at > now:
            return record
        listed = _listed(points, record)
        if listed is not None:  # a PUT accepted before a crash: it exists, follow it
            record, _ = await _save(services, record, record.evolve(state=CreationState.CREATING))
        else:
            return await _attempt(services, info, create, points, record)
    listed = _listed(points, record)
    if record.state is CreationState.CREATING:
        state = (listed.provisioning_state or "") if listed else ""
        if listed is None:
            if now - record.updated_at > timedelta(hours=1):
                return await _fail(
                    services,
                    record,
                    record,
                    "RestorePointMissing",
                    "the restore point was accepted but is not in the collection",
                )
            return record
        if state.lower() in ("failed", "canceled"):
            return await _fail(
                services,
                record,
                record,
                f"Provisioning{state.title()}",
                f"Azure reports provisioningState {state} for the new restore point",
            )
        if state.lower() not in ("succeeded", ""):
            return record
        record, changed = await _save(
            services,
            record,
            record.evolve(
                state=CreationState.SUCCEEDED, created_at=listed.created_at, updated_at=now
            ),
        )
        if changed:
            await services.emit(
                events.encode(_event(services, events.EventType.CREATION_SUCCEEDED, record))
            )
    if record.state is CreationState.SUCCEEDED and not record.copies_requested and listed:
        await copy_to_targets(
            services,
            RestorePointId.parse(record.restore_point_id),
            info,
            listed.created_at,
            targets,
            Trigger.SCHEDULE,
        )
        # Copy requests are idempotent (job ids), so a second host doing this too is harmless.
        record, _ = await _save(services, record, record.evolve(copies_requested=True))
    return record


def _listed(
    points: tuple[RestorePointView, ...], record: CreationRecord
) -> RestorePointView | None:
    wanted = id_key(record.restore_point_id)
    return next((p for p in points if id_key(p.id) == wanted), None)


async def _delete(services: Services, info: CollectionInfo, report: CreationReport) -> None:
    assert report.retention is not None
    for deletion in report.retention.deletions:
        rp = deletion.restore_point_id
        try:
            response = await services.arm.request(
                "DELETE", rp, operation=ArmOperation.RESTORE_POINTS_DELETE, accept_status=(404,)
            )
            if response.status != 404:
                result = await services.arm.wait_for_completion(
                    "DELETE", rp, response, operation=ArmOperation.RESTORE_POINTS_DELETE
                )
                if not result.succeeded:
                    raise result.error or ArmError("delete failed", code="DeleteFailed")
        except ArmError as exc:
            report.errors.append(f"deleting {rp} failed: {exc}")
            continue
        now = services.clock()
        name = rp.rsplit("/", 1)[-1]
        await _store(services).update(
            str(info.id),
            name,
            lambda r, at=now: r.evolve(state=CreationState.DELETED, updated_at=at),
        )
        event = events.cloud_event(
            events.EventType.SOURCE_RETENTION_DELETED,
            identity=services.settings.event_identity,
            subject=rp,
            time=now,
            data={"restorePointId": rp, "reason": deletion.reason, "deletedAt": iso(now)},
            id_parts=(rp.lower(),),
        )
        await services.emit(events.encode(event))
        report.deleted.append(rp)
        log.info("source retention deleted %s: %s", rp, deletion.reason)
