"""What the HTTP API shows of the app's records."""

from __future__ import annotations

from typing import Any

from shared.http_api.models import JobView, RunsView, shape
from shared.model.job import JobRecord
from shared.model.times import iso


def job_view(record: JobRecord) -> dict[str, Any]:
    """The job as the HTTP API shows it."""
    creates = record.options.creates_in_target
    body: dict[str, Any] = {
        "id": record.job_id,
        "state": record.state.value,
        "run": record.run,
        # A restore point created in the target has no source restore point (nor collection:
        # its source is the VM, `sourceVmId`).
        "sourceRestorePointId": None if creates else record.source_restore_point_id,
        "sourceCollectionId": None if creates else record.source_collection_id,
        "sourceRegion": record.source_region,
        "targetRegion": record.target_region,
        "targetResourceGroup": record.target_resource_group,
        "targetCollectionName": record.target_collection_name,
        "targetCollectionId": record.target_collection_id,
        "targetRestorePointId": record.target_restore_point_id,
        "trigger": record.trigger.value,
        "correlationId": record.correlation_id,
        "requestedAt": iso(record.requested_at),
        "startedAt": iso(record.started_at),
        "replicationDoneAt": iso(record.replication_done_at),
        "finishedAt": iso(record.finished_at),
        "updatedAt": iso(record.updated_at),
        "percentComplete": record.percent,
        "expectedFinish": iso(record.expected_finish),
        "disks": [d.model_dump(by_alias=True, exclude_none=True) for d in record.disks],
        "attempts": dict(record.attempts),
        "sourceCreatedAt": iso(record.source_created_at),
        "detail": record.detail,
        "reruns": record.reruns or None,
        "nextRunAt": iso(record.next_run_at),
        "nextAttemptAt": iso(record.next_attempt_at),
        "runsRecorded": len(record.history) + 1 if record.history else None,
        "error": record.failure.model_dump(by_alias=True, exclude_none=True, mode="json")
        if record.failure
        else None,
        # Lineage and target options (shared/model/copy_options.py).
        "sourceVmId": record.options.source_vm_id,
        "targetSubscriptionId": record.options.target_subscription_id,
        "diskEncryptionSetId": record.options.disk_encryption_set_id,
        "copyTags": record.options.copy_tags,
        "mode": record.options.mode if creates else None,
        "excludeDisks": list(record.options.exclude_disks) or None,
    }
    # Built through the documented model (models.JobView): the answer is what the document says.
    return shape(JobView, {k: v for k, v in body.items() if v is not None})


def runs_view(record: JobRecord) -> dict[str, Any]:
    """Every run of the job, oldest first: the recorded earlier runs, then the row's own run
    (or, while a new run is pending after the last one ended, that coming run)."""
    runs = [r.to_json() for r in record.history]
    current = {
        "run": record.run,
        "state": record.state.value,
        "trigger": record.trigger.value,
        "requestedAt": iso(record.requested_at),
        "startedAt": iso(record.started_at),
        "endedAt": iso(record.finished_at),
        "targetRestorePointId": record.target_restore_point_id,
        "percentComplete": record.percent,
        "disks": [d.model_dump(by_alias=True, exclude_none=True) for d in record.disks],
        "error": record.failure.model_dump(by_alias=True, exclude_none=True, mode="json")
        if record.failure and record.state.value == "Failed"
        else None,
        "detail": record.detail,
    }
    if record.history and record.history[-1].run == record.run:
        # The row's run is recorded as ended; the next one has not started yet.
        current = {
            "run": record.run + 1,
            "state": record.state.value,
            "requestedAt": iso(record.requested_at),
            "nextRunAt": iso(record.next_run_at),
            "detail": record.detail,
        }
    runs.append({k: v for k, v in current.items() if v is not None})
    return shape(RunsView, {"id": record.job_id, "value": runs})
