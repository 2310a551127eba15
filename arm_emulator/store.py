"""In-memory state: the resources the emulator knows, indexed by lower-cased id.

Objects use `__slots__` so that 10,000 restore points stay far below the 200 MB budget; metadata
that many restore points share (the VM's osProfile etc.) is stored once and referenced.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import ids


@dataclass(slots=True)
class Subscription:
    id: str
    tenant_id: str
    display_name: str


@dataclass(slots=True)
class ResourceGroup:
    id: str
    subscription: str
    name: str
    location: str
    tags: dict[str, str] | None
    seq: int


@dataclass(slots=True)
class Disk:
    id: str
    subscription: str
    resource_group: str
    name: str
    location: str
    size_gb: int
    used_bytes: int
    sku: str
    os_type: str | None
    hyper_v_generation: str
    unique_id: str
    time_created: float
    seq: int
    max_shares: int = 1
    managed_by: str | None = None
    create_option: str = "Empty"
    source_resource_id: str | None = None
    source_unique_id: str | None = None
    provisioning_state: str = "Succeeded"
    tags: dict[str, str] | None = None
    logical_sector_size: int = 512
    version: int = 0


@dataclass(slots=True)
class DiskEncryptionSet:
    """A disk encryption set (seeded only): customer-managed keys for disks in its region."""

    id: str
    subscription: str
    resource_group: str
    name: str
    location: str


@dataclass(slots=True)
class VmDisk:
    """A disk attached to a VM: the OS disk when `lun` is None."""

    disk: Disk
    lun: int | None
    caching: str
    ephemeral: bool = False
    write_accelerator: bool = False


@dataclass(slots=True)
class VirtualMachine:
    id: str
    subscription: str
    resource_group: str
    name: str
    location: str
    vm_id: str
    vm_size: str
    os_type: str
    os_disk: VmDisk
    data_disks: list[VmDisk]
    hyper_v_generation: str
    time_created: float
    seq: int
    os_profile: dict[str, Any]
    disk_controller_type: str | None = None
    user_data: str | None = None
    security_type: str | None = None
    license_type: str | None = None
    # Cumulative bytes changed per disk (key: disk id lower) since the VM existed; restore points
    # record the counter so an incremental copy knows how much changed since its base.
    changed_cum: dict[str, int] = field(default_factory=dict)
    rp_count: int = 0  # restore points taken so far (the first one is a full snapshot)
    # Shared, immutable metadata pieces reused by every restore point of this VM.
    metadata_base: dict[str, Any] = field(default_factory=dict)

    def attached(self) -> list[VmDisk]:
        return [self.os_disk, *sorted(self.data_disks, key=lambda d: d.lun or 0)]


@dataclass(slots=True)
class Operation:
    """An asynchronous operation (LRO) with its simulated start and end."""

    id: str
    p: str
    subscription: str
    region: str
    # rp_create | rp_delete | rpc_delete | grant_access | revoke_access | disk_create | disk_delete
    kind: str
    resource_id: str
    start: float
    end: float
    api_version: str
    status: str = "InProgress"
    end_time: float | None = None
    error: dict[str, Any] | None = None
    error_status: int = 500
    fail_with: dict[str, Any] | None = None  # an injected LRO failure, applied when it ends
    output: dict[str, Any] | None = None
    context: Any = None  # the RequestContext that started it (for events)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status != "InProgress"


@dataclass(slots=True)
class DiskRestorePoint:
    id: str
    name: str
    disk_id: str  # the source managed disk
    disk_name: str
    lun: int | None
    os_type: str | None
    size_gb: int
    used_bytes: int
    sku: str
    caching: str
    write_accelerator: bool
    cum_changed: int
    time_created: float
    family_id: str
    source_unique_id: str
    hyper_v_generation: str
    logical_sector_size: int
    source_drp_id: str | None = None  # copies: the source disk restore point
    source_location: str | None = None  # copies: the source region
    bytes_to_copy: int = 0
    duration: float = 0.0  # simulated replication seconds
    fail_after: float | None = None  # injected replication failure (seconds after start)
    access_sas: str | None = None
    access_until: float | None = None  # simulated end of the active SAS
    access_pending: bool = False
    # copies: the target-region disk encryption set named in the copy PUT (customer key)
    encryption_set_id: str | None = None


@dataclass(slots=True)
class RestorePoint:
    id: str
    name: str
    collection: RestorePointCollection
    time_created: float
    seq: int
    consistency_mode: str
    exclude_disks: list[str]
    instant_access_minutes: int | None
    provisioning_state: str
    metadata_base: dict[str, Any]
    disks: list[DiskRestorePoint]
    vm_key: str  # the source VM (for local and copied restore points alike)
    inputs: tuple[Any, ...]  # canonical PUT input, to tell an idempotent re-PUT from an update
    source_rp_id: str | None = None
    source_rpc_key: str | None = None
    operation: Operation | None = None
    replication_start: float | None = None
    forced_replication: str | None = None  # seeded copies: "succeeded" | "failed"
    hydrated_at: float = 0.0  # end of snapshotAccessState InstantAccess
    delete_operation: Operation | None = None
    version: int = 0
    # A copy the rules refused in the "operation" variant: accepted, its operation will fail.
    refused: bool = False
    # Created from a VM in another region (cross-region creation, arm-contract §14).
    cross_region: bool = False

    @property
    def is_copy(self) -> bool:
        return self.source_rp_id is not None

    @property
    def replicates(self) -> bool:
        """Its data crosses regions: a copy, or a cross-region creation."""
        return self.source_rp_id is not None or self.cross_region

    def touch(self) -> None:
        self.version += 1


@dataclass(slots=True)
class RestorePointCollection:
    id: str
    subscription: str
    resource_group: str
    name: str
    location: str
    tags: dict[str, str] | None
    source_id: str
    source_kind: str  # "vm" | "rpc"
    source_location: str
    rpc_guid: str
    seq: int
    instant_access: bool | None = None
    provisioning_state: str = "Succeeded"
    restore_points: dict[str, RestorePoint] = field(default_factory=dict)
    copy_put_times: deque[float] = field(default_factory=deque)
    delete_operation: Operation | None = None
    version: int = 0

    @property
    def source_key(self) -> str:
        return ids.key(self.source_id)


class Store:
    """All resources, keyed by lower-cased id; `seq` orders creation for stable paging."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (the object stays: the scheduler and handlers hold on to it)."""
        self.subscriptions: dict[str, Subscription] = {}
        self.groups: dict[str, ResourceGroup] = {}
        self.vms: dict[str, VirtualMachine] = {}
        self.disks: dict[str, Disk] = {}
        self.rpcs: dict[str, RestorePointCollection] = {}
        self.rps: dict[str, RestorePoint] = {}
        self.drps: dict[str, tuple[RestorePoint, DiskRestorePoint]] = {}
        self.operations: dict[str, Operation] = {}
        self.encryption_sets: dict[str, DiskEncryptionSet] = {}
        # SAS token (the /_sas/{token} path) -> (disk restore point id, signature).
        self.sas_tokens: dict[str, tuple[str, str]] = {}
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- indexing helpers -----------------------------------------------------------------------

    def add_rp(self, rp: RestorePoint) -> None:
        rp.collection.restore_points[rp.name.lower()] = rp
        rp.collection.version += 1
        self.rps[ids.key(rp.id)] = rp
        for drp in rp.disks:
            self.drps[ids.key(drp.id)] = (rp, drp)

    def remove_rp(self, rp: RestorePoint) -> None:
        rp.collection.restore_points.pop(rp.name.lower(), None)
        rp.collection.version += 1
        self.rps.pop(ids.key(rp.id), None)
        for drp in rp.disks:
            self.drps.pop(ids.key(drp.id), None)

    def remove_rpc(self, rpc: RestorePointCollection) -> None:
        for rp in list(rpc.restore_points.values()):
            self.remove_rp(rp)
        self.rpcs.pop(ids.key(rpc.id), None)

    def vm_restore_points(self, vm_key: str) -> list[RestorePoint]:
        """Local restore points of a VM, across all of its collections."""
        return [
            rp
            for rpc in self.rpcs.values()
            if rpc.source_kind == "vm" and rpc.source_key == vm_key
            for rp in rpc.restore_points.values()
        ]
