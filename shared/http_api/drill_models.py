"""The bodies of the restore drill routes (`/api/drills`), as pydantic models (see models.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.http_api.model_base import ApiModel, Timestamp

# -- restore drills (shared/http_api/drills.py; the record is shared/model/drills.py) ------------

_DrillPhase = Literal["create", "wait", "read", "cleanup", "done"]


class DrillRequestBody(ApiModel):
    source_collection_id: str = Field(description="the source restore point collection (ARM id)")
    target_region: str = Field(description="the pair's target region, e.g. westus")


class DrillPairView(ApiModel):
    source_collection_id: str
    target_region: str
    target_collection_id: str | None = None
    policy: str | None = None


class DrillReasonView(ApiModel):
    code: str
    message: str
    phase: _DrillPhase | None = None


class DrillDiskView(ApiModel):
    name: str
    disk_id: str
    disk_restore_point_id: str
    source_disk_size_gb: int | None = None
    created: bool
    verified: bool
    cleaned: bool
    access_open: bool
    create_requested_at: Timestamp | None = None
    created_at: Timestamp | None = None
    verified_at: Timestamp | None = None
    cleaned_at: Timestamp | None = None
    create_seconds: float | None = None
    verify_seconds: float | None = None
    clean_seconds: float | None = None
    bytes_read: int | None = None
    sha256: str | None = None
    problem: str | None = None


class DrillRecordView(ApiModel):
    """One restore drill: per disk created, verified (1 MiB read through a SAS), cleaned."""

    id: str
    state: Literal["Running", "Succeeded", "Failed"]
    phase: _DrillPhase
    pair: DrillPairView
    trigger: Literal["http", "schedule"]
    subscription_id: str
    resource_group: str
    started_at: Timestamp
    updated_at: Timestamp
    restore_point_id: str | None = None
    source_restore_point_id: str | None = None
    copy_job_id: str | None = None
    finished_at: Timestamp | None = None
    reason: DrillReasonView | None = None
    disks: list[DrillDiskView]
    location: str


class DrillList(ApiModel):
    drills: list[DrillRecordView] = Field(description="newest first")


class PlanDrillsView(ApiModel):
    due: list[dict[str, Any]] = Field(description="pairs the sweep would drill now")
    started: list[str]
    stalled: list[str]
    poison_drained: int
    leftover_disks: list[str]
    deleted_disks: list[str]
    errors: list[str]
