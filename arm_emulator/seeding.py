"""Seed scenarios: put subscriptions, resource groups, VMs with disks, collections and restore
points into the emulator in one call (`POST /_emulator/seed`, the config file, `scenarios.py`).

Seeded resources exist at once (no LRO, no events), as if they had been there before. Seeding is
idempotent-ish: a resource that already exists under the same name is reused, not duplicated.
The format is documented in docs/emulator.md; `scenarios.py` builds it from Python.
"""

from __future__ import annotations

from typing import Any

from . import copies, ids, local_rps
from .clock import parse_time
from .core import Core
from .seed_vms import (
    SeedError,
    changed_map,
    new_vm,
    opt_list,
    region,
    req_dict,
    req_str,
    resolve_disk_refs,
)
from .store import (
    DiskEncryptionSet,
    ResourceGroup,
    RestorePoint,
    RestorePointCollection,
    VirtualMachine,
)

__all__ = ["SeedError", "apply_seed", "changed_map", "resolve_disk_refs"]


def apply_seed(core: Core, scenario: dict[str, Any]) -> dict[str, Any]:
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
        "diskEncryptionSets",
    }
    unknown = set(scenario) - known
    if unknown:
        raise SeedError(f"unknown scenario field(s): {sorted(unknown)}")
    seeder = _Seeder(core, scenario)
    seeder.run()
    core.body_cache.clear()
    return seeder.created


class _Seeder:
    def __init__(self, core: Core, scenario: dict[str, Any]) -> None:
        self.core = core
        self.scenario = scenario
        self.sub = req_str(
            scenario.get("subscriptionId") or core.config.default_subscription_id, "subscriptionId"
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
            "diskEncryptionSets": [],
        }

    def run(self) -> None:
        self._subscription(self.sub, self.tenant)
        for i, spec in enumerate(opt_list(self.scenario.get("subscriptions"), "subscriptions")):
            spec = req_dict(spec, f"subscriptions[{i}]")
            self._subscription(
                req_str(spec.get("id"), f"subscriptions[{i}].id"), spec.get("tenantId")
            )
        for i, spec in enumerate(opt_list(self.scenario.get("resourceGroups"), "resourceGroups")):
            spec = req_dict(spec, f"resourceGroups[{i}]")
            self._group(
                spec.get("subscriptionId") or self.sub,
                req_str(spec.get("name"), f"resourceGroups[{i}].name"),
                req_str(spec.get("location"), f"resourceGroups[{i}].location"),
                spec.get("tags"),
            )
        for i, spec in enumerate(
            opt_list(self.scenario.get("diskEncryptionSets"), "diskEncryptionSets")
        ):
            self._encryption_set(req_dict(spec, f"diskEncryptionSets[{i}]"), i)
        for i, spec in enumerate(opt_list(self.scenario.get("virtualMachines"), "virtualMachines")):
            self._vm(req_dict(spec, f"virtualMachines[{i}]"), f"virtualMachines[{i}]")
        for i, spec in enumerate(
            opt_list(self.scenario.get("restorePointCollections"), "restorePointCollections")
        ):
            self._collection(
                req_dict(spec, f"restorePointCollections[{i}]"),
                None,
                f"restorePointCollections[{i}]",
            )
        for i, spec in enumerate(opt_list(self.scenario.get("restorePoints"), "restorePoints")):
            spec = req_dict(spec, f"restorePoints[{i}]")
            ref = req_str(spec.get("collection"), f"restorePoints[{i}].collection")
            rpc = self._find_rpc(ref, spec.get("subscriptionId") or self.sub)
            if rpc is None:
                raise SeedError(f"restorePoints[{i}].collection: no collection {ref!r}")
            self._restore_point(rpc, spec, f"restorePoints[{i}]")

    # -- pieces ---------------------------------------------------------------------------------

    def _subscription(self, sub_id: str, tenant: Any) -> None:
        if not ids.GUID_RE.match(sub_id):
            raise SeedError(f"subscription id {sub_id!r} must be a GUID (ARM rejects other ids)")
        self.core.ensure_subscription(sub_id, tenant if isinstance(tenant, str) else None)
        if sub_id not in self.created["subscriptions"]:
            self.created["subscriptions"].append(sub_id)

    def _group(self, sub: str, name: str, location: str, tags: Any = None) -> ResourceGroup:
        self._subscription(sub, None)
        key = ids.key(ids.rg_id(sub, name))
        group = self.core.store.groups.get(key)
        if group is None:
            group = ResourceGroup(
                ids.rg_id(sub, name),
                sub,
                name,
                region(location, f"resource group {name}"),
                tags if isinstance(tags, dict) else None,
                self.core.store.next_seq(),
            )
            self.core.store.groups[key] = group
        if group.id not in self.created["resourceGroups"]:
            self.created["resourceGroups"].append(group.id)
        return group

    def _encryption_set(self, spec: dict[str, Any], i: int) -> None:
        where = f"diskEncryptionSets[{i}]"
        name = req_str(spec.get("name"), f"{where}.name")
        sub = spec.get("subscriptionId") or self.sub
        rg = req_str(spec.get("resourceGroup") or "rg", f"{where}.resourceGroup")
        location = region(req_str(spec.get("location") or "eastus", f"{where}.location"), where)
        self._group(sub, rg, location)
        des_id = ids.des_id(sub, rg, name)
        self.core.store.encryption_sets[ids.key(des_id)] = DiskEncryptionSet(
            des_id, sub, rg, name, location
        )
        self.created["diskEncryptionSets"].append(des_id)

    def _vm(self, spec: dict[str, Any], where: str) -> VirtualMachine:
        core = self.core
        name = req_str(spec.get("name"), f"{where}.name")
        sub = spec.get("subscriptionId") or self.sub
        rg = req_str(spec.get("resourceGroup") or "rg", f"{where}.resourceGroup")
        location = region(req_str(spec.get("location") or "eastus", f"{where}.location"), where)
        self._group(sub, rg, location)
        key = ids.key(ids.vm_id(sub, rg, name))
        vm = core.store.vms.get(key)
        if vm is None:
            vm = new_vm(core, spec, where, sub, rg, name, location)
            core.store.vms[key] = vm
        self.created["virtualMachines"].append(vm.id)
        self.created["disks"].extend(att.disk.id for att in vm.attached())
        for i, rpc_spec in enumerate(
            opt_list(spec.get("restorePointCollections"), f"{where}.restorePointCollections")
        ):
            rpc_spec = req_dict(rpc_spec, f"{where}.restorePointCollections[{i}]")
            self._collection(rpc_spec, vm, f"{where}.restorePointCollections[{i}]")
        return vm

    def _find_rpc(self, ref: str, sub: str) -> RestorePointCollection | None:
        return _find(self.core.store.rpcs, ref, sub)

    def _find_vm(self, ref: str, sub: str) -> VirtualMachine | None:
        return _find(self.core.store.vms, ref, sub)

    def _collection(
        self, spec: dict[str, Any], vm: VirtualMachine | None, where: str
    ) -> RestorePointCollection:
        core = self.core
        name = req_str(spec.get("name"), f"{where}.name")
        sub = spec.get("subscriptionId") or (vm.subscription if vm else self.sub)
        source_vm = vm
        source_rpc: RestorePointCollection | None = None
        if vm is None:
            ref = req_str(spec.get("source"), f"{where}.source")
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
            location = region(req_str(spec.get("location"), f"{where}.location"), where)
            if location == source_rpc.location:
                raise SeedError(f"{where}: a copy target must be in another region than its source")
            rg = spec.get("resourceGroup") or source_rpc.resource_group
        self._group(sub, rg, location)
        key = ids.key(ids.rpc_id(sub, rg, name))
        rpc = core.store.rpcs.get(key)
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
                rpc_guid=core.new_guid(),
                seq=core.store.next_seq(),
                instant_access=spec.get("instantAccess"),
            )
            core.store.rpcs[key] = rpc
        self.created["restorePointCollections"].append(rpc.id)
        for i, rp_spec in enumerate(opt_list(spec.get("restorePoints"), f"{where}.restorePoints")):
            if isinstance(rp_spec, str):
                rp_spec = {"name": rp_spec}
            self._restore_point(
                rpc, req_dict(rp_spec, f"{where}.restorePoints[{i}]"), f"{where}.restorePoints[{i}]"
            )
        return rpc

    def _restore_point(
        self, rpc: RestorePointCollection, spec: dict[str, Any], where: str
    ) -> RestorePoint:
        core = self.core
        name = req_str(spec.get("name"), f"{where}.name")
        existing = rpc.restore_points.get(name.lower())
        if existing is not None:
            self._record(existing)
            return existing
        now = core.now()
        when = now
        if "timeCreated" in spec:
            when = parse_time(req_str(spec["timeCreated"], f"{where}.timeCreated"))
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
        core = self.core
        if rpc.source_kind != "vm":
            raise SeedError(f"{where}: restore points in a copy target need 'sourceRestorePoint'")
        vm = core.store.vms[rpc.source_key]
        excluded = resolve_disk_refs(vm, spec.get("excludeDisks") or [], f"{where}.excludeDisks")
        excluded_keys = {d.lower() for d in excluded}
        included = [a for a in vm.attached() if a.disk.id.lower() not in excluded_keys]
        mode = spec.get("consistencyMode") or (
            "FileSystemConsistent" if vm.os_type == "Linux" else "ApplicationConsistent"
        )
        changed = changed_map(vm, spec.get("changedBytes"), f"{where}.changedBytes")
        rp = local_rps.snapshot(
            core,
            vm,
            rpc,
            name,
            when=when,
            mode=mode,
            excluded=excluded,
            included=included,
            minutes=spec.get("instantAccessDurationMinutes"),
            inputs=(None, tuple(sorted(e.lower() for e in excluded)), _mode_input(mode), None),
            changed=changed,
            changed_fraction=spec.get("changedFraction"),
            hydration_seconds=spec.get("hydrationSeconds"),
            provisioning_state="Succeeded",
        )
        core.store.add_rp(rp)
        return rp

    def _seed_copy(
        self, rpc: RestorePointCollection, name: str, spec: dict[str, Any], where: str
    ) -> RestorePoint:
        core = self.core
        ref = req_str(spec.get("sourceRestorePoint"), f"{where}.sourceRestorePoint")
        source = core.store.rps.get(ids.key(ref))
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
        rp = copies.build_copy(core, rpc, name, source, inputs)
        # Seeded copies were initiated in the past: no LRO left, no event.
        rp.operation = core.ops.record_done(
            "rp_create", rp.id, subscription=rpc.subscription, region=rpc.location
        )
        rp.replication_start = core.now() + core.config.copy_lro_seconds
        rp.provisioning_state = "Succeeded"
        core.store.add_rp(rp)
        if state == "inProgress":
            rp.replication_start = core.now()
        else:
            rp.forced_replication = state
        return rp

    def _record(self, rp: RestorePoint) -> None:
        self.created["restorePoints"].append(rp.id)
        self.created["diskRestorePoints"][rp.id] = [d.id for d in rp.disks]


def _find(table: dict[str, Any], ref: str, sub: str) -> Any:
    """A resource by id, or by name within the subscription (the first match)."""
    if ref.startswith("/"):
        return table.get(ids.key(ref))
    low, sub_low = ref.lower(), sub.lower()
    for item in table.values():
        if item.name.lower() == low and item.subscription.lower() == sub_low:
            return item
    return None


def _mode_input(mode: str) -> str | None:
    return "crashconsistent" if mode == "CrashConsistent" else None
