"""The sweep's share of restore drills: start the drills that are due, fail drills that stopped
moving, and delete drill disks that outlived their drill.

- **due**: a pair whose policy has an enabled `drill` section and no drill started within its
  interval gets one (`trigger: schedule`); the drill id is derived from the pair and the
  interval's slot, so two sweeps that both find it due start the same drill.
- **stalled**: a Running drill not updated for `DRILL_TIMEOUT_SECONDS` is cleaned up and failed
  (`DrillStalled`); a drill whose outbox went unsent for a minute has it sent again.
- **poison sink**: a message in `rpcopy-drill-poison-poison` (its poison handler failed on every
  delivery) fails its drill (cleaned up) and is deleted, so nothing stays where nobody looks.
- **leftovers**: in every drill resource group the sweep knows of (the policies' and those of
  recent drills), each disk tagged `rpcopy-drill` whose drill is finished or unknown, or that is
  older than twice the drill timeout, is deleted.

In a dry run (`GET /api/plan`) nothing is started or deleted; the report lists what would be.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from shared.arm.drill_calls import DrillArm
from shared.errors import ArmError, RpcopyError, SourceProblem
from shared.jobs.drill_intake import drill_resource_group, request_drill
from shared.jobs.drill_outbox import deliver_drill, drill_outbox_is_stale
from shared.jobs.drill_runner import fail_and_clean, handle_drill_poison
from shared.model.drills import DRILL_ID, DRILL_TAG, DrillState, new_drill_id
from shared.model.keys import pair_key
from shared.model.resources import CollectionInfo
from shared.policies.resolution import ResolvedTarget
from shared.rules.drills import drill_copy, drill_due, is_leftover, schedule_slot
from shared.services import Services

log = logging.getLogger(__name__)

# How many recent drills the sweep reads (for stalled drills and their resource groups).
RECENT_DRILLS = 200


@dataclass
class DrillSweep:
    due: list[dict[str, Any]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)
    poison_drained: int = 0
    leftovers: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "started": self.started,
            "stalled": self.stalled,
            "poisonDrained": self.poison_drained,
            "leftoverDisks": self.leftovers,
            "deletedDisks": self.deleted,
            "errors": self.errors,
        }


async def sweep_drills(
    services: Services,
    collections: list[tuple[CollectionInfo, list[ResolvedTarget]]],
    *,
    dry_run: bool,
) -> DrillSweep:
    report = DrillSweep()
    if not dry_run:
        sink = f"{services.settings.queues.drill}-poison-poison"
        for text, message_id, receipt in await services.queues.take_raw(sink):
            await handle_drill_poison(services, text)
            await services.queues.delete(sink, message_id, receipt)
            report.poison_drained += 1
    now = services.clock()
    recent = await services.drills.list(limit=RECENT_DRILLS)
    groups: set[tuple[str, str]] = {(d.subscription_id.lower(), d.resource_group) for d in recent}
    for info, targets in collections:
        for target in targets:
            groups.add((target.collection_id.subscription_id.lower(), drill_resource_group(target)))
            if target.drill is None or not target.drill.enabled:
                continue
            try:
                await _schedule(services, info, target, report, dry_run=dry_run)
            except (RpcopyError, SourceProblem) as exc:
                report.errors.append(f"{info.id} -> {target.region}: {exc}")
    timeout = services.settings.drills.timeout_seconds
    for drill in recent:
        if drill.state is not DrillState.RUNNING:
            if drill_outbox_is_stale(drill, now) and not dry_run:
                await deliver_drill(services, drill)
            continue
        if (now - drill.updated_at).total_seconds() > timeout:
            report.stalled.append(drill.id)
            if not dry_run:
                await fail_and_clean(
                    services, drill.id, "DrillStalled", f"no progress for {timeout:.0f} s"
                )
        elif drill_outbox_is_stale(drill, now) and not dry_run:
            await deliver_drill(services, drill)
    for subscription, group in sorted(groups):
        await _leftovers(services, subscription, group, report, dry_run=dry_run)
    return report


async def _schedule(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    report: DrillSweep,
    *,
    dry_run: bool,
) -> None:
    assert target.drill is not None
    interval = target.drill.interval_seconds
    now = services.clock()
    drills = await services.drills.list(
        limit=20, source_collection_id=str(info.id), target_region=target.region
    )
    if not drill_due(drills, interval_seconds=interval, now=now):
        return
    # A create-in-target pair's copies are the VM's (its jobs are keyed by it).
    jobs = await services.ledger.for_pair(pair_key(target.pair_source(info), target.region))
    copy = drill_copy(jobs)
    if copy is None:
        return  # nothing to drill yet; the status says "untested"
    report.due.append(
        {
            "sourceCollectionId": str(info.id),
            "targetRegion": target.region,
            "restorePointId": copy.target_restore_point_id,
            "resourceGroup": drill_resource_group(target),
            "policy": target.policy_name,
        }
    )
    if dry_run:
        return
    slot = schedule_slot(now, interval)
    drill_id = new_drill_id(slot, f"{pair_key(str(info.id), target.region)}|{slot.isoformat()}")
    record, started = await request_drill(
        services, info, target, trigger="schedule", drill_id=drill_id
    )
    if started:
        report.started.append(record.id)


async def _leftovers(
    services: Services, subscription: str, group: str, report: DrillSweep, *, dry_run: bool
) -> None:
    arm = DrillArm(services.arm)
    now = services.clock()
    bound = 2 * services.settings.drills.timeout_seconds
    try:
        disks = [d async for d in arm.list_disks(subscription, group)]
    except ArmError as exc:
        if exc.status != 404:  # a resource group that does not exist holds no leftovers
            report.errors.append(f"listing disks in {group}: {exc}")
        return
    for disk in disks:
        drill_id = next((v for k, v in disk.tags.items() if k.lower() == DRILL_TAG), None)
        if drill_id is None:
            continue
        drill = await services.drills.get(drill_id) if DRILL_ID.fullmatch(drill_id) else None
        if not is_leftover(drill, disk_created_at=None, now=now, bound=bound):
            continue
        report.leftovers.append(disk.id)
        if dry_run:
            continue
        try:
            await arm.delete_disk(disk.id)
            report.deleted.append(disk.id)
            log.info("sweep: deleted drill leftover %s (drill %s)", disk.id, drill_id)
        except ArmError as exc:
            report.errors.append(f"deleting drill leftover {disk.id}: {exc}")
