"""Pure reading of Azure Resource Manager events delivered by Event Grid.

Only `Microsoft.Resources.ResourceWriteSuccess` for
`Microsoft.Compute/restorePointCollections/restorePoints/write` starts anything. Other event
types and resource types are ignored quietly (a subscription topic sends many); malformed events
are reported as such so the caller can log and drop them without a retry storm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import InvalidResourceId
from shared.model.ids import RestorePointId

WRITE_SUCCESS = "microsoft.resources.resourcewritesuccess"
RESTORE_POINT_WRITE = "microsoft.compute/restorepointcollections/restorepoints/write"


class Verdict(StrEnum):
    RESTORE_POINT_WRITTEN = "restore-point-written"
    IGNORED = "ignored"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class ReadEvent:
    verdict: Verdict
    reason: str
    restore_point: RestorePointId | None = None
    event_id: str | None = None


def read_event(event_id: object, event_type: object, subject: object, data: object) -> ReadEvent:
    """Classify one event (Event Grid or CloudEvents schema, already split into fields)."""
    eid = event_id if isinstance(event_id, str) else None
    if not isinstance(event_type, str) or not event_type:
        return ReadEvent(Verdict.MALFORMED, "event has no type", event_id=eid)
    if event_type.lower() != WRITE_SUCCESS:
        return ReadEvent(Verdict.IGNORED, f"event type {event_type} is not handled", event_id=eid)
    if not isinstance(data, Mapping):
        return ReadEvent(
            Verdict.MALFORMED, "ResourceWriteSuccess event without a data object", event_id=eid
        )
    operation = data.get("operationName")
    if not isinstance(operation, str):
        return ReadEvent(Verdict.MALFORMED, "event data has no operationName", event_id=eid)
    if operation.lower() != RESTORE_POINT_WRITE:
        return ReadEvent(
            Verdict.IGNORED, f"operation {operation} is not a restore point write", event_id=eid
        )
    status = data.get("status")
    if isinstance(status, str) and status.lower() not in ("succeeded", ""):
        return ReadEvent(Verdict.IGNORED, f"write status {status}", event_id=eid)
    resource = data.get("resourceUri") if isinstance(data.get("resourceUri"), str) else subject
    try:
        restore_point = RestorePointId.parse(resource, "event resourceUri")
    except InvalidResourceId as exc:
        return ReadEvent(Verdict.MALFORMED, str(exc), event_id=eid)
    if isinstance(subject, str) and subject.lower().rstrip("/") != restore_point.normalized:
        return ReadEvent(
            Verdict.MALFORMED, "event subject and data.resourceUri disagree", event_id=eid
        )
    return ReadEvent(Verdict.RESTORE_POINT_WRITTEN, "restore point written", restore_point, eid)
