"""Seeded virtual machines with their managed disks, disk references in seed and control-plane
requests (by name, LUN, "os" or id), and the validators the seed format shares."""

from __future__ import annotations

from typing import Any

from . import ids, replication
from .core import Core
from .store import Disk, VirtualMachine, VmDisk


class SeedError(ValueError):
    """The scenario is malformed; the message says where."""


def new_vm(
    core: Core, spec: dict[str, Any], where: str, sub: str, rg: str, name: str, location: str
) -> VirtualMachine:
    os_type = req_str(spec.get("osType") or "Linux", f"{where}.osType")
    if os_type not in ("Linux", "Windows"):
        raise SeedError(f"{where}.osType must be 'Linux' or 'Windows'")
    generation = spec.get("hyperVGeneration") or "V2"
    now = core.now()
    os_spec = req_dict(spec.get("osDisk") or {}, f"{where}.osDisk")
    os_name = os_spec.get("name") or f"{name}_OsDisk_1_{core.new_guid().replace('-', '')}"
    os_disk = _disk(
        core, os_spec, f"{where}.osDisk", sub, rg, os_name, location, os_type, generation, 30
    )
    os_att = VmDisk(
        os_disk,
        None,
        os_spec.get("caching") or "ReadWrite",
        ephemeral=bool(os_spec.get("ephemeral", False)),
        write_accelerator=bool(os_spec.get("writeAccelerator", False)),
    )
    data: list[VmDisk] = []
    luns: set[int] = set()
    for i, dspec in enumerate(opt_list(spec.get("dataDisks"), f"{where}.dataDisks")):
        dspec = req_dict(dspec, f"{where}.dataDisks[{i}]")
        lun = dspec.get("lun", i)
        if not isinstance(lun, int) or isinstance(lun, bool) or lun < 0 or lun in luns:
            raise SeedError(f"{where}.dataDisks[{i}].lun must be a unique integer >= 0")
        luns.add(lun)
        dname = dspec.get("name") or f"{name}_DataDisk_{lun}"
        disk = _disk(
            core, dspec, f"{where}.dataDisks[{i}]", sub, rg, dname, location, None, generation, 64
        )
        data.append(
            VmDisk(
                disk,
                lun,
                dspec.get("caching") or "None",
                write_accelerator=bool(dspec.get("writeAccelerator", False)),
            )
        )
    vm = VirtualMachine(
        id=ids.vm_id(sub, rg, name),
        subscription=sub,
        resource_group=rg,
        name=name,
        location=location,
        vm_id=core.new_guid(),
        vm_size=spec.get("vmSize") or "Standard_D2s_v5",
        os_type=os_type,
        os_disk=os_att,
        data_disks=data,
        hyper_v_generation=generation,
        time_created=now,
        seq=core.store.next_seq(),
        os_profile=_os_profile(name, os_type),
        disk_controller_type=spec.get("diskControllerType"),
        user_data=spec.get("userData"),
        security_type=spec.get("securityType"),
        license_type=spec.get("licenseType"),
    )
    for att in vm.attached():
        att.disk.managed_by = vm.id
    vm.metadata_base = _metadata_base(vm, boot_diagnostics=bool(spec.get("bootDiagnostics")))
    return vm


def _disk(
    core: Core,
    spec: dict[str, Any],
    where: str,
    sub: str,
    rg: str,
    name: str,
    location: str,
    os_type: str | None,
    generation: str,
    default_size: int,
) -> Disk:
    key = ids.key(ids.disk_id(sub, rg, name))
    existing = core.store.disks.get(key)
    if existing is not None:
        return existing
    size = spec.get("sizeGB", default_size)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise SeedError(f"{where}.sizeGB must be a positive integer")
    if "usedBytes" in spec:
        used = spec["usedBytes"]
    else:
        used_gb = spec.get("usedGB", size / 4)
        if not isinstance(used_gb, int | float) or isinstance(used_gb, bool):
            raise SeedError(f"{where}.usedGB must be a number")
        used = round(used_gb * replication.GIB)
    if not isinstance(used, int) or used < 0 or used > size * replication.GIB:
        raise SeedError(f"{where}: used bytes must be between 0 and the disk size")
    sku = spec.get("sku") or "Premium_LRS"
    max_shares = spec.get("maxShares", 1)
    disk = Disk(
        id=ids.disk_id(sub, rg, name),
        subscription=sub,
        resource_group=rg,
        name=name,
        location=location,
        size_gb=size,
        used_bytes=used,
        sku=sku,
        os_type=os_type,
        hyper_v_generation=generation,
        unique_id=core.new_guid(),
        time_created=core.now(),
        seq=core.store.next_seq(),
        max_shares=int(max_shares),
        create_option="FromImage" if os_type else "Empty",
        logical_sector_size=4096 if sku.lower() in ("ultrassd_lrs", "premiumv2_lrs") else 512,
    )
    core.store.disks[key] = disk
    return disk


def resolve_disk_refs(vm: VirtualMachine, refs: Any, where: str) -> list[str]:
    """Disk references by id, name, LUN (int) or "os" -> the attached disks' ids."""
    if not isinstance(refs, list):
        raise SeedError(f"{where} must be a list")
    out: list[str] = []
    for ref in refs:
        match = None
        for att in vm.attached():
            if isinstance(ref, int) and not isinstance(ref, bool):
                hit = att.lun == ref
            elif isinstance(ref, str) and ref.lower() == "os":
                hit = att.lun is None
            elif isinstance(ref, str):
                hit = ref.lower() in (att.disk.name.lower(), att.disk.id.lower())
            else:
                hit = False
            if hit:
                match = att
                break
        if match is None:
            raise SeedError(f"{where}: {ref!r} is not a disk of {vm.name}")
        out.append(match.disk.id)
    return out


def changed_map(vm: VirtualMachine, value: Any, where: str) -> dict[str, int] | None:
    """`changedBytes`: one number for every disk, or a map of disk name / LUN / "os" -> bytes."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return {att.disk.id.lower(): value for att in vm.attached()}
    if isinstance(value, dict):
        out: dict[str, int] = {}
        for ref, nbytes in value.items():
            parsed: Any = int(ref) if isinstance(ref, str) and ref.isdigit() else ref
            disk_ids = resolve_disk_refs(vm, [parsed], where)
            if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes < 0:
                raise SeedError(f"{where}[{ref}] must be a non-negative integer")
            out[disk_ids[0].lower()] = nbytes
        return out
    raise SeedError(f"{where} must be an integer or a map of disk -> bytes")


def _os_profile(name: str, os_type: str) -> dict[str, Any]:
    computer = name[:15] if os_type == "Windows" else name
    profile: dict[str, Any] = {"computerName": computer, "adminUsername": "azureuser"}
    if os_type == "Windows":
        profile["windowsConfiguration"] = {
            "provisionVMAgent": True,
            "enableAutomaticUpdates": True,
            "patchSettings": {"patchMode": "AutomaticByOS", "assessmentMode": "ImageDefault"},
        }
    else:
        profile["linuxConfiguration"] = {
            "disablePasswordAuthentication": True,
            "provisionVMAgent": True,
            "patchSettings": {"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"},
        }
    profile["secrets"] = []
    profile["allowExtensionOperations"] = True
    profile["requireGuestProvisionSignal"] = True
    return profile


def _metadata_base(vm: VirtualMachine, *, boot_diagnostics: bool) -> dict[str, Any]:
    """sourceMetadata without the storage profile (inserted after hardwareProfile on render):
    the fields Azure sends, in its order [WIRE] - vmId, location, hardwareProfile,
    (storageProfile), osProfile, hyperVGeneration - and the optional ones only when the VM has
    them (boot diagnostics, a license type, a security type, user data)."""
    meta: dict[str, Any] = {
        "vmId": vm.vm_id,
        "location": vm.location,
        "hardwareProfile": {"vmSize": vm.vm_size},
        "osProfile": vm.os_profile,
    }
    if boot_diagnostics:
        meta["diagnosticsProfile"] = {"bootDiagnostics": {"enabled": True}}
    if vm.license_type:
        meta["licenseType"] = vm.license_type
    if vm.security_type:
        meta["securityProfile"] = {"securityType": vm.security_type}
    if vm.user_data:
        meta["userData"] = vm.user_data
    meta["hyperVGeneration"] = vm.hyper_v_generation
    if vm.disk_controller_type:
        meta["_diskControllerType"] = vm.disk_controller_type
    return meta


def region(value: str, where: str) -> str:
    found = ids.normalize_region(value)
    if found is None:
        raise SeedError(f"{where}: unknown region {value!r}")
    return found


def req_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SeedError(f"{where} must be a non-empty string")
    return value


def req_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SeedError(f"{where} must be an object")
    return value


def opt_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(f"{where} must be a list")
    return value
