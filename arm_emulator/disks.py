"""ARM handlers for managed disks: GET, list by resource group, DELETE (a 202 long-running
operation), and PUT of a disk restored from a disk restore point (`createOption: Restore`) or an
empty one (a 202 long-running operation)."""

from __future__ import annotations

from typing import Any

from . import errors, ids, lookups, replication, rules
from .core import Core
from .formatting import disk_body
from .store import Disk, DiskRestorePoint
from .wire import ArmRequest, Reply, read_object, read_string, read_tracked


def get_disk(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    disk = lookups.in_group(core.store, core.store.disks, route, ids.disk_id, ids.DISK_TYPE)
    return Reply(200, disk_body(disk))


def list_disks(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    assert route.resource_group is not None
    lookups.require_rg(core.store, route.subscription, route.resource_group)
    prefix = ids.key(ids.rg_id(route.subscription, route.resource_group)) + "/providers/"
    found = sorted(
        (d for k, d in core.store.disks.items() if k.startswith(prefix)), key=lambda d: d.seq
    )
    return Reply(200, {"value": [disk_body(d) for d in found]})


def delete_disk(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    """204 when the disk does not exist (ARM deletes are idempotent), else a 202 LRO."""
    assert route.resource_group is not None
    assert route.name is not None
    lookups.require_rg(core.store, route.subscription, route.resource_group)
    disk = core.store.disks.get(
        ids.key(ids.disk_id(route.subscription, route.resource_group, route.name))
    )
    if disk is None:
        return Reply(204)
    if disk.managed_by:
        raise rules.not_allowed(
            409, f"Disk '{disk.name}' is attached to '{disk.managed_by}' and cannot be deleted."
        )
    disk.provisioning_state = "Deleting"
    op = core.ops.start(
        "disk_delete",
        disk.id,
        subscription=route.subscription,
        region=disk.location,
        duration=core.config.disk_delete_seconds,
        api_version=req.api_version,
        context=req.context,
    )
    return Reply(202, None, core.ops.headers(op, req.base_url, retry_after=False))


def put_disk(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    """Create a managed disk from a disk restore point (createOption Restore) or empty."""
    assert route.resource_group is not None
    assert route.name is not None
    lookups.require_rg(core.store, route.subscription, route.resource_group)
    body, location, tags = read_tracked(req.body, "disk", ids.DISK_TYPE)
    props = read_object(body.get("properties"), "disk.properties", required=True)
    creation = read_object(props.get("creationData"), "disk.properties.creationData", required=True)
    option = read_string(creation.get("createOption"), "disk.properties.creationData.createOption")
    if option is None:
        raise errors.missing_parameter("disk.properties.creationData.createOption")
    sku_obj = read_object(body.get("sku"), "disk.sku")
    sku = read_string(sku_obj.get("name"), "disk.sku.name") if sku_obj else None
    size = props.get("diskSizeGB")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise errors.invalid_content(
            "Error converting value to type 'System.Int32'. Path 'properties.diskSizeGB'"
        )
    source: DiskRestorePoint | None = None
    if option.lower() == "restore":
        source = _restore_source(core, creation, location)
    elif option.lower() == "empty":
        if size is None:
            raise errors.missing_parameter("disk.properties.diskSizeGB")
    else:
        raise errors.invalid_parameter(
            f"createOption '{option}' is not supported by the emulator; use 'Restore' (from a "
            "disk restore point) or 'Empty'.",
            target="properties.creationData.createOption",
        )
    disk_id = ids.disk_id(route.subscription, route.resource_group, route.name)
    existing = core.store.disks.get(ids.key(disk_id))
    if existing is not None:
        return _re_put(existing, option, source.id if source else None, tags)
    disk = _new_disk(core, route, disk_id, location, size, sku, tags, source)
    core.store.disks[ids.key(disk_id)] = disk
    op = core.ops.start(
        "disk_create",
        disk.id,
        subscription=route.subscription,
        region=location,
        duration=core.config.disk_create_seconds,
        api_version=req.api_version,
        context=req.context,
    )
    # No Retry-After on the disk PUT [WIRE]; the status URL is under DiskOperations.
    return Reply(202, disk_body(disk), core.ops.headers(op, req.base_url, retry_after=False))


def _restore_source(core: Core, creation: dict[str, Any], location: str) -> DiskRestorePoint:
    source_id = read_string(
        creation.get("sourceResourceId"), "disk.properties.creationData.sourceResourceId"
    )
    if not source_id:
        raise errors.missing_parameter("disk.properties.creationData.sourceResourceId")
    rp, drp = lookups.referenced(
        core.store.drps, source_id, "drp", "properties.creationData.sourceResourceId"
    )
    if rp.collection.location != location:
        # undocumented: chosen code
        raise errors.invalid_parameter(
            f"The disk restore point '{source_id}' is in region "
            f"'{rp.collection.location}'; a disk restored from it must be created in "
            f"the same region, not '{location}'.",
            target="location",
        )
    now = core.now()
    usable = rp.provisioning_state == "Succeeded" and (
        not rp.replicates
        or replication.view(rp, now, core.config).disks[rp.disks.index(drp)].state
        == replication.SUCCEEDED
    )
    if not usable and core.config.unreplicated_restore == "refuse":
        # The docs say restoring does not check replication (the caller must); by default the
        # emulator refuses, so a caller that forgets to check fails loudly here (variant
        # "restore-unreplicated-allowed" does as the docs say). undocumented: chosen code
        raise rules.not_allowed(
            409,
            f"Disk restore point '{drp.name}' is not usable: its restore point is "
            f"'{rp.provisioning_state}' or its replication has not succeeded.",
        )
    return drp


def _re_put(existing: Disk, option: str, source_id: str | None, tags: Any) -> Reply:
    same = (existing.create_option.lower() == option.lower()) and (
        (existing.source_resource_id or "").lower() == (source_id or "").lower()
    )
    if existing.managed_by:
        raise rules.not_allowed(
            409,
            f"Disk '{existing.name}' is attached to '{existing.managed_by}' and cannot be "
            "replaced.",
        )
    if not same:
        raise errors.property_change_not_allowed("creationData")
    existing.tags = tags if tags is not None else existing.tags
    return Reply(200, disk_body(existing))


def _new_disk(
    core: Core,
    route: ids.Route,
    disk_id: str,
    location: str,
    size: int | None,
    sku: str | None,
    tags: dict[str, str] | None,
    source: DiskRestorePoint | None,
) -> Disk:
    assert route.resource_group is not None
    assert route.name is not None
    disk = Disk(
        id=disk_id,
        subscription=route.subscription,
        resource_group=route.resource_group,
        name=route.name,
        location=location,
        size_gb=int(size or 0),
        used_bytes=0,
        sku=sku or "Standard_LRS",
        os_type=None,
        hyper_v_generation="V1",
        unique_id=core.new_guid(),
        time_created=core.now(),
        seq=core.store.next_seq(),
        provisioning_state="Updating",
        tags=tags,
    )
    if source is not None:
        # A restored disk takes its shape from the disk restore point.
        disk.size_gb = max(size or 0, source.size_gb)
        disk.used_bytes = source.used_bytes
        disk.sku = sku or source.sku
        disk.os_type = source.os_type
        disk.hyper_v_generation = source.hyper_v_generation
        disk.create_option = "Restore"
        disk.source_resource_id = source.id
        disk.source_unique_id = source.source_unique_id
        disk.logical_sector_size = source.logical_sector_size
    return disk
