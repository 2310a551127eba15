"""Local restore points: a snapshot of a VM's disks in the VM's own region, made by an ARM PUT
(no `sourceRestorePoint`), by the control plane (as a backup schedule would) or by a seed."""

from __future__ import annotations

from typing import Any

from . import copies, errors, ids, replication, rules, versions
from .core import Core
from .events import RequestContext
from .store import (
    DiskRestorePoint,
    Operation,
    RestorePoint,
    RestorePointCollection,
    VirtualMachine,
    VmDisk,
)

MODES = {"crashconsistent": "CrashConsistent"}
ALL_MODES = {"crashconsistent", "applicationconsistent", "filesystemconsistent"}


def create_local_rp(
    core: Core,
    rpc: RestorePointCollection,
    name: str,
    *,
    excluded: list[str],
    mode_raw: str | None,
    minutes: int | None,
    inputs: tuple[Any, ...],
    api_version: str,
    context: RequestContext | None,
    changed: dict[str, int] | None = None,
    changed_fraction: float | None = None,
    hydration_seconds: float | None = None,
) -> tuple[RestorePoint, Operation]:
    """A restore point of the collection's source VM, created by a long-running operation."""
    rules.check_local_target(rpc)
    vm = core.store.vms.get(rpc.source_key)
    if vm is None:
        raise errors.referenced_not_found(rpc.source_id, "properties.source.id")
    mode = consistency_mode(vm, mode_raw, api_version)
    if minutes is not None and not 60 <= minutes <= 300:
        raise errors.invalid_parameter(
            "instantAccessDurationMinutes must be between 60 and 300.",
            target="properties.instantAccessDurationMinutes",
        )
    attached = vm.attached()
    by_key = {att.disk.id.lower(): att for att in attached}
    for disk_ref in excluded:
        if disk_ref.lower() not in by_key:
            raise errors.invalid_parameter(
                f"Disk '{disk_ref}' in excludeDisks is not attached to virtual machine "
                f"'{vm.name}'.",
                target="properties.excludeDisks",
            )
    excluded_keys = {d.lower() for d in excluded}
    included = [att for att in attached if att.disk.id.lower() not in excluded_keys]
    rules.check_local_create(core.store, core.config, rpc, vm, included, mode)
    cross_region = rpc.location != vm.location
    if cross_region:
        rules.check_cross_region_creation(core.config, core.now(), rpc, core.clock)
    rp = snapshot(
        core,
        vm,
        rpc,
        name,
        when=core.now(),
        mode=mode,
        excluded=excluded,
        included=included,
        minutes=minutes,
        inputs=inputs,
        changed=changed,
        changed_fraction=changed_fraction,
        hydration_seconds=hydration_seconds,
    )
    if cross_region:
        _replicate_from(core, rp, vm)
        copies.inject_replication_faults(core, rp, context)
    duration = (
        core.config.crash_consistent_create_seconds
        if mode == "CrashConsistent"
        else core.config.local_create_seconds
    )
    op = core.ops.start_rp_create(rp, duration, api_version, context)
    if cross_region:
        rp.replication_start = op.end
        if core.config.cross_region_creation == "copy-rules":
            rpc.copy_put_times.append(core.now())
    return rp, op


def _replicate_from(core: Core, rp: RestorePoint, vm: VirtualMachine) -> None:
    """Cross-region creation (arm-contract §14): the snapshot is taken in the VM's region and
    copied to the collection's; like a copy, the first one is full and later ones carry the
    bytes changed since the newest one that replicated (inferred)."""
    now, cfg = core.now(), core.config
    done = [
        p
        for p in rp.collection.restore_points.values()
        if p.cross_region and replication.succeeded(p, now, cfg)
    ]
    base = max(done, key=rules.order_key) if done else None
    for drp in rp.disks:
        wanted = drp.disk_id.lower()
        prev = next((d for d in base.disks if d.disk_id.lower() == wanted), None) if base else None
        nbytes = drp.used_bytes
        if prev is not None:
            nbytes = min(nbytes, max(0, drp.cum_changed - prev.cum_changed))
        drp.bytes_to_copy = nbytes
        drp.duration = replication.transfer_seconds(nbytes, cfg)
        drp.source_location = vm.location
    rp.cross_region = True


def snapshot(
    core: Core,
    vm: VirtualMachine,
    rpc: RestorePointCollection,
    name: str,
    *,
    when: float,
    mode: str,
    excluded: list[str],
    included: list[VmDisk],
    minutes: int | None,
    inputs: tuple[Any, ...],
    changed: dict[str, int] | None,
    changed_fraction: float | None,
    hydration_seconds: float | None,
    provisioning_state: str = "Creating",
) -> RestorePoint:
    """Record the VM's disks as of now: sizes, used bytes and the changed-bytes counters."""
    first = vm.rp_count == 0
    fraction = (
        core.config.default_changed_fraction if changed_fraction is None else changed_fraction
    )
    for att in vm.attached():
        key = att.disk.id.lower()
        if first:
            delta = att.disk.used_bytes
        elif changed is not None and key in changed:
            delta = changed[key]
        else:
            delta = round(att.disk.used_bytes * fraction)
        vm.changed_cum[key] = vm.changed_cum.get(key, 0) + max(0, int(delta))
    vm.rp_count += 1
    rp_id = ids.rp_id(rpc.id, name)
    disks = []
    for att in included:
        drp_name = f"{att.disk.name}_{core.new_guid()}"
        disks.append(
            DiskRestorePoint(
                id=ids.drp_id(rp_id, drp_name),
                name=drp_name,
                disk_id=att.disk.id,
                disk_name=att.disk.name,
                lun=att.lun,
                os_type=att.disk.os_type if att.lun is None else None,
                size_gb=att.disk.size_gb,
                used_bytes=att.disk.used_bytes,
                sku=att.disk.sku,
                caching=att.caching,
                write_accelerator=att.write_accelerator,
                cum_changed=vm.changed_cum[att.disk.id.lower()],
                time_created=when,
                family_id=core.new_guid(),
                source_unique_id=att.disk.unique_id,
                hyper_v_generation=vm.hyper_v_generation,
                logical_sector_size=att.disk.logical_sector_size,
            )
        )
    hydration = (
        core.config.instant_access_hydration_seconds
        if hydration_seconds is None
        else hydration_seconds
    )
    if minutes is None and rpc.instant_access:
        minutes = 300  # docs: default 300 minutes when instant access is on
    return RestorePoint(
        id=rp_id,
        name=name,
        collection=rpc,
        time_created=when,
        seq=core.store.next_seq(),
        consistency_mode=mode,
        exclude_disks=list(excluded),
        instant_access_minutes=minutes,
        provisioning_state=provisioning_state,
        metadata_base=vm.metadata_base,
        disks=disks,
        vm_key=vm.id.lower(),
        inputs=inputs,
        hydrated_at=when + (hydration if rpc.instant_access or hydration_seconds else 0.0),
    )


def consistency_mode(vm: VirtualMachine, raw: str | None, api_version: str) -> str:
    if raw is None:
        # The default is application-consistent: Linux reports FileSystemConsistent [WIRE].
        return "FileSystemConsistent" if vm.os_type == "Linux" else "ApplicationConsistent"
    low = raw.lower()
    if low not in ALL_MODES:
        raise errors.invalid_parameter(
            f"The value '{raw}' of parameter 'consistencyMode' is not valid. Allowed values are "
            "'CrashConsistent', 'FileSystemConsistent', 'ApplicationConsistent'.",
            target="properties.consistencyMode",
        )
    if low not in MODES:
        # "Only CrashConsistent is accepted as an input" [SPEC]; omit it for the default.
        raise errors.invalid_parameter(
            f"consistencyMode '{raw}' cannot be requested: only 'CrashConsistent' is accepted as "
            "input; omit consistencyMode for an application-consistent restore point.",
            target="properties.consistencyMode",
        )
    if not versions.at_least(api_version, versions.CRASH_CONSISTENT_MIN_VERSION):
        raise errors.invalid_parameter(
            "consistencyMode 'CrashConsistent' requires api-version '2021-07-01' or newer.",
            target="properties.consistencyMode",
        )
    return MODES[low]
