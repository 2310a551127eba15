"""What a stage returns: a frozen description of the step it completed, committed once.

A stage does its (idempotent) ARM work and returns a `Step`: how the job's ledger row changes
and what to send. It never writes the ledger or a queue itself; `shared.jobs.stages.dispatch`
commits the step through the outbox (row N -> N+1 with the messages, then sends them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from shared.model.events import EventType
from shared.model.message import Stage

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Result(StrEnum):
    """What one delivery of a stage message came to (for logs and tests)."""

    ADVANCED = "advanced"
    WAITING = "waiting"  # re-enqueued itself to try again later
    FINISHED = "finished"
    FAILED = "failed"  # the job was failed (the finish stage emits the event)
    DROPPED = "dropped"
    RESENT = "resent"
    REJECTED = "rejected"  # unreadable message turned into a failed job


@dataclass(frozen=True)
class Send:
    """The job's message to `stage` (the same stage again for a retry or the next poll)."""

    stage: Stage
    delay_seconds: float = 0.0
    # Fields of the message that change on the way (`JobMessage` field names).
    changes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class Announce:
    """The job's CloudEvent of this type, built from the row as committed."""

    event_type: EventType


class FollowUp(StrEnum):
    """Work after the commit that is not part of the step (each is idempotent)."""

    # Free the (source collection, region) pair and admit the next waiting restore point; runs
    # even when this delivery found the step already committed (a crash may have cut it short).
    RELEASE_PAIR = "release-pair"
    # Prune the target collection per policy; only by the delivery that committed the step.
    RETENTION = "retention"
    # Let admission decide a new run's turn (Queued now, or Waiting behind the pair's copy).
    ADMIT = "admit"


@dataclass(frozen=True)
class Step:
    result: Result
    # Fields of the job's ledger row that change (`JobRecord` field names).
    changes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    out: tuple[Send | Announce, ...] = ()
    after: tuple[FollowUp, ...] = field(default=())


def step(
    result: Result,
    changes: Mapping[str, Any] | None = None,
    *out: Send | Announce,
    after: tuple[FollowUp, ...] = (),
) -> Step:
    return Step(result, MappingProxyType(dict(changes or {})), tuple(out), after)


def send(stage: Stage, delay_seconds: float = 0.0, **changes: Any) -> Send:
    return Send(stage, delay_seconds, MappingProxyType(changes))
