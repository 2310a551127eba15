"""Restore point collection, restore point, instance view and disk restore point bodies, each in
the shape of the api-version asked for (`versions.FEATURES`: a property appears only in the
versions whose spec defines it).

RP bodies: name, id, properties (no type, no location). RPC bodies: name, id, type, location,
tags?, properties [WIRE].
"""

from __future__ import annotations

from typing import Any

from . import replication, versions
from .clock import format_arm
from .config import EmulatorConfig
from .formatting import CUSTOMER_KEY, PMK, disk_entry, tracked
from .ids import RPC_TYPE
from .store import DiskRestorePoint, RestorePoint, RestorePointCollection


def rpc_body(
    rpc: RestorePointCollection,
    *,
    expand_rps: bool = False,
    now: float = 0.0,
    cfg: EmulatorConfig | None = None,
    api_version: str = "",
) -> dict[str, Any]:
    body = tracked(rpc.name, rpc.id, RPC_TYPE, rpc.location, rpc.tags)
    props: dict[str, Any] = {"source": {"id": rpc.source_id, "location": rpc.source_location}}
    if rpc.instant_access is not None and versions.has("rpc.instantAccess", api_version):
        props["instantAccess"] = rpc.instant_access
    props["restorePointCollectionId"] = rpc.rpc_guid
    props["provisioningState"] = rpc.provisioning_state
    if expand_rps:
        assert cfg is not None
        props["restorePoints"] = [
            rp_body(rp, now, cfg, api_version=api_version) for rp in rpc.restore_points.values()
        ]
    body["properties"] = props
    return body


def _metadata_disk(
    drp: DiskRestorePoint, rp: RestorePoint, shape: frozenset[str], *, copy_done: bool
) -> dict[str, Any]:
    entry = disk_entry(drp.lun, drp.os_type, drp.disk_name)
    entry["diskSizeGB"] = drp.size_gb
    entry["caching"] = drp.caching
    entry["managedDisk"] = {"storageAccountType": drp.sku, "id": drp.disk_id}
    if rp.provisioning_state != "Creating":
        # No disk restore point ids while Creating; once created, every disk restore point
        # shows its encryption (a copy's also its source), in the service's order [WIRE].
        point: dict[str, Any] = {}
        if "meta.diskRestorePointAttributes" in shape and copy_done:
            if rp.is_copy:
                point["sourceDiskRestorePoint"] = {"id": drp.source_drp_id}
            point["encryption"] = (
                {"diskEncryptionSet": {"id": drp.encryption_set_id}, "type": CUSTOMER_KEY}
                if drp.encryption_set_id
                else {"type": PMK}
            )
        point["id"] = drp.id
        entry["diskRestorePoint"] = point
    if drp.write_accelerator and "meta.writeAcceleratorEnabled" in shape:
        entry["writeAcceleratorEnabled"] = True  # sent only when set [WIRE]
    return entry


def _source_metadata(rp: RestorePoint, shape: frozenset[str]) -> dict[str, Any]:
    copy_done = rp.provisioning_state == "Succeeded"
    meta = dict(rp.metadata_base)
    controller = meta.pop("_diskControllerType", None)
    if "meta.hyperVGeneration" in shape:
        meta["hyperVGeneration"] = meta.pop("hyperVGeneration", None)  # always last [WIRE]
    if "meta.userData" not in shape:
        meta.pop("userData", None)
    if "meta.hyperVGeneration" not in shape:
        meta.pop("hyperVGeneration", None)
    storage: dict[str, Any] = {}
    os_entries = [d for d in rp.disks if d.lun is None]
    if os_entries:
        storage["osDisk"] = _metadata_disk(os_entries[0], rp, shape, copy_done=copy_done)
    storage["dataDisks"] = [
        _metadata_disk(d, rp, shape, copy_done=copy_done) for d in rp.disks if d.lun is not None
    ]
    if controller and "meta.diskControllerType" in shape:
        storage["diskControllerType"] = controller
    ordered: dict[str, Any] = {}
    for name, value in meta.items():
        ordered[name] = value
        if name == "hardwareProfile":
            ordered["storageProfile"] = storage
    return ordered


def rp_body(
    rp: RestorePoint,
    now: float,
    cfg: EmulatorConfig,
    *,
    expand_instance_view: bool = False,
    api_version: str = "",
) -> dict[str, Any]:
    shape = versions.shape(api_version)
    props: dict[str, Any] = {}
    if rp.exclude_disks:
        props["excludeDisks"] = [{"id": d} for d in rp.exclude_disks]
    props["sourceMetadata"] = _source_metadata(rp, shape)
    if cfg.restore_point_source_location == "absent":
        props["sourceMetadata"].pop("location", None)
    if rp.instant_access_minutes is not None and "rp.instantAccessDurationMinutes" in shape:
        props["instantAccessDurationMinutes"] = rp.instant_access_minutes
    if "rp.instantAccessStatus" in shape:
        props["instantAccessStatus"] = _instant_access_status(rp, now, cfg)
    props["provisioningState"] = replication.provisioning_state(rp, now, cfg)
    if rp.is_copy or rp.provisioning_state != "Creating":
        # A local restore point reports its consistency mode once created; a copy has its
        # source's from the start [WIRE].
        props["consistencyMode"] = rp.consistency_mode
    if rp.source_rp_id is not None and "rp.sourceRestorePoint" in shape:
        props["sourceRestorePoint"] = {"id": rp.source_rp_id}
    props["timeCreated"] = format_arm(rp.time_created)
    if expand_instance_view and "rp.instanceView" in shape:
        props["instanceView"] = instance_view(rp, now, cfg, api_version=api_version)
    return {"name": rp.name, "id": rp.id, "properties": props}


def _instant_access_status(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> str:
    """`instantAccessStatus` (2025-11-01 only): the snapshot state; a copy is Available once
    replicated."""
    if rp.replicates:
        done = rp.provisioning_state == "Succeeded" and replication.succeeded(rp, now, cfg)
        return "Available" if done else "Pending"
    return snapshot_access_state(rp, now)


def snapshot_access_state(rp: RestorePoint, now: float) -> str:
    if rp.provisioning_state == "Creating":
        return "Pending"
    if now < rp.hydrated_at:
        return "InstantAccess"  # cannot be copied or downloaded yet [SPEC]
    minutes = rp.instant_access_minutes
    if minutes is not None and now < rp.time_created + minutes * 60:
        return "AvailableWithInstantAccess"
    return "Available"


def instance_view(
    rp: RestorePoint, now: float, cfg: EmulatorConfig, *, api_version: str = ""
) -> dict[str, Any]:
    shape = versions.shape(api_version)
    with_percent = "iv.completionPercent" in shape
    entries: list[dict[str, Any]] = []
    if rp.replicates:
        rv = replication.view(rp, now, cfg)
        for drp, progress in zip(rp.disks, rv.disks, strict=True):
            status: dict[str, Any] = {"status": replication.status(progress.state, cfg)}
            if progress.percent is not None and with_percent:
                status["completionPercent"] = progress.percent
            entries.append({"id": drp.id, "replicationStatus": status})
        return {
            "diskRestorePoints": entries,
            "statuses": [replication.status(rv.overall, cfg)],
        }
    # A local restore point has nothing to replicate; the official example reports it as
    # replicated (ReplicationState/succeeded, 100) once created.
    created = rp.provisioning_state == "Succeeded"
    access = snapshot_access_state(rp, now) if "iv.snapshotAccessState" in shape else None
    for drp in rp.disks:
        entry: dict[str, Any] = {"id": drp.id}
        if created:
            entry["replicationStatus"] = {"status": replication.STATUS_SUCCEEDED}
            if with_percent:
                entry["replicationStatus"]["completionPercent"] = 100
        if access is not None:
            entry["snapshotAccessState"] = access
        entries.append(entry)
    return {
        "diskRestorePoints": entries,
        "statuses": [replication.STATUS_SUCCEEDED] if created else [],
    }


def instance_view_signature(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> object:
    """A cheap value that changes whenever the body would render differently: a copy's published
    state only changes at progress ticks (and at the 14-day cap), a local one with its access
    state."""
    if rp.replicates:
        start = rp.replication_start
        if rp.forced_replication or rp.provisioning_state == "Failed" or start is None:
            return ("static",)
        if now < start:
            return ("pending",)
        tick = replication.Ticks(rp, start, cfg).index(now)
        return ("tick", tick, now >= start + cfg.max_copy_seconds)
    return snapshot_access_state(rp, now)


def drp_body(
    rp: RestorePoint,
    drp: DiskRestorePoint,
    now: float,
    cfg: EmulatorConfig,
    *,
    api_version: str = "",
) -> dict[str, Any]:
    """A disk restore point in the shape of a Disk RP api-version."""
    shape = versions.shape(api_version or versions.NEWEST_DISK_VERSION)
    props: dict[str, Any] = {
        "timeCreated": format_arm(drp.time_created),
        "sourceResourceId": drp.disk_id,
    }
    if drp.os_type:
        props["osType"] = drp.os_type
    props["hyperVGeneration"] = drp.hyper_v_generation
    props["familyId"] = drp.family_id
    props["sourceUniqueId"] = drp.source_unique_id
    props["encryption"] = (
        {"diskEncryptionSetId": drp.encryption_set_id, "type": CUSTOMER_KEY}
        if drp.encryption_set_id
        else {"type": PMK}
    )
    if "drp.networkAccess" in shape:
        props["networkAccessPolicy"] = "AllowAll"
        props["publicNetworkAccess"] = "Disabled"
    if rp.replicates:
        # Filled only when the source is in a different region [SPEC].
        rv = replication.view(rp, now, cfg)
        progress = rv.disks[rp.disks.index(drp)]
        if "drp.replication" in shape:
            props["replicationState"] = replication.DISK_RP_STATE[progress.state]
        if progress.percent is not None and "drp.completionPercent" in shape:
            props["completionPercent"] = progress.percent
        if "drp.replication" in shape:
            props["sourceResourceLocation"] = drp.source_location
    if "drp.logicalSectorSize" in shape:
        props["logicalSectorSize"] = drp.logical_sector_size
    if "drp.snapshotAccessState" in shape:
        # Disk RP 2026-03-02: a copy's snapshot is inferred Pending until replicated.
        props["snapshotAccessState"] = (
            ("Available" if replication.succeeded(rp, now, cfg) else "Pending")
            if rp.replicates
            else snapshot_access_state(rp, now)
        )
    return {"id": drp.id, "name": drp.name, "properties": props}
