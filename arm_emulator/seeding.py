"""Seed scenarios: put subscriptions, resource groups, VMs with disks, collections and restore
points into the emulator in one call (`POST /_emulator/seed`, the config file, `scenarios.py`).

Seeded resources exist at once (no LRO, no events), as if they had been there before. Seeding is
idempotent-ish: a resource that already exists under the same name is reused, not duplicated.
The format is documented in docs/emulator.md; `scenarios.py` builds it from Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ids, replication
from .clock import parse_time
from .store import Disk, ResourceGroup, RestorePoint, RestorePointCollection, VirtualMachine, VmDisk

if TYPE_CHECKING:
    from .engine import Emulator


class SeedError(ValueError):
    """The scenario is malformed; the message says where."""


def apply_seed(emu: Emulator, scenario: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(scenario, dict):
        raise SeedError("the scenario must be a JSON object")
    known = {
        "subscriptionId",
        "tenantId",
        "subscriptions",
        "resourceGroups",
        "virtualMachines",
        "restorePointCollections",
        "restorePoints",
    }
    unknown = set(scenario) - known
    if unknown:
        raise SeedError(f"unknown scenario field(s): {sorted(unknown)}")
    seeder = _Seeder(emu, scenario)
    seeder.run()
    emu.body_cache.clear()
    return seeder.created


class _Seeder:
    def __init__(self, emu: Emulator, scenario: dict[str, Any]) -> None:
        self.emu = emu
        self.scenario = scenario
        self.sub = _str(
            scenario.get("subscriptionId") or emu.config.default_subscription_id, "subscriptionId"
        )
        self.tenant = scenario.get("tenantId")
        self.created: dict[str, Any] = {
            "subscriptions": [],
            "resourceGroups": [],
            "virtualMachines": [],
            "disks": [],
            "restorePointCollections": [],
            "restorePoints": [],
            "diskRestorePoints": {},
        }

    def run(self) -> None:
        self._subscription(self.sub, self.tenant)
        for i, spec in enumerate(_list(self.scenario.get("subscriptions"), "subscriptions")):
            spec = _dict(spec, f"subscriptions[{i}]")
            self._subscription(_str(spec.get("id"), f"subscriptions[{i}].id"), spec.get("tenantId"))
        for i, spec in enumerate(_list(self.scenario.get("resourceGroups"), "resourceGroups")):
            spec = _dict(spec, f"resourceGroups[{i}]")
            self._group(
                spec.get("subscriptionId") or self.sub,
                _str(spec.get("name"), f"resourceGroups[{i}].name"),
                _str(spec.get("location"), f"resourceGroups[{i}].location"),
                spec.get("tags"),
            )
        for i, spec in enumerate(_list(self.scenario.get("virtualMachines"), "virtualMachines")):
            self._vm(_dict(spec, f"virtualMachines[{i}]"), f"virtualMachines[{i}]")
        for i, spec in enumerate(
            _list(self.scenario.get("restorePointCollections"), "restorePointCollections")
        ):
            self._collection(
                _dict(spec, f"restorePointCollections[{i}]"), None, f"restorePointCollections[{i}]"
            )
        for i, spec in enumerate(_list(self.scenario.get("restorePoints"), "restorePoints")):
            spec = _dict(spec, f"restorePoints[{i}]")
            ref = _str(spec.get("collection"), f"restorePoints[{i}].collection")
            rpc = self._find_rpc(ref, spec.get("subscriptionId") or self.sub)
            if rpc is None:
                raise SeedError(f"restorePoints[{i}].collection: no collection {ref!r}")
            self._restore_point(rpc, spec, f"restorePoints[{i}]")

    # -- pieces ---------------------------------------------------------------------------------

    def _subscription(self, sub_id: str, tenant: Any) -> None:
        if not ids.GUID_RE.match(sub_id):
            raise SeedError(f"subscription id {sub_id!r} must be a GUID (ARM rejects other ids)")
        self.emu._ensure_subscription(sub_id, tenant if isinstance(tenant, str) else None)
        if sub_id not in self.created["subscriptions"]:
            self.created["subscriptions"].append(sub_id)

    def _group(self, sub: str, name: str, location: str, tags: Any = None) -> ResourceGroup:
        self._subscription(sub, None)
        key = ids.key(ids.rg_id(sub, name))
        group = self.emu.store.groups.get(key)
        if group is None:
            region = _region(location, f"resource group {name}")
            group = ResourceGroup(
                ids.rg_id(sub, name),
                sub,
                name,
                region,
                tags if isinstance(tags, dict) else None,
                self.emu.store.next_seq(),
            )
            self.emu.store.groups[key] = group
        if group.id not in self.created["resourceGroups"]:
            self.created["resourceGroups"].append(group.id)
        return group

    def _vm(self, spec: dict[str, Any], where: str) -> VirtualMachine:
        emu = self.emu
        name = _str(spec.get("name"), f"{where}.name")
        sub = spec.get("subscriptionId") or self.sub
        rg = _str(spec.get("resourceGroup") or "rg", f"{where}.resourceGroup")
        location = _region(_str(spec.get("location") or "eastus", f"{where}.location"), where)
        self._group(sub, rg, location)
        key = ids.key(ids.vm_id(sub, rg, name))
        vm = emu.store.vms.get(key)
        if vm is None:
            vm = self._new_vm(spec, where, sub, rg, name, location)
            emu.store.vms[key] = vm
        self.created["virtualMachines"].append(vm.id)
        self.created["disks"].extend(att.disk.id for att in vm.attached())
        for i, rpc_spec in enumerate(
            _list(spec.get("restorePointCollections"), f"{where}.restorePointCollections")
        ):
            rpc_spec = _dict(rpc_spec, f"{where}.restorePointCollections[{i}]")
            self._collection(rpc_spec, vm, f"{where}.restorePointCollections[{i}]")
        return vm

    def _new_vm(
        self, spec: dict[str, Any], where: str, sub: str, rg: str, name: str, location: str
    ) -> VirtualMachine:
        emu = self.emu
        os_type = _str(spec.get("osType") or "Linux", f"{where}.osType")
        if os_type not in ("Linux", "Windows"):
            raise SeedError(f"{where}.osType must be 'Linux' or 'Windows'")
        generation = spec.get("hyperVGeneration") or "V2"
        now = emu.now()
        os_spec = _dict(spec.get("osDisk") or {}, f"{where}.osDisk")
        os_name = os_spec.get("name") or f"{name}_OsDisk_1_{emu.new_guid().replace('-', '')}"
        os_disk = self._disk(
            os_spec, f"{where}.osDisk", sub, rg, os_name, location, os_type, generation, 30
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
        for i, dspec in enumerate(_list(spec.get("dataDisks"), f"{where}.dataDisks")):
            dspec = _dict(dspec, f"{where}.dataDisks[{i}]")
            lun = dspec.get("lun", i)
            if not isinstance(lun, int) or isinstance(lun, bool) or lun < 0 or lun in luns:
                raise SeedError(f"{where}.dataDisks[{i}].lun must be a unique integer >= 0")
            luns.add(lun)
            dname = dspec.get("name") or f"{name}_DataDisk_{lun}"
            disk = self._disk(
                dspec, f"{where}.dataDisks[{i}]", sub, rg, dname, location, None, generation, 64
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
            vm_id=emu.new_guid(),
            vm_size=spec.get("vmSize") or "Standard_D2s_v5",
            os_type=os_type,
            os_disk=os_att,
            data_disks=data,
            hyper_v_generation=generation,
            time_created=now,
            seq=emu.store.next_seq(),
            os_profile=_os_profile(name, os_type),
            disk_controller_type=spec.get("diskControllerType"),
            user_data=spec.get("userData"),
            security_type=spec.get("securityType"),
        )
        for att in vm.attached():
            att.disk.managed_by = vm.id
        vm.metadata_base = _metadata_base(vm)
        return vm

    def _disk(
        self,
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
        emu = self.emu
        key = ids.key(ids.disk_id(sub, rg, name))
        existing = emu.store.disks.get(key)
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
            unique_id=emu.new_guid(),
            time_created=emu.now(),
            seq=emu.store.next_seq(),
            max_shares=int(max_shares),
            create_option="FromImage" if os_type else "Empty",
            logical_sector_size=4096 if sku.lower() in ("ultrassd_lrs", "premiumv2_lrs") else 512,
        )
        emu.store.disks[key] = disk
        return disk

    def _find_rpc(self, ref: str, sub: str) -> RestorePointCollection | None:
        if ref.startswith("/"):
            return self.emu.store.rpcs.get(ids.key(ref))
        matches = [
            r
            for r in self.emu.store.rpcs.values()
            if r.name.lower() == ref.lower() and r.subscription.lower() == sub.lower()
        ]
        return matches[0] if matches else None

    def _find_vm(self, ref: str, sub: str) -> VirtualMachine | None:
        if ref.startswith("/"):
            return self.emu.store.vms.get(ids.key(ref))
        matches = [
            v
            for v in self.emu.store.vms.values()
            if v.name.lower() == ref.lower() and v.subscription.lower() == sub.lower()
        ]
        return matches[0] if matches else None

    def _collection(
        self, spec: dict[str, Any], vm: VirtualMachine | None, where: str
    ) -> RestorePointCollection:
        emu = self.emu
        name = _str(spec.get("name"), f"{where}.name")
        sub = spec.get("subscriptionId") or (vm.subscription if vm else self.sub)
        source_vm = vm
        source_rpc: RestorePointCollection | None = None
        if vm is None:
            ref = _str(spec.get("source"), f"{where}.source")
            source_vm = self._find_vm(ref, sub)
            if source_vm is None:
                source_rpc = self._find_rpc(ref, sub)
                if source_rpc is None:
                    raise SeedError(f"{where}.source: no VM or collection {ref!r}")
        if source_vm is not None:
            location = source_vm.location
            rg = spec.get("resourceGroup") or source_vm.resource_group
        else:
            assert source_rpc is not None
            location = _region(_str(spec.get("location"), f"{where}.location"), where)
            if location == source_rpc.location:
                raise SeedError(f"{where}: a copy target must be in another region than its source")
            rg = spec.get("resourceGroup") or source_rpc.resource_group
        self._group(sub, rg, location)
        key = ids.key(ids.rpc_id(sub, rg, name))
        rpc = emu.store.rpcs.get(key)
        if rpc is None:
            src_id = source_vm.id if source_vm else source_rpc.id  # type: ignore[union-attr]
            rpc = RestorePointCollection(
                id=ids.rpc_id(sub, rg, name),
                subscription=sub,
                resource_group=rg,
                name=name,
                location=location,
                tags=spec.get("tags"),
                source_id=src_id,
                source_kind="vm" if source_vm else "rpc",
                source_location=source_vm.location if source_vm else source_rpc.location,  # type: ignore[union-attr]
                rpc_guid=emu.new_guid(),
                seq=emu.store.next_seq(),
                instant_access=spec.get("instantAccess"),
            )
            emu.store.rpcs[key] = rpc
        self.created["restorePointCollections"].append(rpc.id)
        for i, rp_spec in enumerate(_list(spec.get("restorePoints"), f"{where}.restorePoints")):
            if isinstance(rp_spec, str):
                rp_spec = {"name": rp_spec}
            self._restore_point(
                rpc, _dict(rp_spec, f"{where}.restorePoints[{i}]"), f"{where}.restorePoints[{i}]"
            )
        return rpc

    def _restore_point(
        self, rpc: RestorePointCollection, spec: dict[str, Any], where: str
    ) -> RestorePoint:
        emu = self.emu
        name = _str(spec.get("name"), f"{where}.name")
        existing = rpc.restore_points.get(name.lower())
        if existing is not None:
            self._record(existing)
            return existing
        now = emu.now()
        when = now
        if "timeCreated" in spec:
            when = parse_time(_str(spec["timeCreated"], f"{where}.timeCreated"))
        elif "ageSeconds" in spec:
            when = now - float(spec["ageSeconds"])
        if spec.get("sourceRestorePoint"):
            rp = self._seed_copy(rpc, name, spec, where)
        else:
            rp = self._seed_local(rpc, name, spec, where, when)
        self._record(rp)
        return rp

    def _seed_local(
        self, rpc: RestorePointCollection, name: str, spec: dict[str, Any], where: str, when: float
    ) -> RestorePoint:
        emu = self.emu
        if rpc.source_kind != "vm":
            raise SeedError(f"{where}: restore points in a copy target need 'sourceRestorePoint'")
        vm = emu.store.vms[rpc.source_key]
        excluded = resolve_disk_refs(vm, spec.get("excludeDisks") or [], f"{where}.excludeDisks")
        excluded_keys = {d.lower() for d in excluded}
        included = [a for a in vm.attached() if a.disk.id.lower() not in excluded_keys]
        mode = spec.get("consistencyMode") or (
            "FileSystemConsistent" if vm.os_type == "Linux" else "ApplicationConsistent"
        )
        changed = changed_map(vm, spec.get("changedBytes"), f"{where}.changedBytes")
        rp = emu._snapshot(
            vm,
            rpc,
            name,
            when,
            mode,
            excluded,
            included,
            spec.get("instantAccessDurationMinutes"),
            (None, tuple(sorted(e.lower() for e in excluded)), _mode_input(mode), None),
            changed,
            spec.get("changedFraction"),
            spec.get("hydrationSeconds"),
            provisioning_state="Succeeded",
        )
        emu.store.add_rp(rp)
        return rp

    def _seed_copy(
        self, rpc: RestorePointCollection, name: str, spec: dict[str, Any], where: str
    ) -> RestorePoint:
        emu = self.emu
        ref = _str(spec.get("sourceRestorePoint"), f"{where}.sourceRestorePoint")
        source = emu.store.rps.get(ids.key(ref))
        if source is None:
            raise SeedError(f"{where}.sourceRestorePoint: no restore point {ref!r}")
        if rpc.source_kind != "rpc" or rpc.source_key != source.collection.id.lower():
            raise SeedError(
                f"{where}: the collection's source is not the restore point's collection"
            )
        state = spec.get("replication", "succeeded")
        if state not in ("succeeded", "failed", "inProgress"):
            raise SeedError(f"{where}.replication must be succeeded, failed or inProgress")
        inputs = (source.id.lower(), (), None, None)
        rp, op = emu.start_copy(rpc, name, source, inputs, "2025-04-01", None, inject_faults=False)
        # Seeded copies were initiated in the past: no LRO left, no event.
        op.status, op.end_time = "Succeeded", op.start
        rp.provisioning_state = "Succeeded"
        if state == "inProgress":
            rp.replication_start = emu.now()
        else:
            rp.forced_replication = state
        return rp

    def _record(self, rp: RestorePoint) -> None:
        self.created["restorePoints"].append(rp.id)
        self.created["diskRestorePoints"][rp.id] = [d.id for d in rp.disks]


def _mode_input(mode: str) -> str | None:
    return "crashconsistent" if mode == "CrashConsistent" else None


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


def _metadata_base(vm: VirtualMachine) -> dict[str, Any]:
    """sourceMetadata without the storage profile (inserted after hardwareProfile on render)."""
    meta: dict[str, Any] = {
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": vm.vm_size},
        "osProfile": vm.os_profile,
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
    }
    if vm.security_type:
        meta["securityProfile"] = {"securityType": vm.security_type}
    meta["location"] = vm.location
    if vm.user_data:
        meta["userData"] = vm.user_data
    meta["hyperVGeneration"] = vm.hyper_v_generation
    if vm.disk_controller_type:
        meta["_diskControllerType"] = vm.disk_controller_type
    return meta


def _region(value: str, where: str) -> str:
    region = ids.normalize_region(value)
    if region is None:
        raise SeedError(f"{where}: unknown region {value!r}")
    return region


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SeedError(f"{where} must be a non-empty string")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SeedError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(f"{where} must be a list")
    return value
