"""Pure decision: after a run of a copy failed, does another run start by itself, and when?

Azure cannot resume a failed copy; it must be started again (its own error text says "Please
retry"). A run whose failure can succeed on another try (a failed copy operation, a replication
failure, a copy terminated at 14 days, transient trouble that outlasted the stage's attempts) is
followed by a new run after a backoff, up to `max_runs` runs of one request within `window`.
A permanent failure (the source is gone or a copy, the target belongs to another source, the
message was unreadable, ARM refused the request as such) ends the job at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.model.message import Failure
from shared.settings import RerunPolicy

# Failures that a new run can get past. Codes not listed are permanent, unless the failure
# says otherwise (`retryable`: ARM trouble that outlasted the stage's attempts, throttling,
# or a failed copy whose code is whatever the operation reported).
RETRYABLE_CODES = frozenset(
    {
        "CopyOperationFailed",  # the copy PUT's long-running operation failed
        "ReplicationFailed",  # a disk's replication failed (Azure gives no detail)
        "CopyTimedOut",  # Azure terminates copies after 14 days
        "TargetRestorePointMissing",  # the target restore point vanished mid-copy
        "StageFailedRepeatedly",  # a stage crashed on every delivery (poison queue)
    }
)


@dataclass(frozen=True)
class RerunPlan:
    run: int  # the run that will start
    at: datetime
    delay_seconds: float


def is_retryable(failure: Failure) -> bool:
    if failure.retryable is not None:
        return failure.retryable
    return failure.code in RETRYABLE_CODES


def backoff(policy: RerunPolicy, reruns_so_far: int) -> float:
    """The wait before re-run number `reruns_so_far + 1`: doubling from the base, capped."""
    return min(policy.backoff_seconds * 2.0**reruns_so_far, policy.max_backoff_seconds)


def plan_rerun(
    failure: Failure,
    *,
    run: int,
    reruns_so_far: int,
    requested_at: datetime,
    now: datetime,
    policy: RerunPolicy,
) -> RerunPlan | None:
    """The next run of a job whose run `run` just failed with `failure`, or None (final)."""
    if not is_retryable(failure):
        return None
    if reruns_so_far + 1 >= policy.max_runs:
        return None
    delay = backoff(policy, reruns_so_far)
    at = now + timedelta(seconds=delay)
    if (at - requested_at).total_seconds() > policy.window_seconds:
        return None
    return RerunPlan(run=run + 1, at=at, delay_seconds=delay)
