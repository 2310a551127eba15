"""Pure decisions for Azure's cross-region copy rules, applied before ARM is called.

- One copy in flight per (source collection, target region): later restore points wait.
- Creation order: a restore point older than the newest one already copied (or being copied)
  to that region can never be copied; its job ends Superseded, not Failed.
- At most N copy PUTs per window per target collection (Azure: 3 per hour): wait, don't fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class PairState:
    """What the app knows of one (source collection, target region) pair."""

    active_job_id: str | None = None
    active_created_at: datetime | None = None
    # Source creation time of the newest restore point whose copy succeeded.
    watermark: datetime | None = None

    def newest_started(self, excluding_job: str | None = None) -> datetime | None:
        times = [self.watermark]
        if self.active_job_id and self.active_job_id != excluding_job:
            times.append(self.active_created_at)
        known = [t for t in times if t is not None]
        return max(known) if known else None


class Admission(StrEnum):
    ADMIT = "admit"
    WAIT = "wait"
    SUPERSEDE = "supersede"


@dataclass(frozen=True)
class AdmissionDecision:
    admission: Admission
    reason: str


def admit(pair: PairState, job_id: str, created_at: datetime | None) -> AdmissionDecision:
    if pair.active_job_id == job_id:
        return AdmissionDecision(Admission.ADMIT, "this job already holds the pair")
    newest = pair.newest_started(excluding_job=job_id)
    if created_at is not None and newest is not None and created_at < newest:
        return AdmissionDecision(
            Admission.SUPERSEDE,
            f"a newer restore point (created {newest.isoformat()}) was already copied or is "
            "being copied to this region; Azure copies restore points only in creation order",
        )
    if pair.active_job_id is not None:
        return AdmissionDecision(
            Admission.WAIT, f"waiting for copy job {pair.active_job_id} of the same collection"
        )
    return AdmissionDecision(Admission.ADMIT, "the pair is free")


def release(
    pair: PairState, job_id: str, created_at: datetime | None, succeeded: bool
) -> PairState:
    """The pair after `job_id` ended (a no-op if it did not hold it)."""
    watermark = pair.watermark
    if succeeded and created_at is not None and (watermark is None or created_at > watermark):
        watermark = created_at
    if pair.active_job_id != job_id:
        return PairState(pair.active_job_id, pair.active_created_at, watermark)
    return PairState(None, None, watermark)


def order_waiting(waiting: Sequence[tuple[str, datetime | None]]) -> list[str]:
    """Waiting job ids, oldest restore point first (unknown times last, then by id)."""
    far_future = datetime.max.replace(tzinfo=None)

    def key(item: tuple[str, datetime | None]) -> tuple[datetime, str]:
        job_id, created = item
        return (created.replace(tzinfo=None) if created else far_future, job_id)

    return [job_id for job_id, _ in sorted(waiting, key=key)]


def budget_wait(
    put_times: Sequence[datetime], now: datetime, limit: int, window: timedelta
) -> tuple[float, list[datetime]]:
    """Seconds to wait before another copy PUT is allowed, and the recent PUTs still counted."""
    recent = sorted(t for t in put_times if now - t < window)
    if len(recent) < limit:
        return 0.0, recent
    oldest_counted = recent[len(recent) - limit]
    return max((oldest_counted + window - now).total_seconds(), 0.0), recent
