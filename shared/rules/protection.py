"""Pure decision: is one (source collection, target region) pair protected right now?

Answers `GET /api/protection` and tells the sweep when a pair crosses its recovery-point
objective (RPO). Works from the pair's ledger jobs only: a Succeeded job is a usable copy (every
disk reported replication succeeded at 100 %); retention never deletes the newest one.

The age of a copy is the age of its RECOVERY POINT: `now - source creation time`. That is the
data a failover to this copy would lose, whatever the time the copy finished.

`rpo_state`:

- ``unknown``: no RPO is set for the pair;
- ``breached``: the newest usable copy is older than the RPO (``age > rpo``), or there is no
  usable copy and the oldest restore point we know of for the pair (any job's source creation
  time, its request time when that is unknown, or `pending_source_created_at`) is older than the
  RPO: the pair has been unprotected for longer than its objective;
- ``at-risk``: the newest usable copy's age is at least 75 % of the RPO; or a copy in flight
  (newer than the newest usable one) is expected to finish after the RPO deadline, or waits
  for the copy-PUT budget until after it (WaitingForBudget); or there is no usable copy yet
  but nothing known is older than the RPO (including: nothing known at all — an unprotected
  pair is never ``ok``); or the newest usable copy has no known creation time;
- ``ok`` otherwise.

With a copy schedule (`next_copy_slot`: the pair's next scheduled slot), an ``ok`` pair whose
next slot comes after its deadline is ``at-risk``: no copy can even start before it breaches.

`rpo_deadline` is when the pair breaches if no newer copy becomes usable: the newest usable
copy's source time + RPO, or with no usable copy the oldest known restore point's time + RPO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.model.job import JobRecord, JobState
from shared.model.times import iso, utc
from shared.rules.sweep_plan import order_key

# Share of the RPO after which a pair is reported at risk.
AT_RISK_FRACTION = 0.75
_MIN = datetime.min.replace(tzinfo=UTC)


class RpoState(StrEnum):
    OK = "ok"
    AT_RISK = "at-risk"
    BREACHED = "breached"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class UsableCopy:
    job_id: str
    source_restore_point_id: str
    target_restore_point_id: str | None
    source_created_at: datetime | None
    replication_done_at: datetime | None

    def to_api(self) -> dict[str, Any]:
        return _compact(
            {
                "jobId": self.job_id,
                "sourceRestorePointId": self.source_restore_point_id,
                "targetRestorePointId": self.target_restore_point_id,
                "sourceCreatedAt": iso(self.source_created_at),
                "replicationDoneAt": iso(self.replication_done_at),
            }
        )


@dataclass(frozen=True)
class InFlightCopy:
    job_id: str
    state: JobState
    source_restore_point_id: str
    percent: float | None
    expected_finish: datetime | None
    started_at: datetime | None
    source_created_at: datetime | None = None
    # A re-run in flight: the run that failed and when the next one starts.
    run: int = 1
    next_run_at: datetime | None = None
    # WaitingForBudget: when the copy PUT is tried again (no copy can finish before it).
    next_attempt_at: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return _compact(
            {
                "jobId": self.job_id,
                "state": self.state.value,
                "sourceRestorePointId": self.source_restore_point_id,
                "percentComplete": self.percent,
                "expectedFinish": iso(self.expected_finish),
                "startedAt": iso(self.started_at),
                "sourceCreatedAt": iso(self.source_created_at),
                "run": self.run,
                "nextRunAt": iso(self.next_run_at),
                "nextAttemptAt": iso(self.next_attempt_at),
            }
        )


@dataclass(frozen=True)
class LastFailure:
    job_id: str
    source_restore_point_id: str
    code: str | None
    message: str | None
    finished_at: datetime | None
    runs_failed: int = 0

    def to_api(self) -> dict[str, Any]:
        return _compact(
            {
                "jobId": self.job_id,
                "sourceRestorePointId": self.source_restore_point_id,
                "code": self.code,
                "message": self.message,
                "finishedAt": iso(self.finished_at),
                "runsFailed": self.runs_failed,
            }
        )


@dataclass(frozen=True)
class PairStatus:
    newest_usable: UsableCopy | None
    age_minutes: float | None
    rpo_minutes: int | None
    rpo_state: RpoState
    rpo_deadline: datetime | None
    in_flight: tuple[InFlightCopy, ...]
    waiting: int
    last_failure: LastFailure | None
    # Why `rpo_state` is what it is, in words.
    reason: str
    # Copy schedules: the pair's schedule (described) and its next slot.
    copy_schedule: str | None = None
    next_copy_slot: datetime | None = None


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def _newest_usable(jobs: Sequence[JobRecord]) -> JobRecord | None:
    succeeded = [j for j in jobs if j.state is JobState.SUCCEEDED]
    if not succeeded:
        return None

    # Newest recovery point first; a copy with an unknown source time only if none has one.
    def key(job: JobRecord) -> tuple[bool, datetime, datetime, str]:
        created = utc(job.source_created_at)
        done = utc(job.replication_done_at) or utc(job.finished_at) or _MIN
        return (created is not None, created or _MIN, done, job.job_id)

    return max(succeeded, key=key)


# The copy a restore drill proves (shared/rules/drills.py): the same choice as the status's.
newest_usable = _newest_usable


def _ended_at(job: JobRecord) -> datetime:
    return utc(job.finished_at) or utc(job.updated_at) or _MIN


def _last_failure(jobs: Sequence[JobRecord], newest: JobRecord | None) -> JobRecord | None:
    """The most recent Failed job that is about a recovery point newer than the newest copy."""
    newest_created = utc(newest.source_created_at) if newest else None

    def relevant(job: JobRecord) -> bool:
        if newest is None:
            return True
        created = utc(job.source_created_at)
        if created is not None and newest_created is not None:
            return created > newest_created
        # Times unknown: compare when it failed with when the usable copy became usable.
        return _ended_at(job) > (utc(newest.replication_done_at) or _ended_at(newest))

    failed = [j for j in jobs if j.state is JobState.FAILED and relevant(j)]
    return max(failed, key=lambda j: (_ended_at(j), j.job_id)) if failed else None


def pair_status(
    jobs: Sequence[JobRecord],
    *,
    rpo_minutes: int | None,
    now: datetime,
    pending_source_created_at: datetime | None = None,
    copy_schedule: str | None = None,
    next_copy_slot: datetime | None = None,
) -> PairStatus:
    """The protection of one pair from its ledger jobs (all states).

    `pending_source_created_at` is the creation time of the oldest source restore point that
    still has to be copied but has no job yet (the sweep knows it from its plan); it only
    matters while the pair has no usable copy.
    """
    now = utc(now) or now
    newest = _newest_usable(jobs)
    newest_created = utc(newest.source_created_at) if newest else None
    age = max(_minutes(now - newest_created), 0.0) if newest_created else None

    in_flight = tuple(
        InFlightCopy(
            job.job_id,
            job.state,
            job.source_restore_point_id,
            job.percent,
            utc(job.expected_finish),
            utc(job.started_at),
            utc(job.source_created_at),
            job.run,
            utc(job.next_run_at),
            utc(job.next_attempt_at) if job.state is JobState.WAITING_FOR_BUDGET else None,
        )
        for job in sorted(
            (j for j in jobs if not j.state.terminal and j.state is not JobState.WAITING),
            key=lambda j: order_key(utc(j.source_created_at), j.source_restore_point_id),
        )
    )
    waiting = sum(1 for j in jobs if j.state is JobState.WAITING)
    failed = _last_failure(jobs, newest)
    last_failure = (
        LastFailure(
            failed.job_id,
            failed.source_restore_point_id,
            failed.failure.code if failed.failure else None,
            failed.failure.message if failed.failure else None,
            utc(failed.finished_at),
            failed.runs_failed,
        )
        if failed
        else None
    )
    usable = (
        UsableCopy(
            newest.job_id,
            newest.source_restore_point_id,
            newest.target_restore_point_id,
            newest_created,
            utc(newest.replication_done_at),
        )
        if newest
        else None
    )

    state, deadline, reason = _rpo(
        jobs, rpo_minutes, now, newest, newest_created, age, in_flight, pending_source_created_at
    )
    if state is RpoState.OK and deadline and next_copy_slot and utc(next_copy_slot) > deadline:
        state = RpoState.AT_RISK
        reason = (
            f"the next scheduled copy ({copy_schedule}) starts at {iso(next_copy_slot)}, after "
            f"the objective's deadline {iso(deadline)}"
        )
    return PairStatus(
        newest_usable=usable,
        age_minutes=age,
        rpo_minutes=rpo_minutes,
        rpo_state=state,
        rpo_deadline=deadline,
        in_flight=in_flight,
        waiting=waiting,
        last_failure=last_failure,
        reason=reason,
        copy_schedule=copy_schedule,
        next_copy_slot=utc(next_copy_slot),
    )


def _rpo(
    jobs: Sequence[JobRecord],
    rpo_minutes: int | None,
    now: datetime,
    newest: JobRecord | None,
    newest_created: datetime | None,
    age: float | None,
    in_flight: Sequence[InFlightCopy],
    pending: datetime | None,
) -> tuple[RpoState, datetime | None, str]:
    if rpo_minutes is None:
        return RpoState.UNKNOWN, None, "no recovery-point objective is set for this pair"
    rpo = timedelta(minutes=rpo_minutes)

    if newest is not None and newest_created is not None and age is not None:
        deadline = newest_created + rpo
        if age > rpo_minutes:
            return (
                RpoState.BREACHED,
                deadline,
                f"the newest usable copy is {age:.0f} minutes old; the objective is "
                f"{rpo_minutes} minutes",
            )
        if age >= AT_RISK_FRACTION * rpo_minutes:
            return (
                RpoState.AT_RISK,
                deadline,
                f"the newest usable copy is {age:.0f} minutes old, at least "
                f"{AT_RISK_FRACTION:.0%} of the {rpo_minutes}-minute objective",
            )
        late = [
            c
            for c in in_flight
            if c.expected_finish is not None
            and c.expected_finish > deadline
            # A copy older than the newest usable one would not improve anything.
            and (c.source_created_at is None or c.source_created_at > newest_created)
        ]
        budget_late = [
            c
            for c in in_flight
            if c.next_attempt_at is not None
            and c.next_attempt_at > deadline
            and (c.source_created_at is None or c.source_created_at > newest_created)
        ]
        if budget_late:
            first = budget_late[0]
            return (
                RpoState.AT_RISK,
                deadline,
                f"copy job {first.job_id} waits for the copy-PUT budget of its target collection "
                f"until {first.next_attempt_at.isoformat() if first.next_attempt_at else '?'}, "
                f"after the objective's deadline {deadline.isoformat()}",
            )
        if late:
            return (
                RpoState.AT_RISK,
                deadline,
                f"copy job {late[0].job_id} is expected to finish at "
                f"{late[0].expected_finish.isoformat() if late[0].expected_finish else '?'}, "
                f"after the objective's deadline {deadline.isoformat()}",
            )
        return (
            RpoState.OK,
            deadline,
            f"the newest usable copy is {age:.0f} minutes old; the objective is "
            f"{rpo_minutes} minutes",
        )

    if newest is not None:
        return (
            RpoState.AT_RISK,
            None,
            f"the newest usable copy (job {newest.job_id}) has no known creation time; its age "
            "against the objective cannot be measured",
        )

    # No usable copy: the pair has been unprotected since the oldest restore point we know of.
    starts = [utc(j.source_created_at) or utc(j.requested_at) for j in jobs]
    starts.append(utc(pending))
    known = [t for t in starts if t is not None]
    if not known:
        return RpoState.AT_RISK, None, "no usable copy yet, and no restore point to copy is known"
    oldest = min(known)
    deadline = oldest + rpo
    unprotected = max(_minutes(now - oldest), 0.0)
    if now - oldest > rpo:
        return (
            RpoState.BREACHED,
            deadline,
            f"no usable copy; the oldest restore point waiting for one is {unprotected:.0f} "
            f"minutes old and the objective is {rpo_minutes} minutes",
        )
    return (
        RpoState.AT_RISK,
        deadline,
        f"no usable copy yet; the oldest restore point waiting for one is {unprotected:.0f} "
        f"minutes old (objective {rpo_minutes} minutes)",
    )


def breach_event_key(status: PairStatus) -> str | None:
    """A stable key for the current breach (None when not breached).

    One breach lasts until a newer copy becomes usable, so it is named by the newest usable
    copy's job id ("none" while the pair has no usable copy). The sweep stores the last key it
    announced per pair and emits the RPO-breach event only when the key changes.
    """
    if status.rpo_state is not RpoState.BREACHED:
        return None
    return status.newest_usable.job_id if status.newest_usable else "none"


def to_api(status: PairStatus) -> dict[str, Any]:
    """The pair's protection as the HTTP status API shows it (camelCase, ISO 8601 times)."""
    return {
        "rpoState": status.rpo_state.value,
        "rpoMinutes": status.rpo_minutes,
        "rpoDeadline": iso(status.rpo_deadline),
        "ageMinutes": round(status.age_minutes, 1) if status.age_minutes is not None else None,
        "reason": status.reason,
        "newestUsable": status.newest_usable.to_api() if status.newest_usable else None,
        "inFlight": [c.to_api() for c in status.in_flight],
        "waiting": status.waiting,
        "lastFailure": status.last_failure.to_api() if status.last_failure else None,
        **(
            {"copySchedule": status.copy_schedule, "nextCopyAt": iso(status.next_copy_slot)}
            if status.copy_schedule
            else {}
        ),
    }
