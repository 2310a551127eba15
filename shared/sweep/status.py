"""The protection status of every protected pair (`GET /api/protection`)."""

from __future__ import annotations

from typing import Any

from shared.model.keys import pair_key
from shared.model.times import iso
from shared.rules.drills import drill_status
from shared.rules.protection import pair_status
from shared.rules.protection import to_api as status_to_api
from shared.services import Services
from shared.sweep.reconcile import protected_collections
from shared.sweep.report import SweepReport


async def protection(services: Services) -> dict[str, Any]:
    """`GET /api/protection`: every protected pair's status, from ARM's collection list and
    the ledger (no per-restore-point calls)."""
    report = SweepReport(started_at=services.clock(), dry_run=True)
    collections = await protected_collections(services, report)
    now = services.clock()
    pairs: list[dict[str, Any]] = []
    for info, targets in collections:
        create = services.policies.resolve(info).create
        creation = (
            {
                "createSchedule": create.schedule.describe(),
                "nextCreateAt": iso(create.schedule.next_after(now)),
            }
            if create is not None
            else {}
        )
        for target in targets:
            source = target.pair_source(info)
            creates = target.options.creates_in_target and source != str(info.id)
            jobs = await services.ledger.for_pair(pair_key(source, target.region))
            schedule = target.copy_schedule
            status = pair_status(
                jobs,
                rpo_minutes=target.rpo_minutes,
                now=now,
                copy_schedule=schedule.describe() if schedule else None,
                next_copy_slot=schedule.next_after(now) if schedule else None,
            )
            drills = await services.drills.list(
                limit=20, source_collection_id=str(info.id), target_region=target.region
            )
            interval = target.drill.interval_seconds if target.drill else None
            drill = drill_status(drills, interval_seconds=interval, now=now)
            pairs.append(
                {
                    **({"mode": target.options.mode, "sourceVmId": source} if creates else {}),
                    "sourceCollectionId": str(info.id),
                    "sourceRegion": info.region,
                    "targetRegion": target.region,
                    "targetCollectionId": str(target.collection_id),
                    "policy": target.policy_name,
                    **status_to_api(status),
                    **creation,
                    "drill": drill.to_api(),  # restore drills (shared/rules/drills.py)
                }
            )
    return {"generatedAt": iso(now), "pairs": pairs, "problems": report.problems}
