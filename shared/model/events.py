"""CloudEvents 1.0 (structured JSON) for job outcomes, published to the `copy-events` queue.

Event ids are deterministic (job, run, type), so a consumer can deduplicate the at-least-once
delivery that queues give. Building an event is pure; sending goes through the ledger outbox.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.model.job import JobRecord
from shared.model.times import iso


class EventType(StrEnum):
    STARTED = "rpcopy.copy.started"
    SUCCEEDED = "rpcopy.copy.succeeded"
    FAILED = "rpcopy.copy.failed"
    SUPERSEDED = "rpcopy.copy.superseded"
    # A run failed and another run follows by itself (data.nextRunAt); not the end of the job.
    RETRYING = "rpcopy.copy.retrying"
    # An operator cancelled the job (DELETE /api/copies/{id}); data.detail says what became of
    # a copy already started.
    CANCELLED = "rpcopy.copy.cancelled"
    RETENTION_DELETED = "rpcopy.retention.deleted"
    RPO_BREACHED = "rpcopy.rpo.breached"


def event_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def cloud_event(
    event_type: EventType,
    *,
    source: str,
    subject: str,
    time: datetime,
    data: dict[str, Any],
    id_parts: tuple[object, ...],
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id(event_type.value, *id_parts),
        "source": source,
        "type": event_type.value,
        "subject": subject,
        "time": iso(time),
        "datacontenttype": "application/json",
        "data": data,
    }


def job_event(
    event_type: EventType, record: JobRecord, *, source: str, time: datetime
) -> dict[str, Any]:
    """The Started / Succeeded / Failed / Superseded event of one run of a job."""
    data: dict[str, Any] = {
        "jobId": record.job_id,
        "run": record.run,
        "state": record.state.value,
        "trigger": record.trigger.value,
        "correlationId": record.correlation_id,
        "source": {
            "restorePointId": record.source_restore_point_id,
            "collectionId": record.source_collection_id,
            "region": record.source_region,
        },
        "target": {
            "restorePointId": record.target_restore_point_id,
            "collectionId": record.target_collection_id,
            "region": record.target_region,
            "resourceGroup": record.target_resource_group,
        },
        "disks": [d.model_dump(by_alias=True, exclude_none=True) for d in record.disks],
        "timing": {
            "requestedAt": iso(record.requested_at),
            "startedAt": iso(record.started_at),
            "replicationDoneAt": iso(record.replication_done_at),
            "finishedAt": iso(record.finished_at),
            "durationSeconds": (record.finished_at - record.requested_at).total_seconds()
            if record.finished_at
            else None,
        },
        "attempts": dict(record.attempts),
    }
    if record.next_run_at is not None:
        data["nextRunAt"] = iso(record.next_run_at)
        data["reruns"] = record.reruns
    if record.state.value == "Cancelled" and record.detail:
        data["detail"] = record.detail
    if record.failure is not None:
        data["reason"] = record.failure.model_dump(by_alias=True, exclude_none=True, mode="json")
    subject = record.target_restore_point_id or record.source_restore_point_id
    return cloud_event(
        event_type,
        source=source,
        subject=subject,
        time=time,
        data=data,
        id_parts=(record.job_id, record.run),
    )


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))
