"""Response bodies as the service renders them: property order, timestamps and JSON layout.

RP bodies: name, id, properties (no type, no location). RPC bodies: name, id, type, location,
tags?, properties [WIRE]. Compute pretty-prints with CRLF line ends and 2-space indentation.
"""

from __future__ import annotations

import json
from typing import Any

from . import replication
from .clock import format_arm
from .ids import DISK_TYPE, RG_TYPE, VM_TYPE
from .store import (
    Disk,
    Operation,
    ResourceGroup,
    Subscription,
    VirtualMachine,
    VmDisk,
)

PMK = "EncryptionAtRestWithPlatformKey"
CUSTOMER_KEY = "EncryptionAtRestWithCustomerKey"


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


def tracked(
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
    body = tracked(rg.name, rg.id, RG_TYPE, rg.location, rg.tags, id_first=True)
    body["properties"] = {"provisioningState": "Succeeded"}
    return body


def disk_entry(lun: int | None, os_type: str | None, name: str) -> dict[str, Any]:
    """The head of a storage profile disk: `osType` (the OS disk) or `lun`, then `name`."""
    entry: dict[str, Any] = {"osType": os_type} if lun is None else {"lun": lun}
    entry["name"] = name
    return entry


def _vm_disk_entry(att: VmDisk) -> dict[str, Any]:
    disk = att.disk
    entry = disk_entry(att.lun, disk.os_type, disk.name)
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
    body = tracked(vm.name, vm.id, VM_TYPE, vm.location, None)
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
    body = tracked(disk.name, disk.id, DISK_TYPE, disk.location, disk.tags)
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
