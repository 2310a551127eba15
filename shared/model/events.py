"""CloudEvents 1.0 (structured JSON) for job outcomes, published to the `copy-events` queue.

Event ids are deterministic (job, run, type), so a consumer can deduplicate the at-least-once
delivery that queues give. Building an event is pure; sending goes through the ledger outbox.

`type`, `source` and `dataschema` come from the settings' `EventIdentity`. `subject` has one
meaning in every event: the ARM id of the source-side resource the event is about, the source
restore point when the event concerns one (every copy.* event, retention.deleted), else the
source collection (rpo.breached). A restore point id starts with its collection id, so a
subject prefix filter on a collection (or resource group) selects all of its events.
Each event's data has a JSON Schema in schemas/events/<name>.json (README, "Events").
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.model.event_identity import EventIdentity
from shared.model.job import JobRecord
from shared.model.times import iso


class EventType(StrEnum):
    """Event names: the CloudEvents type is `{EVENT_TYPE_PREFIX}.{name}`, the data schema
    schemas/events/{name}.json (tests/unit/model/test_event_schemas.py keeps them paired)."""

    STARTED = "copy.started"
    SUCCEEDED = "copy.succeeded"
    FAILED = "copy.failed"
    SUPERSEDED = "copy.superseded"
    # A run failed and another run follows by itself (data.nextRunAt); not the end of the job.
    RETRYING = "copy.retrying"
    RETENTION_DELETED = "retention.deleted"
    RPO_BREACHED = "rpo.breached"
    # An operator cancelled the job (DELETE /api/copies/{id}); data.detail says what became of
    # a copy already started.
    CANCELLED = "copy.cancelled"
    # -- schedules (docs/policies.md): a restore point passed over at a copy schedule's slot;
    # a restore point the app created (or failed to); one source retention deleted.
    SKIPPED_BY_SCHEDULE = "copy.skipped"
    CREATION_SUCCEEDED = "creation.succeeded"
    CREATION_FAILED = "creation.failed"
    SOURCE_RETENTION_DELETED = "retention.source-deleted"
    # Restore drills (shared/model/drills.py): a usable copy was (not) proven to restore.
    DRILL_SUCCEEDED = "drill.succeeded"
    DRILL_FAILED = "drill.failed"


def event_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def cloud_event(
    event_type: EventType,
    *,
    identity: EventIdentity,
    subject: str,
    time: datetime,
    data: dict[str, Any],
    id_parts: tuple[object, ...],
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id(event_type.value, *id_parts),
        "source": identity.source,
        "type": identity.type_of(event_type),
        "subject": subject,
        "time": iso(time),
        "datacontenttype": "application/json",
        "dataschema": identity.schema_of(event_type),
        "data": data,
    }


def job_event(
    event_type: EventType, record: JobRecord, *, identity: EventIdentity, time: datetime
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
    # Lineage Azure does not keep (the source VM) and the target options, when there are any.
    options = record.options
    for part, key, value in (
        ("source", "vmId", options.source_vm_id),
        ("target", "subscriptionId", options.target_subscription_id),
        ("target", "diskEncryptionSetId", options.disk_encryption_set_id),
    ):
        if value is not None:
            data[part][key] = value
    if options.creates_in_target:
        # Created in the target from the VM: no source restore point, no source collection.
        data["source"] = {"vmId": options.source_vm_id, "region": record.source_region}
        data["mode"] = options.mode
    if record.next_run_at is not None:
        data["nextRunAt"] = iso(record.next_run_at)
        data["reruns"] = record.reruns
    if record.detail:
        data["detail"] = record.detail
    if record.failure is not None:
        data["reason"] = record.failure.model_dump(by_alias=True, exclude_none=True, mode="json")
    return cloud_event(
        event_type,
        identity=identity,
        # The source-side resource: the source restore point, or the VM a create-in-target
        # restore point is made from (its own id is in the target, not on the source side).
        subject=options.source_vm_id
        if options.creates_in_target and options.source_vm_id
        else record.source_restore_point_id,
        time=time,
        data=data,
        id_parts=(record.job_id, record.run),
    )


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))
