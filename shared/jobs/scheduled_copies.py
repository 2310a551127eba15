"""Copy schedules, carried out: at a pair's due slot request the one copy the schedule chose,
record the restore points it passed over as `SkippedBySchedule` jobs (with an event), then
mark the slot as acted on.

Every effect is idempotent (job ids are derived from the restore point and region, a skipped
record is written only where no job exists or one failed), and the slot row only moves forward
under its ETag; so two hosts acting on one slot leave exactly what one would, and a host that
died half way is finished by the next sweep or schedule tick.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from shared.jobs.admission import job_event_out
from shared.jobs.outbox import deliver
from shared.model import events
from shared.model.ids import RestorePointId, id_key
from shared.model.job import JobRecord, JobState
from shared.model.keys import job_id_for, pair_key
from shared.model.message import Trigger
from shared.model.resources import CollectionInfo
from shared.model.schedule import Schedule
from shared.policies.resolution import ResolvedTarget
from shared.rules.schedules import ScheduledCopy, decide_scheduled_copy, skip_message
from shared.rules.sweep_plan import PairPlan, PlannedCopy, SkipReason
from shared.services import Services
from shared.storage.schedules import ScheduleKind, SlotStore

log = logging.getLogger(__name__)


def slot_store(services: Services) -> SlotStore:
    if services.slots is None:
        raise RuntimeError("the schedule slot store is not configured")
    return services.slots


async def scheduled_plan(
    services: Services, info: CollectionInfo, target: ResolvedTarget, plan: PairPlan
) -> tuple[PairPlan, ScheduledCopy | None]:
    """The plan as the pair's copy schedule changes it (unchanged without a schedule)."""
    if target.copy_schedule is None:
        return plan, None
    key = pair_key(str(info.id), target.region)
    last = await slot_store(services).last_fired(ScheduleKind.COPY, key)
    decision = decide_scheduled_copy(
        plan, target.copy_schedule, now=services.clock(), last_fired=last
    )
    return decision.plan(plan), decision


async def finish_slot(
    services: Services, info: CollectionInfo, target: ResolvedTarget, decision: ScheduledCopy
) -> list[str]:
    """After the chosen copy was requested: record the skipped ones, then the slot."""
    if decision.slot is None:
        return []
    skipped: list[str] = []
    for item in decision.skipped:
        record = await record_skipped(services, info, target, item, decision)
        if record is not None:
            skipped.append(record.job_id)
    await slot_store(services).advance(
        ScheduleKind.COPY, pair_key(str(info.id), target.region), decision.slot
    )
    log.info(
        "copy schedule %s for %s -> %s: slot %s acted on, copy %s, %d skipped",
        decision.schedule.describe(),
        info.id,
        target.region,
        decision.slot.isoformat(),
        decision.chosen_id or "none",
        len(decision.skipped),
    )
    return skipped


async def record_skipped(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    item: PlannedCopy,
    decision: ScheduledCopy,
) -> JobRecord | None:
    """A terminal `SkippedBySchedule` job for `item` (a failed job of it is ended that way);
    any other job of it is left alone. Returns the record when this call wrote it."""
    source = RestorePointId.parse(item.source_restore_point_id)
    now = services.clock()
    detail = skip_message(decision.slot, decision.chosen_id)
    record = JobRecord(
        job_id=job_id_for(source, target.region),
        run=1,
        state=JobState.SKIPPED_BY_SCHEDULE,
        source_restore_point_id=str(source),
        source_collection_id=str(info.id),
        source_region=info.region,
        target_region=target.region,
        target_resource_group=target.resource_group,
        target_collection_name=target.collection_name,
        target_restore_point_name=source.name,
        trigger=Trigger.SCHEDULE,
        correlation_id=str(uuid.uuid4()),
        requested_at=now,
        updated_at=now,
        finished_at=now,
        source_created_at=item.created_at,
        step=1,
        detail=detail,
    )
    record = record.evolve(
        outbox=(job_event_out(services, record, events.EventType.SKIPPED_BY_SCHEDULE),),
        outbox_sent=False,
    )

    def end_failed(existing: JobRecord) -> JobRecord | None:
        if existing.state is not JobState.FAILED:
            return None
        ended = existing.evolve(
            state=JobState.SKIPPED_BY_SCHEDULE,
            step=existing.step + 1,
            detail=detail,
            updated_at=now,
            finished_at=now,
        )
        return ended.evolve(
            outbox=(job_event_out(services, ended, events.EventType.SKIPPED_BY_SCHEDULE),),
            outbox_sent=False,
        )

    stored, changed = await services.ledger.put_new_or_replace_failed(record, restart=end_failed)
    if not changed:
        return None
    await deliver(services, stored)
    return stored


# Plan entries that mean a copy is in flight from, or waiting on, a source restore point.
_PENDING_REASONS = frozenset(
    {
        SkipReason.IN_FLIGHT,
        SkipReason.WAITING,
        SkipReason.RERUN_PENDING,
        SkipReason.WAITING_FOR_SCHEDULE,
    }
)


def copy_pending(plans: Iterable[PairPlan]) -> set[str]:
    """`id_key`s of source restore points some pair still copies or will copy: source
    retention never deletes them."""
    pending: set[str] = set()
    for plan in plans:
        pending.update(id_key(c.source_restore_point_id) for c in plan.copies)
        pending.update(
            id_key(s.source_restore_point_id) for s in plan.skipped if s.reason in _PENDING_REASONS
        )
    return pending


def scheduled_only(
    services: Services, collections: list[tuple[CollectionInfo, list[ResolvedTarget]]]
) -> list[tuple[CollectionInfo, list[ResolvedTarget]]]:
    """What the schedule timer acts on: scheduled pairs, and collections with creation (all
    their targets then, for the copies of what it creates)."""
    chosen: list[tuple[CollectionInfo, list[ResolvedTarget]]] = []
    for info, targets in collections:
        if services.policies.resolve(info).create is not None:
            chosen.append((info, targets))
            continue
        scheduled = [t for t in targets if t.copy_schedule is not None]
        if scheduled:
            chosen.append((info, scheduled))
    return chosen


def policy_schedules(services: Services) -> list[Schedule]:
    """Every schedule in the policy file (tag policies have none)."""
    found: list[Schedule] = []
    for policy in services.policies.policies:
        if policy.create is not None:
            found.append(policy.create.schedule.schedule())
        found.extend(t.copy_schedule.schedule() for t in policy.targets if t.copy_schedule)
    return found
