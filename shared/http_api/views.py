"""What the HTTP API shows of the app's records."""

from __future__ import annotations

from typing import Any

from shared.http_api.models import JobView, shape
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
