"""Restore point rules: what the service refuses, and with which error.

Azure documents the cross-region copy rules but not their error codes (arm-contract §5, §12.13).
The emulator uses one scheme, so a client can tell the classes apart:

- `OperationNotAllowed` 400: the request can never succeed (copy-of-copy, same region, a source
  from another collection, excluded disks on a copy, unsupported disks not excluded);
- `OperationNotAllowed` 409: it conflicts with the current state and may succeed later (a copy of
  this source restore point already exists in the region, order, a copy in flight, source not
  ready, snapshot still in `InstantAccess`);
- `OperationNotAllowed` 429 + Retry-After: the copy throttle (3 per hour per target collection);
- `VMRestorePointClientError` 409: documented for the concurrent-create and per-VM limit cases.
"""

from __future__ import annotations

from typing import Any

from . import replication
from .clock import VirtualClock, format_arm
from .config import EmulatorConfig
from .errors import ArmError
from .rp_bodies import snapshot_access_state
from .store import RestorePoint, RestorePointCollection, Store, VirtualMachine, VmDisk

CRASH_UNSUPPORTED_SKUS = frozenset({"ultrassd_lrs", "premiumv2_lrs"})


def not_allowed(status: int, message: str, target: str | None = None) -> ArmError:
    # undocumented: chosen code (see module docstring)
    return ArmError(status, "OperationNotAllowed", message, target=target)


def check_not_deleting(rpc: RestorePointCollection) -> None:
    if rpc.provisioning_state == "Deleting":
        raise not_allowed(409, f"Restore point collection '{rpc.name}' is being deleted.")


def check_copy_target(source: RestorePointCollection, location: str) -> None:
    """A collection for cross-region copy: in another region than its source collection, whose
    own source is a VM (not another copy target)."""
    if source.location == location:
        raise not_allowed(
            400,
            "A restore point collection for cross-region copy must be in a different "
            f"region than its source collection ('{source.location}'); same-region copy is "
            "not supported.",
            target="location",
        )
    if source.source_kind != "vm":
        raise not_allowed(
            400,
            f"Source collection '{source.id}' is itself a cross-region copy target; "
            "copy-of-copy is not supported.",
            target="properties.source.id",
        )


def check_deletable(rp: RestorePoint, now: float) -> None:
    """No delete while a disk restore point SAS is active [DOC], or while the restore point is
    still being created."""
    for drp in rp.disks:
        if drp.access_pending or (drp.access_until is not None and drp.access_until > now):
            raise ArmError(
                409,
                "DiskRestorePointUsedByCustomer",
                f"Disk restore point '{drp.name}' of restore point '{rp.name}' is currently "
                "being used through an active SAS. Call endGetAccess on the disk restore "
                "point before deleting the restore point.",
            )
    if rp.provisioning_state == "Creating":
        raise not_allowed(
            409,
            f"Restore point '{rp.name}' is still being created; retry the delete after the "
            "create operation completes.",
        )


# ---- local restore points ----------------------------------------------------------------------


def unsupported_reason(att: VmDisk, mode: str, cfg: EmulatorConfig) -> str | None:
    """Why a disk cannot be in a restore point of `mode`, or None [DOC §8]."""
    if att.ephemeral:
        return "ephemeral OS disks are not supported"
    if att.disk.max_shares > 1:
        return "shared disks are not supported"
    sku = att.disk.sku.lower()
    if sku in CRASH_UNSUPPORTED_SKUS and (
        mode == "CrashConsistent" or not cfg.ultra_app_consistent_supported
    ):
        return f"{att.disk.sku} disks are not supported for {mode} restore points"
    if att.write_accelerator and mode == "CrashConsistent":
        return "write-accelerated disks are not supported for CrashConsistent restore points"
    return None


def check_local_target(rpc: RestorePointCollection) -> None:
    if rpc.source_kind != "vm":
        raise not_allowed(
            400,
            f"Restore point collection '{rpc.name}' is a cross-region copy target; restore points "
            "can only be copied into it. Specify properties.sourceRestorePoint.",
            target="properties.sourceRestorePoint",
        )


def check_local_create(
    store: Store,
    cfg: EmulatorConfig,
    rpc: RestorePointCollection,
    vm: VirtualMachine,
    included: list[VmDisk],
    mode: str,
) -> None:
    check_local_target(rpc)
    bad = [(att, unsupported_reason(att, mode, cfg)) for att in included]
    bad = [(att, why) for att, why in bad if why]
    if bad:
        names = ", ".join(f"'{att.disk.name}' ({why})" for att, why in bad)
        # The documented text (troubleshooting doc) ends with this instruction.
        raise ArmError(
            400,
            "OperationNotAllowed",
            f"Restore points are not supported for the disk(s) {names}. "
            "Please exclude these disk(s) using excludeDisks property and retry.",
            target="properties.excludeDisks",
        )
    existing = store.vm_restore_points(vm.id.lower())
    for rp in existing:
        if rp.provisioning_state == "Creating":
            raise ArmError(
                409,
                "VMRestorePointClientError",
                "RestorePoint creation failed since a concurrent 'Create RestorePoint' operation "
                f"was triggered on the VM. Restore point '{rp.id}' is still being created.",
            )
    if len(existing) >= cfg.max_restore_points_per_vm:
        raise ArmError(
            409,
            "VMRestorePointClientError",
            "The maximum allowed snapshot limit of one or more disk blobs has been reached: the "
            f"virtual machine already has {len(existing)} restore points (limit "
            f"{cfg.max_restore_points_per_vm}). Delete older restore points and retry.",
        )


# ---- cross-region copies -----------------------------------------------------------------------


def copy_throttle(
    rpc: RestorePointCollection, now: float, cfg: EmulatorConfig, clock: VirtualClock
) -> None:
    """3 copy PUTs per hour per target collection, sliding window in simulated time."""
    window = cfg.copy_throttle_window_seconds
    times = rpc.copy_put_times
    while times and times[0] <= now - window:
        times.popleft()
    if len(times) < cfg.copy_puts_per_hour:
        return
    wait = times[0] + window - now
    retry_after = clock.retry_after(wait)
    detail = (
        '{"operationGroup":"PutRestorePointCopyPerTargetCollection1Hour",'
        f'"startTime":"{format_arm(times[0])}","endTime":"{format_arm(times[0] + window)}",'
        f'"allowedRequestCount":{cfg.copy_puts_per_hour},"measuredRequestCount":{len(times) + 1}}}'
    )
    # Documented: 429 + Retry-After [DOC]; the body follows the Compute throttling example, wrapped
    # in the canonical {"error": ...} envelope, or bare as the doc shows it (a variant).
    raise ArmError(
        429,
        "OperationNotAllowed",
        "The server rejected the request because too many requests have been received for this "
        "subscription.",
        details=[
            {
                "code": "TooManyRequests",
                "target": "PutRestorePointCopyPerTargetCollection1Hour",
                "message": detail,
            }
        ],
        headers={"Retry-After": str(retry_after)},
        bare=cfg.throttle_body == "bare",
    )


def check_cross_region_creation(
    cfg: EmulatorConfig, now: float, rpc: RestorePointCollection, clock: VirtualClock
) -> None:
    """In the "copy-rules" variant, a restore point created across regions obeys the copy rules
    that can apply to it: the PUT budget per collection and one in flight per collection (the
    order rule holds by construction; there is no source restore point to duplicate)."""
    if cfg.cross_region_creation != "copy-rules":
        return
    copy_throttle(rpc, now, cfg, clock)
    in_flight = [
        rp
        for rp in rpc.restore_points.values()
        if rp.cross_region and not _failed(rp, now, cfg) and not replication.finished(rp, now, cfg)
    ]
    if in_flight:
        raise not_allowed(
            409,
            f"A restore point ('{in_flight[0].name}') is still being created in '{rpc.name}' "
            "across regions; only one at a time is allowed. Retry after it completes.",
        )


def remaining_copy_puts(rpc: RestorePointCollection, now: float, cfg: EmulatorConfig) -> int:
    window = cfg.copy_throttle_window_seconds
    recent = sum(1 for t in rpc.copy_put_times if t > now - window)
    return max(0, cfg.copy_puts_per_hour - recent)


def order_key(rp: RestorePoint) -> tuple[float, int]:
    return (rp.time_created, rp.seq)


def check_copy(
    store: Store,
    cfg: EmulatorConfig,
    now: float,
    target: RestorePointCollection,
    source: RestorePoint,
) -> None:
    """Every documented cross-region copy rule (arm-contract §9), in a fixed order."""
    source_rpc = source.collection
    if target.source_kind != "rpc":
        raise not_allowed(
            400,
            f"Restore point collection '{target.name}' has a virtual machine as its source; "
            "sourceRestorePoint can only be used with a collection whose source is a restore "
            "point collection in another region.",
            target="properties.sourceRestorePoint.id",
        )
    if source.is_copy:
        raise not_allowed(
            400,
            f"Restore point '{source.id}' is itself a copy; copying a copied restore point "
            "(copy-of-copy) is not supported.",
            target="properties.sourceRestorePoint.id",
        )
    if source_rpc.id.lower() != target.source_key:
        raise not_allowed(
            400,
            f"Restore points from different source restore point collections cannot be copied "
            f"into the same target collection: '{target.name}' has source '{target.source_id}', "
            f"the restore point belongs to '{source_rpc.id}'.",
            target="properties.sourceRestorePoint.id",
        )
    if source_rpc.location == target.location:
        raise not_allowed(
            400,
            "Copying a restore point within the same region is not supported.",
            target="properties.sourceRestorePoint.id",
        )
    if source.provisioning_state != "Succeeded":
        raise not_allowed(
            409,
            f"Source restore point '{source.id}' is in provisioning state "
            f"'{source.provisioning_state}'; only a succeeded restore point can be copied.",
        )
    if snapshot_access_state(source, now) == "InstantAccess":
        raise not_allowed(
            409,
            f"Source restore point '{source.id}' has snapshotAccessState 'InstantAccess' and "
            "cannot be copied yet; wait for 'Available' or 'AvailableWithInstantAccess'.",
        )
    _check_duplicate(store, cfg, now, target, source)
    copies = [rp for rp in target.restore_points.values() if rp.is_copy]
    live = [rp for rp in copies if not _failed(rp, now, cfg)]
    newer = [rp for rp in live if _source_order(store, rp) > order_key(source)]
    if newer:
        raise not_allowed(
            409,
            f"Restore points must be copied in creation order: '{newer[0].name}' (a copy of a "
            f"newer restore point than '{source.name}') already exists in '{target.name}'.",
        )
    in_flight = [rp for rp in live if not replication.finished(rp, now, cfg)]
    if in_flight:
        raise not_allowed(
            409,
            f"A copy from '{source_rpc.name}' to '{target.name}' is already in progress "
            f"('{in_flight[0].name}'); only one copy at a time is allowed between the same "
            "collections. Retry after it completes.",
        )
    same_vm = [
        rp
        for rpc in store.rpcs.values()
        if rpc.location == target.location and rpc.source_kind == "rpc"
        for rp in rpc.restore_points.values()
        if rp.is_copy and rp.vm_key == source.vm_key and not _failed(rp, now, cfg)
    ]
    if len(same_vm) >= cfg.max_restore_points_per_vm:
        raise ArmError(
            409,
            "VMRestorePointClientError",
            f"The maximum of {cfg.max_restore_points_per_vm} copied restore points for this "
            f"virtual machine in region '{target.location}' has been reached.",
        )


def _check_duplicate(
    store: Store,
    cfg: EmulatorConfig,
    now: float,
    target: RestorePointCollection,
    source: RestorePoint,
) -> None:
    """Each source restore point can be copied once per target region; a failed copy does not
    count (the copy cannot be resumed, but it can be started again under a new name)."""
    source_key = source.id.lower()
    for rpc in store.rpcs.values():
        if rpc.location != target.location:
            continue
        for rp in rpc.restore_points.values():
            if (
                rp.source_rp_id
                and rp.source_rp_id.lower() == source_key
                and not _failed(rp, now, cfg)
            ):
                raise not_allowed(
                    409,
                    f"Restore point '{source.id}' has already been copied to region "
                    f"'{target.location}' as '{rp.id}'. Each restore point can be copied "
                    "only once per target region.",
                )


def _source_order(store: Store, copy: RestorePoint) -> tuple[float, int]:
    """Creation order of a copy's source (a copy keeps its source's timeCreated)."""
    src = store.rps.get(copy.source_rp_id.lower()) if copy.source_rp_id else None
    return order_key(src) if src is not None else (copy.time_created, -1)


def _failed(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> bool:
    if rp.provisioning_state == "Failed" or rp.refused:
        return True
    if rp.operation is not None and not rp.operation.done:
        return False
    return replication.view(rp, now, cfg).overall == replication.FAILED


def incremental_bytes(
    store: Store,
    target: RestorePointCollection,
    source: RestorePoint,
    now: float,
    cfg: EmulatorConfig,
) -> dict[str, int]:
    """Bytes each disk must transfer.

    The first copy into `target` is full; later ones carry the bytes changed since the newest
    successfully copied older restore point. Copied incrementals may be deleted at the source, but
    the full (first) snapshot must be kept: once it is deleted the next copy is full again [DOC].
    """
    succeeded = [
        rp
        for rp in target.restore_points.values()
        if rp.is_copy and rp.source_rp_id and replication.succeeded(rp, now, cfg)
    ]
    older = [rp for rp in succeeded if _source_order(store, rp) < order_key(source)]
    base: RestorePoint | None = None
    if older:
        root = min(succeeded, key=lambda rp: _source_order(store, rp))
        root_source_kept = root.source_rp_id is not None and root.source_rp_id.lower() in store.rps
        if root_source_kept:
            base = max(older, key=lambda rp: _source_order(store, rp))
    result: dict[str, int] = {}
    for drp in source.disks:
        full = drp.used_bytes
        base_drp = None
        if base is not None:
            wanted = drp.disk_id.lower()
            base_drp = next((d for d in base.disks if d.disk_id.lower() == wanted), None)
        if base_drp is None:
            result[drp.id.lower()] = full
        else:
            changed = max(0, drp.cum_changed - base_drp.cum_changed)
            result[drp.id.lower()] = min(full, changed)
    return result


def canonical_inputs(props: dict[str, Any]) -> tuple[Any, ...]:
    """The identity of a restore point PUT body, to recognise an idempotent re-PUT."""
    source = props.get("sourceRestorePoint")
    source_id = source.get("id", "").lower() if isinstance(source, dict) else None
    excluded = tuple(
        sorted(
            d.get("id", "").lower() for d in props.get("excludeDisks") or [] if isinstance(d, dict)
        )
    )
    mode = props.get("consistencyMode")
    minutes = props.get("instantAccessDurationMinutes")
    return (
        source_id,
        excluded,
        mode.lower() if isinstance(mode, str) else None,
        minutes,
        _encryption_inputs(props),
    )


def _encryption_inputs(props: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The per-disk disk encryption sets of a PUT, as comparable text (copies, §10)."""
    meta = props.get("sourceMetadata")
    storage = meta.get("storageProfile") if isinstance(meta, dict) else None
    if not isinstance(storage, dict):
        return ()
    entries = [("os", storage.get("osDisk"))]
    data = storage.get("dataDisks")
    if isinstance(data, list):
        entries += [(f"lun{d.get('lun')}", d) for d in data if isinstance(d, dict)]
    found: list[tuple[str, str]] = []
    for name, entry in entries:
        point = entry.get("diskRestorePoint") if isinstance(entry, dict) else None
        enc = point.get("encryption") if isinstance(point, dict) else None
        des = enc.get("diskEncryptionSet") if isinstance(enc, dict) else None
        des_id = des.get("id") if isinstance(des, dict) else None
        if isinstance(des_id, str):
            found.append((name, des_id.lower()))
    return tuple(sorted(found))
