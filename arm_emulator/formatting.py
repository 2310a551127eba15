"""Response bodies as the service renders them: property order, timestamps and JSON layout.

RP bodies: name, id, properties (no type, no location). RPC bodies: name, id, type, location,
tags?, properties [WIRE]. Compute pretty-prints with CRLF line ends and 2-space indentation.
"""

from __future__ import annotations

import json
import math
from typing import Any

from . import replication, versions
from .clock import format_arm
from .config import EmulatorConfig
from .ids import DISK_TYPE, RG_TYPE, RPC_TYPE, VM_TYPE
from .store import (
    Disk,
    DiskRestorePoint,
    Operation,
    ResourceGroup,
    RestorePoint,
    RestorePointCollection,
    Subscription,
    VirtualMachine,
    VmDisk,
)

PMK = "EncryptionAtRestWithPlatformKey"


def dumps(obj: Any, pretty: bool = True) -> bytes:
    if not pretty:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(obj, indent=2, ensure_ascii=False).replace("\n", "\r\n").encode()


# ---- resource groups, subscriptions, VMs, disks -------------------------------------------------


def subscription_body(sub: Subscription) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub.id}",
        "subscriptionId": sub.id,
        "tenantId": sub.tenant_id,
        "displayName": sub.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "Internal_2014-09-01",
            "spendingLimit": "Off",
        },
        "authorizationSource": "RoleBased",
    }


def _tracked(
    name: str,
    resource_id: str,
    resource_type: str,
    location: str,
    tags: dict[str, str] | None,
    *,
    id_first: bool = False,
) -> dict[str, Any]:
    """A tracked resource's envelope: name and id (Resources puts the id first), type, location
    and tags (only when set)."""
    body: dict[str, Any] = (
        {"id": resource_id, "name": name} if id_first else {"name": name, "id": resource_id}
    )
    body["type"] = resource_type
    body["location"] = location
    if tags is not None:
        body["tags"] = tags
    return body


def rg_body(rg: ResourceGroup) -> dict[str, Any]:
    body = _tracked(rg.name, rg.id, RG_TYPE, rg.location, rg.tags, id_first=True)
    body["properties"] = {"provisioningState": "Succeeded"}
    return body


def _disk_entry(lun: int | None, os_type: str | None, name: str) -> dict[str, Any]:
    """The head of a storage profile disk: `osType` (the OS disk) or `lun`, then `name`."""
    entry: dict[str, Any] = {"osType": os_type} if lun is None else {"lun": lun}
    entry["name"] = name
    return entry


def _vm_disk_entry(att: VmDisk) -> dict[str, Any]:
    disk = att.disk
    entry = _disk_entry(att.lun, disk.os_type, disk.name)
    entry["createOption"] = "FromImage" if att.lun is None else "Attach"
    entry["caching"] = att.caching
    if att.ephemeral:
        entry["diffDiskSettings"] = {"option": "Local", "placement": "ResourceDisk"}
    entry["managedDisk"] = {"storageAccountType": disk.sku, "id": disk.id}
    entry["diskSizeGB"] = disk.size_gb
    entry["writeAcceleratorEnabled"] = att.write_accelerator
    if att.lun is not None:
        entry["toBeDetached"] = False
    entry["deleteOption"] = "Detach"
    return entry


def vm_body(vm: VirtualMachine) -> dict[str, Any]:
    storage: dict[str, Any] = {
        "imageReference": {
            "publisher": "Canonical" if vm.os_type == "Linux" else "MicrosoftWindowsServer",
            "offer": "ubuntu-24_04-lts" if vm.os_type == "Linux" else "WindowsServer",
            "sku": "server" if vm.os_type == "Linux" else "2022-datacenter-azure-edition",
            "version": "latest",
        },
        "osDisk": _vm_disk_entry(vm.os_disk),
        "dataDisks": [_vm_disk_entry(d) for d in sorted(vm.data_disks, key=lambda d: d.lun or 0)],
    }
    if vm.disk_controller_type:
        storage["diskControllerType"] = vm.disk_controller_type
    props: dict[str, Any] = {
        "hardwareProfile": {"vmSize": vm.vm_size},
        "storageProfile": storage,
        "osProfile": vm.os_profile,
        "networkProfile": {"networkInterfaces": []},
        "provisioningState": "Succeeded",
        "vmId": vm.vm_id,
        "timeCreated": format_arm(vm.time_created),
    }
    if vm.security_type:
        props["securityProfile"] = {"securityType": vm.security_type}
    body = _tracked(vm.name, vm.id, VM_TYPE, vm.location, None)
    body["properties"] = props
    return body


def disk_body(disk: Disk) -> dict[str, Any]:
    creation: dict[str, Any] = {"createOption": disk.create_option}
    if disk.source_resource_id:
        creation["sourceResourceId"] = disk.source_resource_id
    if disk.source_unique_id:
        creation["sourceUniqueId"] = disk.source_unique_id
    props: dict[str, Any] = {}
    if disk.os_type:
        props["osType"] = disk.os_type
    props.update(
        {
            "hyperVGeneration": disk.hyper_v_generation,
            "creationData": creation,
            "diskSizeGB": disk.size_gb,
            "diskSizeBytes": disk.size_gb * replication.GIB,
            "uniqueId": disk.unique_id,
            "encryption": {"type": PMK},
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
            "timeCreated": format_arm(disk.time_created),
            "provisioningState": disk.provisioning_state,
            "diskState": "Attached" if disk.managed_by else "Unattached",
        }
    )
    if disk.max_shares > 1:
        props["maxShares"] = disk.max_shares
    body = _tracked(disk.name, disk.id, DISK_TYPE, disk.location, disk.tags)
    if disk.managed_by:
        body["managedBy"] = disk.managed_by
    body["sku"] = {"name": disk.sku, "tier": _sku_tier(disk.sku)}
    body["properties"] = props
    return body


def _sku_tier(sku: str) -> str:
    return {
        "Premium_LRS": "Premium",
        "Premium_ZRS": "Premium",
        "StandardSSD_LRS": "Standard",
        "StandardSSD_ZRS": "Standard",
        "Standard_LRS": "Standard",
        "UltraSSD_LRS": "Ultra",
        "PremiumV2_LRS": "Premium",
    }.get(sku, "Standard")


# ---- collections and restore points -------------------------------------------------------------


def rpc_body(
    rpc: RestorePointCollection,
    *,
    expand_rps: bool = False,
    now: float = 0.0,
    cfg: EmulatorConfig | None = None,
    api_version: str = "",
) -> dict[str, Any]:
    body = _tracked(rpc.name, rpc.id, RPC_TYPE, rpc.location, rpc.tags)
    props: dict[str, Any] = {"source": {"id": rpc.source_id, "location": rpc.source_location}}
    if rpc.instant_access is not None:
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


def _metadata_disk(drp: DiskRestorePoint, rp: RestorePoint, *, copy_done: bool) -> dict[str, Any]:
    entry = _disk_entry(drp.lun, drp.os_type, drp.disk_name)
    entry["caching"] = drp.caching
    entry["diskSizeGB"] = drp.size_gb
    entry["managedDisk"] = {"storageAccountType": drp.sku, "id": drp.disk_id}
    point: dict[str, Any] = {"id": drp.id}
    if rp.is_copy and copy_done:
        # After the copy LRO: the target DRP, its encryption and the source DRP [WIRE].
        point["encryption"] = {"type": PMK}
        point["sourceDiskRestorePoint"] = {"id": drp.source_drp_id}
    entry["diskRestorePoint"] = point
    entry["writeAcceleratorEnabled"] = drp.write_accelerator
    return entry


def rp_body(
    rp: RestorePoint,
    now: float,
    cfg: EmulatorConfig,
    *,
    expand_instance_view: bool = False,
    api_version: str = "",
) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if rp.exclude_disks:
        props["excludeDisks"] = [{"id": d} for d in rp.exclude_disks]
    if rp.source_rp_id is not None:
        props["sourceRestorePoint"] = {"id": rp.source_rp_id}
    copy_done = rp.provisioning_state == "Succeeded"
    meta = dict(rp.metadata_base)
    storage: dict[str, Any] = {}
    disks = rp.disks
    os_entries = [d for d in disks if d.lun is None]
    if os_entries:
        storage["osDisk"] = _metadata_disk(os_entries[0], rp, copy_done=copy_done)
    storage["dataDisks"] = [
        _metadata_disk(d, rp, copy_done=copy_done) for d in disks if d.lun is not None
    ]
    controller = meta.pop("_diskControllerType", None)
    if controller:
        storage["diskControllerType"] = controller
    ordered: dict[str, Any] = {}
    for name, value in meta.items():
        ordered[name] = value
        if name == "hardwareProfile":
            ordered["storageProfile"] = storage
    props["sourceMetadata"] = ordered
    if rp.instant_access_minutes is not None and versions.at_least(
        api_version or versions.RESTORE_POINT_VERSIONS[0], versions.INSTANT_ACCESS_MIN_VERSION
    ):
        props["instantAccessDurationMinutes"] = rp.instant_access_minutes
    if api_version >= "2025-11-01":
        props["instantAccessStatus"] = _instant_access_status(rp, now, cfg)
    props["provisioningState"] = rp.provisioning_state
    props["consistencyMode"] = rp.consistency_mode
    props["timeCreated"] = format_arm(rp.time_created)
    if expand_instance_view:
        props["instanceView"] = instance_view(rp, now, cfg, api_version=api_version)
    return {"name": rp.name, "id": rp.id, "properties": props}


def _instant_access_status(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> str:
    """2025-11-01 `instantAccessStatus`: the snapshot state; a copy is Available once replicated."""
    if rp.is_copy:
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
    with_access_state = versions.at_least(
        api_version or versions.RESTORE_POINT_VERSIONS[0], versions.INSTANT_ACCESS_MIN_VERSION
    )
    entries: list[dict[str, Any]] = []
    if rp.is_copy:
        rv = replication.view(rp, now, cfg)
        for drp, progress in zip(rp.disks, rv.disks, strict=True):
            status: dict[str, Any] = {"status": replication.STATUS_BY_STATE[progress.state]}
            if progress.percent is not None:
                status["completionPercent"] = progress.percent
            entries.append({"id": drp.id, "replicationStatus": status})
        return {
            "diskRestorePoints": entries,
            "statuses": [replication.STATUS_BY_STATE[rv.overall]],
        }
    # A local restore point has nothing to replicate; the official example reports it as
    # replicated (ReplicationState/succeeded, 100) once created.
    created = rp.provisioning_state == "Succeeded"
    access = snapshot_access_state(rp, now) if with_access_state else None
    for drp in rp.disks:
        entry: dict[str, Any] = {"id": drp.id}
        if created:
            entry["replicationStatus"] = {
                "status": replication.STATUS_SUCCEEDED,
                "completionPercent": 100,
            }
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
    if rp.is_copy:
        start = rp.replication_start
        if rp.forced_replication or rp.provisioning_state == "Failed" or start is None:
            return ("static",)
        if now < start:
            return ("pending",)
        tick = math.floor((now - start) / max(cfg.progress_interval_seconds, 1e-6) + 1e-9)
        return ("tick", tick, now >= start + cfg.max_copy_seconds)
    return snapshot_access_state(rp, now)


def drp_body(
    rp: RestorePoint, drp: DiskRestorePoint, now: float, cfg: EmulatorConfig
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "timeCreated": format_arm(drp.time_created),
        "sourceResourceId": drp.disk_id,
    }
    if drp.os_type:
        props["osType"] = drp.os_type
    props["hyperVGeneration"] = drp.hyper_v_generation
    props["familyId"] = drp.family_id
    props["sourceUniqueId"] = drp.source_unique_id
    props["encryption"] = {"type": PMK}
    props["networkAccessPolicy"] = "AllowAll"
    props["publicNetworkAccess"] = "Disabled"
    if rp.is_copy:
        # Filled only when the source is in a different region [SPEC].
        rv = replication.view(rp, now, cfg)
        progress = rv.disks[rp.disks.index(drp)]
        props["replicationState"] = replication.DISK_RP_STATE[progress.state]
        if progress.percent is not None:
            props["completionPercent"] = progress.percent
        props["sourceResourceLocation"] = drp.source_location
    props["logicalSectorSize"] = drp.logical_sector_size
    return {"id": drp.id, "name": drp.name, "properties": props}


def operation_body(op: Operation) -> dict[str, Any]:
    # Compute returns name (the op id) but no id [WIRE].
    body: dict[str, Any] = {"startTime": format_arm(op.start)}
    if op.end_time is not None:
        body["endTime"] = format_arm(op.end_time)
    body["status"] = op.status
    if op.status == "Succeeded" and op.output is not None:
        body["properties"] = {"output": op.output}
    if op.error is not None:
        body["error"] = op.error
    body["name"] = op.id
    return body
