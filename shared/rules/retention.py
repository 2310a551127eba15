"""Pure decision: which copies in a target collection retention deletes, and why the rest stay.

Policy (docs/policies.md): `keepLast` N keeps the N newest usable copies, `maxAgeDays` D keeps
copies whose recovery point is younger than D days; with both, a copy is kept if EITHER rule
keeps it. No retention settings keep everything.

Guards that hold whatever the policy says:

- only copies (restore points with `sourceRestorePoint`) in a collection the app created (tag
  rpcopy-managed=true) are ever deleted;
- the newest usable copy is never deleted (a `maxAgeDays`-only policy would otherwise empty the
  collection when the source stops producing restore points);
- a copy whose job is still running is never deleted (`replicating`);
- a copy whose state we do not know is never deleted (`unknown-state`): no ledger job, a job that
  Failed or was Superseded, or a restore point that is not provisioned. A failed copy is left for
  a human: Azure gives no detail on a failed copy, and the restore point may be what they need to
  look at. It also stays out of the keepLast count, so it never displaces a usable copy.

"Usable" means: the ledger job of the copy Succeeded (every disk reported replication succeeded
at 100 %) and the restore point is provisioned. The job is matched by target restore point id,
else by source restore point id (a job records its target id only once the copy was started).
Usable copies are ranked newest first by their recovery point's creation time (the copy's
`timeCreated`, which Azure sets to the source's; else the job's `source_created_at`), ties by
id. A usable copy with no known creation time cannot be aged or ranked and is kept
(`no-creation-time`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.model.ids import id_key
from shared.model.job import JobRecord, JobState
from shared.model.resources import RestorePointView, TargetCollectionView
from shared.model.times import iso, utc
from shared.rules.sweep_plan import jobs_by_source, order_key


class KeepReason(StrEnum):
    WITHIN_KEEP_LAST = "within-keep-last"
    YOUNGER_THAN_MAX_AGE = "younger-than-max-age"
    # Kept only by the guard: no rule of the policy keeps it.
    NEWEST_USABLE = "newest-usable"
    REPLICATING = "replicating"
    NOT_MANAGED = "not-managed"
    UNKNOWN_STATE = "unknown-state"
    NO_POLICY = "no-policy"
    # A restore point in the target that is not a copy (it has no sourceRestorePoint).
    NOT_A_COPY = "not-a-copy"
    NO_CREATION_TIME = "no-creation-time"
    # Azure is already deleting it.
    DELETING = "deleting"


@dataclass(frozen=True)
class PlannedDeletion:
    target_restore_point_id: str
    source_restore_point_id: str
    created_at: datetime
    reason: str
    job_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = {
            "targetRestorePointId": self.target_restore_point_id,
            "sourceRestorePointId": self.source_restore_point_id,
            "createdAt": iso(self.created_at),
            "reason": self.reason,
            "jobId": self.job_id,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class Kept:
    target_restore_point_id: str
    reason: KeepReason
    source_restore_point_id: str | None = None
    created_at: datetime | None = None
    job_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = {
            "targetRestorePointId": self.target_restore_point_id,
            "reason": self.reason.value,
            "sourceRestorePointId": self.source_restore_point_id,
            "createdAt": iso(self.created_at),
            "jobId": self.job_id,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class RetentionPlan:
    deletions: tuple[PlannedDeletion, ...]
    kept: tuple[Kept, ...]

    def to_api(self) -> dict[str, Any]:
        return {
            "deletions": [d.to_api() for d in self.deletions],
            "kept": [k.to_api() for k in self.kept],
        }


@dataclass(frozen=True)
class _Copy:
    rp: RestorePointView
    source_id: str
    job: JobRecord | None
    created_at: datetime


def _job_for(
    rp: RestorePointView,
    by_target: dict[str, JobRecord],
    by_source: dict[str, JobRecord],
) -> JobRecord | None:
    job = by_target.get(id_key(rp.id))
    if job is None and rp.source_restore_point_id is not None:
        job = by_source.get(id_key(rp.source_restore_point_id))
    return job


def _policy_text(keep_last: int | None, max_age_days: float | None) -> str:
    parts = []
    if keep_last is not None:
        parts.append(f"beyond the newest {keep_last} usable copies")
    if max_age_days is not None:
        parts.append(f"older than {max_age_days:g} days")
    return " and ".join(parts)


def plan_retention(
    target: TargetCollectionView,
    jobs: Sequence[JobRecord],
    *,
    keep_last: int | None,
    max_age_days: float | None,
    now: datetime,
) -> RetentionPlan:
    """Which copies in `target` to delete (oldest first) and why every other one is kept."""
    now_utc = utc(now) or now
    rps = sorted(target.restore_points, key=lambda rp: order_key(rp.created_at, rp.id))
    if not target.exists:
        return RetentionPlan((), ())

    def keep_all(reason: KeepReason) -> RetentionPlan:
        return RetentionPlan(
            (), tuple(Kept(rp.id, reason, rp.source_restore_point_id, rp.created_at) for rp in rps)
        )

    if not target.managed:
        return keep_all(KeepReason.NOT_MANAGED)
    if keep_last is None and max_age_days is None:
        return keep_all(KeepReason.NO_POLICY)

    # One job per source restore point (the most telling one if the ledger has several).
    by_source = jobs_by_source(jobs)
    by_target = {
        id_key(job.target_restore_point_id): job
        for job in by_source.values()
        if job.target_restore_point_id
    }

    kept: list[Kept] = []
    usable: list[_Copy] = []
    for rp in rps:
        if rp.source_restore_point_id is None:
            kept.append(Kept(rp.id, KeepReason.NOT_A_COPY, None, rp.created_at))
            continue
        job = _job_for(rp, by_target, by_source)
        job_id = job.job_id if job else None
        created = rp.created_at or (utc(job.source_created_at) if job else None)

        state = (rp.provisioning_state or "Succeeded").lower()
        reason: KeepReason | None = None
        if state == "deleting":
            reason = KeepReason.DELETING
        elif job is not None and not job.state.terminal:
            reason = KeepReason.REPLICATING
        elif job is None or job.state is not JobState.SUCCEEDED or state != "succeeded":
            reason = KeepReason.UNKNOWN_STATE
        if reason is None and created is not None:
            usable.append(_Copy(rp, rp.source_restore_point_id, job, created))
        else:
            reason = reason or KeepReason.NO_CREATION_TIME
            kept.append(Kept(rp.id, reason, rp.source_restore_point_id, created, job_id))

    # Newest first; ties by id so the plan never depends on listing order.
    usable.sort(key=lambda c: (c.created_at, id_key(c.rp.id)), reverse=True)
    max_age = timedelta(days=max_age_days) if max_age_days is not None else None
    deletions: list[PlannedDeletion] = []
    for rank, copy in enumerate(usable):
        job_id = copy.job.job_id if copy.job else None
        if keep_last is not None and rank < keep_last:
            why: KeepReason | None = KeepReason.WITHIN_KEEP_LAST
        elif max_age is not None and now_utc - copy.created_at < max_age:
            why = KeepReason.YOUNGER_THAN_MAX_AGE
        elif rank == 0:
            why = KeepReason.NEWEST_USABLE
        else:
            why = None
        if why is not None:
            kept.append(Kept(copy.rp.id, why, copy.source_id, copy.created_at, job_id))
            continue
        deletions.append(
            PlannedDeletion(
                copy.rp.id,
                copy.source_id,
                copy.created_at,
                f"{_policy_text(keep_last, max_age_days)} (rank {rank + 1} of {len(usable)})",
                job_id,
            )
        )

    deletions.sort(key=lambda d: (d.created_at, id_key(d.target_restore_point_id)))
    kept.sort(key=lambda k: order_key(k.created_at, k.target_restore_point_id))
    return RetentionPlan(tuple(deletions), tuple(kept))
