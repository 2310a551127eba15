"""The shapes of the HTTP API's bodies, as pydantic models.

One fact, two uses: the views build or check every JSON body they send through these models
(`shape`), and `openapi.py` documents the API from the same models' JSON Schema (2020-12, which
OpenAPI 3.1 uses). A field a view adds without adding it here fails the request's own
validation, so the document cannot drift from what is answered.

Times are ISO 8601 text (what `shared.model.times.iso` writes), kept as text so a body passes
through unchanged. A field that may be left out is optional here; one that may be null says so.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.http_api.drill_models import PlanDrillsView
from shared.http_api.model_base import ApiModel, Timestamp
from shared.http_api.model_base import shape as shape  # views build their answers with models.shape
from shared.jobs.operator_actions import CopyDeletion
from shared.model.job import JobState
from shared.model.message import Stage, Trigger

# -- problems (RFC 9457) -------------------------------------------------------------------------


class FieldError(ApiModel):
    field: str
    message: str


class Problem(ApiModel):
    """`application/problem+json`: what was wrong and how to fix it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


# -- copy jobs -------------------------------------------------------------------------------------


class CopyRequestBody(ApiModel):
    """`POST /api/copies`. `requests.parse_copy_request` reads it (its errors say which field
    was wrong); this model is its documented form and names the allowed fields. Exactly one of
    `sourceRestorePointId` (copy it) and `sourceVmId` (create one in the target region from the
    VM: `mode: create-in-target`) is given."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["sourceRestorePointId"]}, {"required": ["sourceVmId"]}]
        }
    )

    source_restore_point_id: str | None = Field(
        default=None,
        description="ARM id of the source restore point",
        examples=[
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
            "Microsoft.Compute/restorePointCollections/rpc-vm1/restorePoints/rp1"
        ],
    )
    source_vm_id: str | None = Field(
        default=None, description="create-in-target: ARM id of the VM to create a restore point of"
    )
    target_region: str = Field(examples=["westus"])
    target_resource_group: str | None = Field(
        default=None, description="default: the source's resource group"
    )
    target_collection_name: str | None = Field(
        default=None, description="default: {sourceCollection}-{targetRegion}"
    )
    target_subscription_id: str | None = Field(
        default=None, description="default: the source's subscription"
    )
    disk_encryption_set_id: str | None = Field(
        default=None, description="copies only: the disk encryption set (in the target region)"
    )
    copy_tags: bool | list[str] | None = Field(
        default=None, description="copies only: copy all (true) or these source collection tags"
    )
    restore_point_name: str | None = Field(
        default=None, description="create-in-target only: the new restore point's name"
    )
    exclude_disks: list[str] | None = Field(
        default=None, description="create-in-target only: ARM ids of disks to leave out"
    )


# Fields that only one of the two request forms takes.
CREATE_ONLY_FIELDS = frozenset({"sourceVmId", "restorePointName", "excludeDisks"})
COPY_ONLY_FIELDS = frozenset({"sourceRestorePointId", "diskEncryptionSetId", "copyTags"})


class DiskView(ApiModel):
    """One disk restore point's replication as last seen."""

    id: str | None = None
    name: str | None = None
    percent: float | None = None
    code: str | None = None
    level: str | None = None


class JobError(ApiModel):
    code: str
    message: str
    stage: Stage | None = None
    retryable: bool | None = None


class JobView(ApiModel):
    """A copy job (`GET /api/copies/{id}`). Fields without a value are left out."""

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    state: JobState
    run: int
    # Absent for a restore point created in the target from a VM (`mode`, `sourceVmId`).
    source_restore_point_id: str | None = None
    source_collection_id: str | None = None
    source_region: str | None = None
    target_region: str
    target_resource_group: str
    target_collection_name: str
    target_collection_id: str | None = None
    target_restore_point_id: str | None = None
    trigger: Trigger
    correlation_id: str
    requested_at: Timestamp
    started_at: Timestamp | None = None
    replication_done_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    updated_at: Timestamp
    percent_complete: float | None = None
    expected_finish: Timestamp | None = None
    disks: list[DiskView] = Field(default_factory=list)
    attempts: dict[str, int] = Field(default_factory=dict)
    source_created_at: Timestamp | None = None
    detail: str | None = None
    reruns: int | None = None
    next_run_at: Timestamp | None = None
    next_attempt_at: Timestamp | None = Field(
        default=None, description="WaitingForBudget: when the start tries again"
    )
    runs_recorded: int | None = Field(
        default=None, description="runs of this job so far (GET /api/copies/{id}/runs)"
    )
    error: JobError | None = None
    # Lineage and target options (docs/policies.md).
    source_vm_id: str | None = Field(default=None, description="the VM the source protects")
    target_subscription_id: str | None = None
    disk_encryption_set_id: str | None = None
    copy_tags: bool | list[str] | None = None
    mode: Literal["create-in-target"] | None = None
    exclude_disks: list[str] | None = None


class CancelledCopyView(ApiModel):
    """What became of a cancelled run's copy in the target region."""

    status: CopyDeletion
    id: str | None = Field(default=None, description="the copy's ARM id, when there is one")
    error: str | None = Field(default=None, description="why ARM refused the DELETE")


class CancelView(JobView):
    """`DELETE /api/copies/{id}`: the job, now Cancelled, and what became of its copy."""

    copy_: CancelledCopyView = Field(alias="copy")


class RunView(ApiModel):
    """One run of a job (`GET /api/copies/{id}/runs`)."""

    run: int
    state: JobState
    trigger: Trigger | None = None
    requested_at: Timestamp | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    next_run_at: Timestamp | None = None
    target_restore_point_id: str | None = None
    percent_complete: float | None = None
    disks: list[DiskView] | None = None
    error: JobError | None = None
    detail: str | None = None


class RunsView(ApiModel):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    value: list[RunView] = Field(description="every run, oldest first")


class JobList(ApiModel):
    value: list[JobView]
    next_link: str | None = Field(default=None, description="the next page, when there is one")


# -- protection ------------------------------------------------------------------------------------


class UsableCopyView(ApiModel):
    job_id: str
    source_restore_point_id: str
    target_restore_point_id: str | None = None
    source_created_at: Timestamp | None = None
    replication_done_at: Timestamp | None = None


class InFlightView(ApiModel):
    job_id: str
    state: JobState
    source_restore_point_id: str
    percent_complete: float | None = None
    expected_finish: Timestamp | None = None
    started_at: Timestamp | None = None
    source_created_at: Timestamp | None = None
    run: int | None = None
    next_run_at: Timestamp | None = None
    next_attempt_at: Timestamp | None = Field(
        default=None, description="WaitingForBudget: when the start tries again"
    )


class LastFailureView(ApiModel):
    job_id: str
    source_restore_point_id: str
    code: str | None = None
    message: str | None = None
    finished_at: Timestamp | None = None
    runs_failed: int | None = None


class DrillView(ApiModel):
    """The pair's last restore drill (present where drills exist)."""

    status: Literal["passed", "failed", "untested"]
    last_succeeded_at: Timestamp | None = None
    last_drill_id: str | None = None


class ProtectionPair(ApiModel):
    """One protected (source collection, target region) pair."""

    source_collection_id: str
    source_region: str
    target_region: str
    target_collection_id: str
    policy: str | None = None
    rpo_state: Literal["ok", "at-risk", "breached", "unknown"]
    rpo_minutes: int | None
    rpo_deadline: Timestamp | None
    age_minutes: float | None = Field(description="age of the newest usable copy's data")
    reason: str
    newest_usable: UsableCopyView | None
    in_flight: list[InFlightView]
    waiting: int
    last_failure: LastFailureView | None
    drill: DrillView | None = None
    # mode create-in-target: the pair's source is this VM (no source restore points).
    mode: Literal["create-in-target"] | None = None
    source_vm_id: str | None = None
    # Copy and creation schedules (docs/policies.md).
    copy_schedule: str | None = Field(default=None, description="the target's copy schedule")
    next_copy_at: Timestamp | None = None
    create_schedule: str | None = Field(
        default=None, description="the collection's restore point creation schedule"
    )
    next_create_at: Timestamp | None = None


class ProtectionResponse(ApiModel):
    generated_at: Timestamp
    pairs: list[ProtectionPair]
    problems: list[str]


# -- the sweep's plan ------------------------------------------------------------------------------


class PlannedCopyView(ApiModel):
    source_restore_point_id: str
    created_at: Timestamp | None = None
    reason: str
    retry_of_job_id: str | None = None


class SkippedView(ApiModel):
    source_restore_point_id: str
    reason: str
    message: str
    created_at: Timestamp | None = None
    job_id: str | None = None


class PairPlanView(ApiModel):
    copies: list[PlannedCopyView]
    skipped: list[SkippedView]
    newest_copied_created_at: Timestamp | None


class DeletionView(ApiModel):
    target_restore_point_id: str
    source_restore_point_id: str | None = None
    created_at: Timestamp | None = None
    reason: str
    job_id: str | None = None


class KeptView(ApiModel):
    target_restore_point_id: str
    reason: str
    source_restore_point_id: str | None = None
    created_at: Timestamp | None = None
    job_id: str | None = None


class RetentionView(ApiModel):
    deletions: list[DeletionView]
    kept: list[KeptView]


class PlanPair(ApiModel):
    source_collection_id: str
    target_region: str
    target_collection_id: str | None
    policy: str | None
    plan: PairPlanView | None = None
    retention: RetentionView | None = None
    protection: dict[str, Any] | None = Field(
        default=None, description="the pair's protection, as in GET /api/protection"
    )
    requested_jobs: list[str] | None = None
    deleted: list[str] | None = None
    errors: list[str] | None = None
    mode: Literal["create-in-target"] | None = None
    creation: dict[str, Any] | None = Field(
        default=None, description="create-in-target: whether the sweep creates one now, and why"
    )
    copy_schedule: dict[str, Any] | None = Field(
        default=None,
        description="the copy schedule's verdict: dueSlot, nextSlot, the copy, skipped, waiting",
    )
    skipped_by_schedule: list[str] | None = None


class PlanResponse(ApiModel):
    drills: PlanDrillsView | None = None
    poison_drained: dict[str, int]
    dry_run: bool
    started_at: Timestamp
    finished_at: Timestamp | None
    collections_listed: int
    protected_collections: int
    pairs: list[PlanPair]
    creations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="scheduled restore point creation per source collection (slots, records)",
    )
    problems: list[str]


# -- preflight -------------------------------------------------------------------------------------


class CheckView(ApiModel):
    name: str
    status: Literal["pass", "fail"]
    scope: str | None = None
    detail: str
    fix: str | None = None


class PreflightResponse(ApiModel):
    passed: bool
    checks: list[CheckView]


# -- the status page's data ------------------------------------------------------------------------


class AgePoint(ApiModel):
    at: Timestamp
    age_minutes: float


class AgeSeries(ApiModel):
    """A pair's copy age over time: it grows with the clock and drops when a newer copy
    becomes usable (two points at that moment: just before and just after)."""

    source_collection_id: str
    target_region: str
    rpo_minutes: int | None
    points: list[AgePoint]


class DashboardData(ApiModel):
    """Everything the status page shows, in one answer (`GET /api/dashboard/data`)."""

    generated_at: Timestamp
    window_hours: float = Field(description="how far back recent copies, failures and ages go")
    pairs: list[ProtectionPair]
    problems: list[str]
    in_flight: list[JobView] = Field(description="copies not finished, oldest request first")
    recent_failures: list[JobView] = Field(
        description="failed runs in the window (Failed, or RerunPending: another run follows)"
    )
    recently_finished: list[JobView] = Field(description="Succeeded or Superseded, newest first")
    history: list[AgeSeries]
