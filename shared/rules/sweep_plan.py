"""Pure decision: what the timer sweep should copy for one (source collection, target) pair.

The I/O layer lists the source collection and the target collection (each one GET with
`$expand=restorePoints`) and reads the pair's ledger jobs; `plan_pair` says which source restore
points to request, oldest first, and why every other one is left alone. Nothing here calls
Azure, so the sweep and the dry-run API (`GET /api/plan`) give the same answer.

The views (`RestorePointView`, `TargetCollectionView`) are data from `shared.model.resources`,
read from ARM bodies by `shared.arm.bodies`.

Rules (Azure's copy rules, arm-contract §9, checked in this order for each source restore point):

1. a restore point that is itself a copy is never copied (``is-a-copy``);
2. one already in the target (a target restore point names it as its source) is done
   (``already-copied``), whatever that copy's state: the ledger tracks it;
   then, when `source_collection_id` is given and the target collection exists but is the copy
   target of another collection (or of none), nothing else is planned (``target-conflict``):
   every copy into it would fail in the ensure-target stage;
3. one with a running ledger job is left to that job (``in-flight`` / ``waiting``);
4. one whose job Succeeded is never copied again, even when its copy is gone from the target
   (deleted by retention or by hand): copying it again would undo retention and break
   creation order (``already-copied``);
5. one whose job ended Superseded stays superseded (``superseded``);
6. one without a creation time is skipped (``no-creation-time``): it cannot be ordered, and
   Azure sets ``timeCreated`` once the restore point exists, so the next sweep sees it;
7. one older than the newest restore point already copied or being copied can never be copied,
   because Azure copies only in creation order (``superseded``); equal times are not older (as
   in `shared.rules.copy_rules.admit`);
8. one whose job failed `max_failed_runs` times or more is not retried (``failed-too-often``);
9. one that is not provisioned yet (or failed to provision) is skipped (``not-ready``);
10. everything else is planned, oldest first (ties by id), a failed job below the limit as a
    new run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.model.ids import id_key
from shared.model.job import JobRecord, JobState
from shared.model.resources import RestorePointView, TargetCollectionView
from shared.model.times import iso, utc

# --------------------------------------------------------------------------------------------
# Small helpers shared by the three decision modules


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_JOB_PRIORITY = {
    # When the pair's jobs name one source restore point more than once (they should not: the
    # job id is derived from it), the one that says most about its future wins.
    JobState.WAITING: 0,
    JobState.QUEUED: 0,
    JobState.CREATING_TARGET: 0,
    JobState.STARTING: 0,
    JobState.WAITING_FOR_BUDGET: 0,
    JobState.REPLICATING: 0,
    JobState.RERUN_PENDING: 0,
    JobState.SUCCEEDED: 1,
    JobState.SUPERSEDED: 2,
    JobState.SKIPPED_BY_SCHEDULE: 2,
    JobState.FAILED: 3,
    # Cancelled by an operator: like Failed, it says nothing about a copy to keep.
    JobState.CANCELLED: 3,
}


def jobs_by_source(jobs: Iterable[JobRecord]) -> dict[str, JobRecord]:
    """The pair's jobs keyed by source restore point id (`id_key`), one per restore point."""
    chosen: dict[str, JobRecord] = {}
    for job in jobs:
        key = id_key(job.source_restore_point_id)
        current = chosen.get(key)
        if current is None or _better(job, current):
            chosen[key] = job
    return chosen


def _better(job: JobRecord, other: JobRecord) -> bool:
    if _JOB_PRIORITY[job.state] != _JOB_PRIORITY[other.state]:
        return _JOB_PRIORITY[job.state] < _JOB_PRIORITY[other.state]
    return (utc(job.updated_at) or datetime.min.replace(tzinfo=UTC)) > (
        utc(other.updated_at) or datetime.min.replace(tzinfo=UTC)
    )


# --------------------------------------------------------------------------------------------
# The plan


class SkipReason(StrEnum):
    IS_A_COPY = "is-a-copy"
    ALREADY_COPIED = "already-copied"
    IN_FLIGHT = "in-flight"
    WAITING = "waiting"
    SUPERSEDED = "superseded"
    FAILED_TOO_OFTEN = "failed-too-often"
    NO_CREATION_TIME = "no-creation-time"
    NOT_READY = "not-ready"
    # A run failed and the next run starts by itself (after the failed copy is deleted).
    RERUN_PENDING = "rerun-pending"
    # The target collection exists but is the copy target of another collection (or of none):
    # every copy into it would fail, so nothing is requested.
    TARGET_CONFLICT = "target-conflict"
    # -- copy schedules (shared/rules/schedules.py): passed over at a slot for a newer one, or
    # not due until the pair's next scheduled slot.
    SKIPPED_BY_SCHEDULE = "skipped-by-schedule"
    WAITING_FOR_SCHEDULE = "waiting-for-schedule"
    # An operator cancelled its copy: the sweep does not undo that (`retry` does).
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PlannedCopy:
    source_restore_point_id: str
    created_at: datetime
    reason: str
    # The failed job this copy retries (a new run of the same job id), if any.
    retry_of_job_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = {
            "sourceRestorePointId": self.source_restore_point_id,
            "createdAt": iso(self.created_at),
            "reason": self.reason,
            "retryOfJobId": self.retry_of_job_id,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class Skipped:
    source_restore_point_id: str
    reason: SkipReason
    message: str
    created_at: datetime | None = None
    job_id: str | None = None

    @property
    def code(self) -> str:
        """The machine code of `reason` as a plain string (for reports and logs)."""
        return self.reason.value

    def to_api(self) -> dict[str, Any]:
        body = {
            "sourceRestorePointId": self.source_restore_point_id,
            "reason": self.reason.value,
            "message": self.message,
            "createdAt": iso(self.created_at),
            "jobId": self.job_id,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class PairPlan:
    copies: tuple[PlannedCopy, ...]
    skipped: tuple[Skipped, ...]
    # Creation time of the newest restore point already copied or being copied: nothing older
    # can be copied any more.
    newest_copied: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "copies": [c.to_api() for c in self.copies],
            "skipped": [s.to_api() for s in self.skipped],
            "newestCopiedCreatedAt": iso(self.newest_copied),
        }


def order_key(created_at: datetime | None, rp_id: str) -> tuple[int, datetime, str]:
    # Oldest first, unknown times last, then by id so the order never depends on input order.
    if created_at is None:
        return (1, datetime.min.replace(tzinfo=UTC), id_key(rp_id))
    return (0, created_at, id_key(rp_id))


def newest_copied(
    source_restore_points: Iterable[RestorePointView],
    target: TargetCollectionView,
    jobs: Iterable[JobRecord],
) -> datetime | None:
    """Creation time of the newest restore point already in the target or being copied there.

    Counts copies present in the target (their own `timeCreated` is the source's creation time;
    the source's is used when it is still listed), and jobs that are running (not Waiting: a
    waiting job has not claimed its place yet) or Succeeded (a copy removed later still fixed
    the order).
    """
    source_times = {id_key(rp.id): rp.created_at for rp in source_restore_points}
    failed = failed_sources(target, jobs)
    times: list[datetime] = []
    for source_key, copy in target.copies_by_source().items():
        if source_key in failed:
            continue  # a failed copy is deleted before its re-run; it fixes no order
        created = source_times.get(source_key) or copy.created_at
        if created is not None:
            times.append(created)
    for job in jobs:
        started = not job.state.terminal and job.state is not JobState.WAITING
        if not (started or job.state is JobState.SUCCEEDED):
            continue
        created = utc(job.source_created_at) or source_times.get(
            id_key(job.source_restore_point_id)
        )
        if created is not None:
            times.append(created)
    return max(times) if times else None


def failed_sources(target: TargetCollectionView, jobs: Iterable[JobRecord]) -> set[str]:
    """Source restore points (`id_key`) whose copy in the target is a failed one: its job says
    so (replication can fail with provisioningState still Succeeded), or its provisioning did."""
    by_source = jobs_by_source(jobs)
    failed = {
        key
        for key, job in by_source.items()
        if job.state in (JobState.FAILED, JobState.RERUN_PENDING)
    }
    for key, copy in target.copies_by_source().items():
        if (copy.provisioning_state or "").lower() in ("failed", "canceled"):
            failed.add(key)
    return failed


def _target_conflict(target: TargetCollectionView, source_collection_id: str | None) -> str | None:
    if source_collection_id is None or not target.exists:
        return None
    if target.source_collection_id is None:
        return (
            f"target collection {target.id} exists but is not a copy target (no source); "
            "Azure copies only into a collection created with properties.source.id"
        )
    if id_key(target.source_collection_id) != id_key(source_collection_id):
        return (
            f"target collection {target.id} is the copy target of {target.source_collection_id}, "
            f"not {source_collection_id}; Azure allows one source collection per target collection"
        )
    return None


def plan_pair(
    source_restore_points: Sequence[RestorePointView],
    target: TargetCollectionView,
    jobs: Sequence[JobRecord],
    *,
    max_failed_runs: int,
    source_collection_id: str | None = None,
) -> PairPlan:
    """What to request for one (source collection, target) pair, and why the rest is left.

    `jobs` are the pair's ledger jobs in any state. With `source_collection_id`, a target
    collection that exists but belongs to another source plans nothing (``target-conflict``).
    """
    # A paged listing may repeat an item: the first one wins.
    unique: dict[str, RestorePointView] = {}
    for rp in source_restore_points:
        unique.setdefault(id_key(rp.id), rp)
    ordered = sorted(unique.values(), key=lambda rp: order_key(rp.created_at, rp.id))

    newest = newest_copied(ordered, target, jobs)
    conflict = _target_conflict(target, source_collection_id)
    copied = target.copies_by_source()
    failed_copies = failed_sources(target, jobs)
    by_source = jobs_by_source(jobs)

    copies: list[PlannedCopy] = []
    skipped: list[Skipped] = []

    def skip(rp: RestorePointView, reason: SkipReason, message: str, job_id: str | None) -> None:
        skipped.append(Skipped(rp.id, reason, message, rp.created_at, job_id))

    for rp in ordered:
        key = id_key(rp.id)
        job = by_source.get(key)
        job_id = job.job_id if job else None
        if rp.source_restore_point_id is not None:
            skip(rp, SkipReason.IS_A_COPY, "this restore point is itself a copy", None)
        elif job is not None and job.state is JobState.RERUN_PENDING:
            when = job.next_run_at.isoformat() if job.next_run_at else "shortly"
            message = f"run {job.run} failed; run {job.run + 1} starts at {when}"
            skip(rp, SkipReason.RERUN_PENDING, message, job_id)
        elif key in copied and key not in failed_copies:
            state = copied[key].provisioning_state or "unknown"
            message = f"copied as {copied[key].id} (provisioningState {state})"
            skip(rp, SkipReason.ALREADY_COPIED, message, job_id)
        elif conflict is not None:
            skip(rp, SkipReason.TARGET_CONFLICT, conflict, job_id)
        elif job is not None and job.state is JobState.WAITING:
            message = job.detail or "waiting for the copy in flight of this collection"
            skip(rp, SkipReason.WAITING, message, job_id)
        elif job is not None and not job.state.terminal:
            message = f"copy job {job.job_id} is {job.state.value}"
            skip(rp, SkipReason.IN_FLIGHT, message, job_id)
        elif job is not None and job.state is JobState.SUCCEEDED:
            message = (
                f"copy job {job.job_id} succeeded; the copy is no longer in the target (deleted "
                "by retention or by hand) and is not copied again"
            )
            skip(rp, SkipReason.ALREADY_COPIED, message, job_id)
        elif job is not None and job.state is JobState.SKIPPED_BY_SCHEDULE:
            message = job.detail or "skipped by the copy schedule"
            skip(rp, SkipReason.SKIPPED_BY_SCHEDULE, message, job_id)
        elif job is not None and job.state is JobState.SUPERSEDED:
            message = job.detail or f"copy job {job.job_id} was superseded"
            skip(rp, SkipReason.SUPERSEDED, message, job_id)
        elif job is not None and job.state is JobState.CANCELLED:
            message = f"copy job {job.job_id} was cancelled; POST /api/copies/{{id}}/retry runs it"
            skip(rp, SkipReason.CANCELLED, message, job_id)
        elif rp.created_at is None:
            message = "no creation time yet; the restore point cannot be ordered"
            skip(rp, SkipReason.NO_CREATION_TIME, message, job_id)
        elif newest is not None and rp.created_at < newest:
            message = (
                f"a newer restore point (created {newest.isoformat()}) was already copied or is "
                "being copied; Azure copies restore points only in creation order"
            )
            skip(rp, SkipReason.SUPERSEDED, message, job_id)
        elif job is not None and job.runs_failed >= max_failed_runs:
            failure = f": {job.failure.code}: {job.failure.message}" if job.failure else ""
            message = (
                f"copy job {job.job_id} failed {job.runs_failed} times (limit {max_failed_runs})"
                f"{failure}; request it by hand to try again"
            )
            skip(rp, SkipReason.FAILED_TOO_OFTEN, message, job_id)
        elif rp.provisioning_state is not None and rp.provisioning_state.lower() != "succeeded":
            message = f"provisioningState is {rp.provisioning_state}; only Succeeded is copied"
            skip(rp, SkipReason.NOT_READY, message, job_id)
        elif job is not None:  # Failed below the limit: a new run of the same job
            code = f" ({job.failure.code})" if job.failure else ""
            reason = (
                f"re-run: copy job failed{code} {job.runs_failed} of {max_failed_runs} allowed "
                "runs; its failed copy is deleted before the new run"
            )
            copies.append(PlannedCopy(rp.id, rp.created_at, reason, job.job_id))
        else:
            copies.append(PlannedCopy(rp.id, rp.created_at, "not in the target yet"))

    return PairPlan(tuple(copies), tuple(skipped), newest)
