"""A copy job as the ledger keeps it: its state, what it copies where, and how far it got."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.model.copy_options import NO_OPTIONS, CopyOptions
from shared.model.keys import pair_key
from shared.model.message import DiskProgress, Failure, Trigger
from shared.model.times import from_iso, iso


class JobState(StrEnum):
    QUEUED = "Queued"
    # Waiting for its turn: another copy of the same (source collection, target region) runs.
    WAITING = "Waiting"
    CREATING_TARGET = "CreatingTarget"
    STARTING = "Starting"
    REPLICATING = "Replicating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"
    # A run failed and another starts by itself at `next_run_at` (after its copy is deleted).
    RERUN_PENDING = "RerunPending"
    # -- copy schedules (docs/policies.md): left out on purpose at a scheduled slot because a
    # newer restore point was copied instead. Never started, never failed.
    SKIPPED_BY_SCHEDULE = "SkippedBySchedule"
    # -- cancel and the copy-PUT budget (the `rpcopy` command line's issue) --
    # The copy-PUT budget of the target collection is spent: the start tries again at
    # `next_attempt_at` (Azure: 3 copy PUTs per hour per target collection).
    WAITING_FOR_BUDGET = "WaitingForBudget"
    # An operator cancelled it (DELETE /api/copies/{id}); a copy already replicating is left to
    # Azure unless the cancel asked for it to be deleted.
    CANCELLED = "Cancelled"

    @property
    def terminal(self) -> bool:
        return self in (
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.SUPERSEDED,
            JobState.SKIPPED_BY_SCHEDULE,
            JobState.CANCELLED,
        )

    @classmethod
    def parse(cls, value: str) -> JobState:
        """A state named in any letter case (as region and id filters are): ValueError if none."""
        for state in cls:
            if state.value.lower() == value.strip().lower():
                return state
        raise ValueError(f"{value!r} is not a job state")


ACTIVE_STATES = frozenset(s for s in JobState if not s.terminal)


@dataclass(frozen=True)
class Outbound:
    """One queue message to send once a step is committed."""

    queue: str
    text: str
    delay_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"queue": self.queue, "text": self.text, "delay": self.delay_seconds}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Outbound:
        return cls(str(value["queue"]), str(value["text"]), float(value.get("delay", 0.0)))


@dataclass(frozen=True)
class RunSummary:
    """How one earlier run of a job ended (GET /api/copies/{id}/runs); the row keeps these so a
    re-run does not erase what the run before it did."""

    run: int
    state: JobState
    trigger: Trigger
    requested_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    target_restore_point_id: str | None
    percent: float | None
    disks: tuple[DiskProgress, ...] = ()
    failure: Failure | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """camelCase, as the row stores it and the HTTP API shows it."""
        body: dict[str, Any] = {
            "run": self.run,
            "state": self.state.value,
            "trigger": self.trigger.value,
            "requestedAt": iso(self.requested_at),
            "startedAt": iso(self.started_at),
            "endedAt": iso(self.ended_at),
            "targetRestorePointId": self.target_restore_point_id,
            "percentComplete": self.percent,
            "disks": [d.model_dump(by_alias=True, exclude_none=True) for d in self.disks],
            "error": self.failure.model_dump(by_alias=True, exclude_none=True, mode="json")
            if self.failure
            else None,
            "detail": self.detail,
        }
        return {k: v for k, v in body.items() if v is not None}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunSummary:
        error = value.get("error")
        return cls(
            run=int(value["run"]),
            state=JobState(value["state"]),
            trigger=Trigger(value.get("trigger", "http")),
            requested_at=from_iso(value.get("requestedAt")) or datetime.min,
            started_at=from_iso(value.get("startedAt")),
            ended_at=from_iso(value.get("endedAt")),
            target_restore_point_id=value.get("targetRestorePointId"),
            percent=value.get("percentComplete"),
            disks=tuple(DiskProgress.model_validate(d) for d in value.get("disks", [])),
            failure=Failure.model_validate(error) if error else None,
            detail=value.get("detail"),
        )


# A row keeps at most this many earlier runs (a Table property holds 64 KiB): the oldest go.
MAX_RUN_HISTORY = 20


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    run: int
    state: JobState
    source_restore_point_id: str
    source_collection_id: str
    source_region: str | None
    target_region: str
    target_resource_group: str
    target_collection_name: str
    target_restore_point_name: str
    trigger: Trigger
    correlation_id: str
    requested_at: datetime
    updated_at: datetime
    target_collection_id: str | None = None
    target_restore_point_id: str | None = None
    source_created_at: datetime | None = None
    started_at: datetime | None = None
    replication_done_at: datetime | None = None
    finished_at: datetime | None = None
    percent: float | None = None
    expected_finish: datetime | None = None
    disks: tuple[DiskProgress, ...] = ()
    attempts: Mapping[str, int] = field(default_factory=dict)
    failure: Failure | None = None
    step: int = 0
    # Transactional outbox: the messages this step must send, written in the same ETag-guarded
    # update that claims the step, and marked sent afterwards. A crash in between is repaired by
    # re-sending (duplicates are harmless: the next stage acts only once per step).
    outbox: tuple[Outbound, ...] = ()
    outbox_sent: bool = True
    runs_failed: int = 0
    # Automatic re-runs since the request (reset by a new request); when the next one starts.
    reruns: int = 0
    next_run_at: datetime | None = None
    # Why the job waits or how it ended, in words (e.g. which job it waits for).
    detail: str | None = None
    # Target subscription, encryption, copied tags and lineage (shared/model/copy_options.py).
    options: CopyOptions = NO_OPTIONS
    # While WaitingForBudget: when the start tries again.
    next_attempt_at: datetime | None = None
    # Earlier runs of this job, oldest first (the current run is the row itself).
    history: tuple[RunSummary, ...] = ()
    # Admission found that the pair's last successful copy went into this job's target
    # collection (the app made or verified it for this source): ensure-target skips reading
    # it, and the copy PUT's 404 leads back to creating it if it was deleted since.
    target_collection_verified: bool = False

    @property
    def pair_key(self) -> str:
        return pair_key(self.source_collection_id, self.target_region)

    def evolve(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)

    def run_summary(self, state: JobState, ended_at: datetime) -> RunSummary:
        """This run as it ended, in `state`, for the history."""
        return RunSummary(
            run=self.run,
            state=state,
            trigger=self.trigger,
            requested_at=self.requested_at,
            started_at=self.started_at,
            ended_at=self.finished_at or ended_at,
            target_restore_point_id=self.target_restore_point_id,
            percent=self.percent,
            disks=self.disks,
            failure=self.failure,
            detail=self.detail,
        )

    def with_run_recorded(self, state: JobState, ended_at: datetime) -> tuple[RunSummary, ...]:
        """The history with this run added (once: a run already recorded is not added again)."""
        if any(r.run == self.run for r in self.history):
            return self.history
        return (*self.history, self.run_summary(state, ended_at))[-MAX_RUN_HISTORY:]
