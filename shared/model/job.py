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

    @property
    def terminal(self) -> bool:
        return self in (
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.SUPERSEDED,
            JobState.SKIPPED_BY_SCHEDULE,
        )


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

    @property
    def pair_key(self) -> str:
        return pair_key(self.source_collection_id, self.target_region)

    def evolve(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)
