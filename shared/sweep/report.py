"""What a sweep found and did, per pair and in all (the body of `GET /api/plan`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.model.times import iso
from shared.rules.creation_plan import CreationPlan
from shared.rules.protection import PairStatus
from shared.rules.protection import to_api as status_to_api
from shared.rules.retention import RetentionPlan
from shared.rules.schedules import ScheduledCopy
from shared.rules.sweep_plan import PairPlan


@dataclass
class PairReport:
    source_collection_id: str
    target_region: str
    target_collection_id: str
    policy: str
    plan: PairPlan | None = None
    # create-in-target pairs: whether a new restore point is due (instead of `plan`).
    creation: CreationPlan | None = None
    mode: str = "copy"
    retention: RetentionPlan | None = None
    status: PairStatus | None = None
    requested: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Copy schedules: the schedule's verdict now, and the jobs recorded as skipped by it.
    copy_schedule: ScheduledCopy | None = None
    skipped_by_schedule: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sourceCollectionId": self.source_collection_id,
            "targetRegion": self.target_region,
            "targetCollectionId": self.target_collection_id,
            "policy": self.policy,
        }
        if self.mode != "copy":
            body["mode"] = self.mode
        if self.plan is not None:
            body["plan"] = self.plan.to_api()
        if self.creation is not None:
            body["creation"] = self.creation.to_api()
        if self.retention is not None:
            body["retention"] = self.retention.to_api()
        if self.status is not None:
            body["protection"] = status_to_api(self.status)
        if self.copy_schedule is not None:
            body["copySchedule"] = self.copy_schedule.to_api()
        if self.skipped_by_schedule:
            body["skippedBySchedule"] = self.skipped_by_schedule
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
    # Messages taken from `-poison-poison` queues and turned into failed jobs, per queue.
    poison_drained: dict[str, int] = field(default_factory=dict)
    # Scheduled creation per source collection id (shared/jobs/creations.py).
    creations: dict[str, Any] = field(default_factory=dict)
    # Restore drills: due, started, stalled, leftover disks (shared/sweep/drills.py DrillSweep).
    drills: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "drills": self.drills,
            "poisonDrained": self.poison_drained,
            "dryRun": self.dry_run,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "collectionsListed": self.collections_listed,
            "protectedCollections": self.protected_collections,
            "pairs": [p.to_api() for p in self.pairs],
            "creations": [
                {"sourceCollectionId": cid, **c.to_api()} for cid, c in self.creations.items()
            ],
            "problems": self.problems,
        }
