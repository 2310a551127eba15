"""Build seed scenarios in Python (the JSON format of `POST /_emulator/seed`).

s = (Scenario(subscription_id=SUB)
     .vm("vm1", rg="R", location="eastus",
         os_disk=DiskSpec(size_gb=128, used_gb=30),
         data_disks=[DiskSpec(lun=0), DiskSpec(lun=1)])
     .collection("rpc1", vm="vm1")
     .restore_point("rp1", collection="rpc1"))
ids = control.seed(s)
s.rpc_id("rpc1")  # the id the emulator will use
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import ids
from .config import DEFAULT_SUBSCRIPTION_ID


@dataclass
class DiskSpec:
    size_gb: int = 64
    used_gb: float | None = None  # default: a quarter of the size
    sku: str = "Premium_LRS"
    lun: int | None = None  # data disks only
    name: str | None = None
    max_shares: int = 1  # > 1: a shared disk (restore points refuse it)
    ephemeral: bool = False  # OS disk only (restore points refuse it)
    write_accelerator: bool = False
    caching: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sizeGB": self.size_gb, "sku": self.sku}
        if self.used_gb is not None:
            out["usedGB"] = self.used_gb
        if self.lun is not None:
            out["lun"] = self.lun
        if self.name:
            out["name"] = self.name
        if self.max_shares != 1:
            out["maxShares"] = self.max_shares
        if self.ephemeral:
            out["ephemeral"] = True
        if self.write_accelerator:
            out["writeAccelerator"] = True
        if self.caching:
            out["caching"] = self.caching
        return out


class Scenario:
    def __init__(self, subscription_id: str = DEFAULT_SUBSCRIPTION_ID) -> None:
        self.subscription_id = subscription_id
        self._groups: list[dict[str, Any]] = []
        self._vms: list[dict[str, Any]] = []
        self._collections: list[dict[str, Any]] = []
        self._points: list[dict[str, Any]] = []
        self._encryption_sets: list[dict[str, Any]] = []
        self._rg_of: dict[str, str] = {}  # collection or VM name -> resource group

    def resource_group(
        self, name: str, location: str = "eastus", *, subscription_id: str | None = None
    ) -> Scenario:
        """A resource group (in another subscription with `subscription_id`)."""
        group: dict[str, Any] = {"name": name, "location": location}
        if subscription_id:
            group["subscriptionId"] = subscription_id
        self._groups.append(group)
        return self

    def encryption_set(
        self,
        name: str,
        location: str,
        *,
        rg: str = "rg",
        subscription_id: str | None = None,
    ) -> Scenario:
        """A disk encryption set in `location` (copies may name one in their target region)."""
        spec: dict[str, Any] = {"name": name, "location": location, "resourceGroup": rg}
        if subscription_id:
            spec["subscriptionId"] = subscription_id
        self._encryption_sets.append(spec)
        return self

    def encryption_set_id(
        self, name: str, rg: str = "rg", subscription_id: str | None = None
    ) -> str:
        return ids.des_id(subscription_id or self.subscription_id, rg, name)

    def vm(
        self,
        name: str,
        *,
        rg: str = "rg",
        location: str = "eastus",
        os_type: str = "Linux",
        os_disk: DiskSpec | None = None,
        data_disks: list[DiskSpec] | None = None,
        vm_size: str = "Standard_D2s_v5",
        **extra: Any,
    ) -> Scenario:
        spec: dict[str, Any] = {
            "name": name,
            "resourceGroup": rg,
            "location": location,
            "osType": os_type,
            "vmSize": vm_size,
            "osDisk": (os_disk or DiskSpec(size_gb=30)).to_dict(),
            "dataDisks": [
                {**d.to_dict(), "lun": d.lun if d.lun is not None else i}
                for i, d in enumerate(data_disks or [])
            ],
        }
        spec.update(extra)
        self._vms.append(spec)
        self._rg_of[name] = rg
        return self

    def collection(
        self,
        name: str,
        *,
        vm: str | None = None,
        source: str | None = None,
        rg: str | None = None,
        location: str | None = None,
        tags: dict[str, str] | None = None,
        instant_access: bool | None = None,
    ) -> Scenario:
        """A collection of `vm` (same region), or a copy target whose `source` is a collection
        name or id (then `location` is the target region)."""
        spec: dict[str, Any] = {"name": name, "source": vm or source}
        if spec["source"] is None:
            raise ValueError("give vm= or source=")
        group = rg or self._rg_of.get(vm or source or "", "rg")
        spec["resourceGroup"] = group
        if location:
            spec["location"] = location
        if tags is not None:
            spec["tags"] = tags
        if instant_access is not None:
            spec["instantAccess"] = instant_access
        self._collections.append(spec)
        self._rg_of[name] = group
        return self

    def restore_point(
        self,
        name: str,
        collection: str,
        *,
        age_seconds: float | None = None,
        changed_bytes: int | dict[str, int] | None = None,
        changed_fraction: float | None = None,
        consistency_mode: str | None = None,
        exclude_disks: list[str | int] | None = None,
        **extra: Any,
    ) -> Scenario:
        spec: dict[str, Any] = {"collection": collection, "name": name}
        if age_seconds is not None:
            spec["ageSeconds"] = age_seconds
        spec.update(
            restore_point_fields(changed_bytes, changed_fraction, consistency_mode, exclude_disks)
        )
        spec.update(extra)
        self._points.append(spec)
        return self

    def copy(
        self,
        name: str,
        collection: str,
        source_restore_point_id: str,
        replication: str = "succeeded",
    ) -> Scenario:
        """A copy that was started earlier (`replication`: succeeded | failed | inProgress)."""
        return self.restore_point(
            name, collection, sourceRestorePoint=source_restore_point_id, replication=replication
        )

    # -- ids --------------------------------------------------------------------------------------

    def rpc_id(self, name: str) -> str:
        return ids.rpc_id(self.subscription_id, self._rg_of.get(name, "rg"), name)

    def rp_id(self, collection: str, name: str) -> str:
        return ids.rp_id(self.rpc_id(collection), name)

    def vm_id(self, name: str) -> str:
        return ids.vm_id(self.subscription_id, self._rg_of.get(name, "rg"), name)

    def to_dict(self) -> dict[str, Any]:
        scenario: dict[str, Any] = {
            "subscriptionId": self.subscription_id,
            "resourceGroups": self._groups,
            "virtualMachines": self._vms,
            "restorePointCollections": self._collections,
            "restorePoints": self._points,
        }
        if self._encryption_sets:
            scenario["diskEncryptionSets"] = self._encryption_sets
        return scenario


def restore_point_fields(
    changed_bytes: int | dict[str, int] | None,
    changed_fraction: float | None,
    consistency_mode: str | None,
    exclude_disks: list[str | int] | None,
) -> dict[str, Any]:
    """The optional fields of a new restore point, as a seed scenario and
    `POST /_emulator/restore-points` both take them (only those given)."""
    fields = {
        "changedBytes": changed_bytes,
        "changedFraction": changed_fraction,
        "consistencyMode": consistency_mode,
        "excludeDisks": exclude_disks,
    }
    return {name: value for name, value in fields.items() if value is not None}


def single_vm(
    *,
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID,
    rg: str = "rg",
    location: str = "eastus",
    target_location: str | None = "westus",
    restore_points: int = 1,
) -> Scenario:
    """vm1 (OS disk 30 of 128 GB used, data disks lun 0 and 1), rpc1 with rp1..rpN, and - when
    `target_location` is set - an empty copy target rpc1-<target_location>."""
    s = Scenario(subscription_id).vm(
        "vm1",
        rg=rg,
        location=location,
        os_disk=DiskSpec(size_gb=128, used_gb=30),
        data_disks=[
            DiskSpec(lun=0, size_gb=256, used_gb=40),
            DiskSpec(lun=1, size_gb=64, used_gb=8),
        ],
    )
    s.collection("rpc1", vm="vm1")
    for i in range(1, restore_points + 1):
        s.restore_point(f"rp{i}", "rpc1", age_seconds=(restore_points - i + 1) * 3600)
    if target_location:
        s.collection(f"rpc1-{target_location}", source="rpc1", location=target_location)
    return s
