"""Pure decision: is a new restore point due for a create-in-target pair (VM, target region)?

A create-in-target pair has no source restore points to reconcile: the sweep creates one when
the pair's RPO says so. Rules, in order:

1. a job of the pair still running (or waiting, or about to re-run) holds it: nothing new
   (``in-flight``); the pair admits one at a time anyway, as Azure's copy rules would;
2. without `rpoMinutes` the sweep creates none (``no-rpo``): HTTP or a creation schedule does;
3. the newest restore point requested for the pair (usable or not yet failed for good) younger
   than half the RPO is recent enough (``recent``): half, so that the cross-region transfer of
   the next one fits inside the objective;
4. otherwise one is due (``due``), named after its slot (the start of the current half-RPO
   window), so sweeps that overlap in one window request the same restore point, i.e. one job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.model.job import JobRecord, JobState
from shared.model.times import iso, utc


@dataclass(frozen=True)
class CreationPlan:
    due: bool
    reason: str  # due | in-flight | no-rpo | recent
    message: str
    slot_start: datetime | None = None
    job_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = {
            "due": self.due,
            "reason": self.reason,
            "message": self.message,
            "slotStart": iso(self.slot_start),
            "jobId": self.job_id,
        }
        return {k: v for k, v in body.items() if v is not None}


def slot_start(now: datetime, rpo_minutes: int) -> datetime:
    """Start of the half-RPO window `now` falls in (UTC, whole seconds)."""
    width = max(60, rpo_minutes * 30)  # half the RPO, in seconds; at least a minute
    seconds = int((utc(now) or now).timestamp())
    return datetime.fromtimestamp(seconds - seconds % width, UTC)


def plan_creation(
    jobs: Sequence[JobRecord], *, rpo_minutes: int | None, now: datetime
) -> CreationPlan:
    running = [job for job in jobs if not job.state.terminal]
    if running:
        job = min(running, key=lambda j: j.requested_at)
        return CreationPlan(
            False,
            "in-flight",
            f"job {job.job_id} ({job.state.value}) holds the pair",
            None,
            job.job_id,
        )
    if rpo_minutes is None:
        return CreationPlan(
            False,
            "no-rpo",
            "no rpoMinutes: the sweep creates none (request one with POST /api/copies)",
        )
    now_utc = utc(now) or now
    counted = [
        job for job in jobs if job.state is JobState.SUCCEEDED and job.source_created_at is not None
    ]
    newest = max(counted, key=lambda j: utc(j.source_created_at) or now_utc, default=None)
    if newest is not None:
        age = now_utc - (utc(newest.source_created_at) or now_utc)
        if age < timedelta(minutes=rpo_minutes / 2):
            return CreationPlan(
                False,
                "recent",
                f"the newest restore point is {age.total_seconds() / 60:.0f} minutes old "
                f"(a new one is due at half the RPO, {rpo_minutes / 2:g} minutes)",
                None,
                newest.job_id,
            )
    start = slot_start(now_utc, rpo_minutes)
    why = "no usable restore point yet" if newest is None else "the newest is half the RPO old"
    return CreationPlan(True, "due", f"{why}: creating one", start)
