"""The one place that reads `properties.*` of ARM bodies (and writes the bodies we PUT).

ARM bodies are outside input: every reader here accepts any JSON value and returns typed model
values, reading a field of the wrong type as absent, so the decisions in `shared.rules` and
`shared.policies` never see a raw body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.errors import InvalidResourceId
from shared.model.ids import CollectionId, VirtualMachineId
from shared.model.message import DiskProgress
from shared.model.regions import normalize_region
from shared.model.resources import (
    CollectionInfo,
    InstanceView,
    RestorePointView,
    StatusEntry,
    TargetCollectionView,
)
from shared.model.tags import MANAGED_TAG
from shared.model.times import parse_arm_time, utc


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _properties(body: Any) -> Mapping[str, Any]:
    return _mapping(_mapping(body).get("properties"))


def _percent(value: Any) -> float | None:
    # int32 in the Compute spec, a number in the Disk RP spec; anything else is "unknown".
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(min(max(value, 0), 100))


# -- plain fields -------------------------------------------------------------------------------


def location(body: Any) -> str:
    """`location` as a region name ("West US 2" and "westus2" are the same region), or ""."""
    return str(_mapping(body).get("location") or "").replace(" ", "").lower()


def collection_source_id(body: Any) -> str | None:
    """properties.source.id of a collection: what it is the copy target of (or its VM)."""
    return _str(_mapping(_properties(body).get("source")).get("id"))


def collection_vm_id(body: Any) -> str | None:
    """properties.source.id of a collection when it is a VM (strictly parsed), else None."""
    try:
        return str(VirtualMachineId.parse(collection_source_id(body)))
    except InvalidResourceId:
        return None


def copied_from(body: Any) -> str | None:
    """properties.sourceRestorePoint.id of a restore point: set when it is a copy."""
    return _str(_mapping(_properties(body).get("sourceRestorePoint")).get("id"))


def source_region(body: Any) -> str:
    """properties.sourceMetadata.location of a restore point (its VM's region, as the wire
    shows it), normalised like `location`, or "" when absent."""
    metadata = _mapping(_properties(body).get("sourceMetadata"))
    return str(metadata.get("location") or "").replace(" ", "").lower()


def source_vm_guid(body: Any) -> str | None:
    """properties.sourceMetadata.vmId of a restore point: its VM's unique id (a GUID)."""
    return _str(_mapping(_properties(body).get("sourceMetadata")).get("vmId"))


def contained_restore_point(collection: Any, name: str) -> dict[str, Any] | None:
    """The restore point `name` as `GET {collection}?$expand=restorePoints` lists it (the
    same RestorePoint body as its own GET, without the instance view), or None."""
    items = _properties(collection).get("restorePoints")
    if not isinstance(items, list):
        return None
    for item in items:
        if not isinstance(item, dict):
            continue
        item_name = (
            _str(item.get("name")) or str(item.get("id") or "").rstrip("/").rsplit("/", 1)[-1]
        )
        if item_name.lower() == name.lower():
            return item
    return None


def provisioning_state(body: Any) -> str | None:
    return _str(_properties(body).get("provisioningState"))


def time_created(body: Any) -> datetime | None:
    return parse_arm_time(_properties(body).get("timeCreated"))


# -- collections and restore points ----------------------------------------------------------------


def collection_info(body: Mapping[str, Any]) -> CollectionInfo:
    """What policies need to know of a collection; InvalidResourceId if its id or location
    is unusable.

    A collection whose `properties.source.id` is another collection is a cross-region copy
    target (ours or anyone's): it is never a source, so its restore points are never copied on.
    """
    cid = CollectionId.parse(_mapping(body).get("id"), "collection id")
    try:
        CollectionId.parse(collection_source_id(body))
        is_copy_target = True
    except InvalidResourceId:
        is_copy_target = False
    tags = _mapping(_mapping(body).get("tags"))
    region = normalize_region(location(body), "location")
    # A collection whose VM is in another region receives restore points created there
    # (create-in-target, arm-contract §14): a DR target like a copy target, never a source.
    vm_region = _str(_mapping(_properties(body).get("source")).get("location"))
    if vm_region and vm_region.replace(" ", "").lower() != region:
        is_copy_target = True
    return CollectionInfo(
        id=cid,
        region=region,
        tags=dict(tags),
        is_copy_target=is_copy_target,
        source_vm_id=collection_vm_id(body),
    )


def restore_point_view(body: Any) -> RestorePointView | None:
    """One item of `properties.restorePoints[]`; None if it has no usable id."""
    if not isinstance(body, Mapping):
        return None
    rp_id = _str(body.get("id"))
    if rp_id is None or "/restorepoints/" not in rp_id.lower():
        return None
    name = _str(body.get("name")) or rp_id.rstrip("/").rsplit("/", 1)[-1]
    return RestorePointView(
        id=rp_id,
        name=name,
        created_at=utc(time_created(body)),
        source_restore_point_id=copied_from(body),
        provisioning_state=provisioning_state(body),
    )


def restore_points_of(body: Any) -> tuple[RestorePointView, ...]:
    """Every readable restore point of a collection body (items without an id are dropped)."""
    items = _properties(body).get("restorePoints")
    if not isinstance(items, list):
        return ()
    views = (restore_point_view(item) for item in items)
    return tuple(view for view in views if view is not None)


def target_collection_view(body: Any | None, collection_id: str) -> TargetCollectionView:
    """Read `GET {collection}?$expand=restorePoints` (None: it does not exist)."""
    if body is None:
        return TargetCollectionView.missing(collection_id)
    tags = _mapping(_mapping(body).get("tags"))
    # Tag names are case-insensitive in Azure; the value is ours, written as "true".
    managed = any(
        str(name).lower() == MANAGED_TAG and str(value).strip().lower() == "true"
        for name, value in tags.items()
    )
    return TargetCollectionView(
        id=_str(_mapping(body).get("id")) or collection_id,
        exists=True,
        managed=managed,
        source_collection_id=collection_source_id(body),
        restore_points=restore_points_of(body),
    )


# -- replication ----------------------------------------------------------------------------------


def _disk(entry: Mapping[str, Any]) -> DiskProgress:
    replication = _mapping(entry.get("replicationStatus"))
    status = _mapping(replication.get("status"))
    disk_id = _str(entry.get("id"))
    return DiskProgress(
        id=disk_id,
        name=disk_id.rsplit("/", 1)[-1] if disk_id else None,
        percent=_percent(replication.get("completionPercent")),
        code=_str(status.get("code")),
        level=_str(status.get("level")),
    )


def instance_view(body: Any) -> InstanceView:
    """Read a `GET {restorePoint}?$expand=instanceView` body."""
    view = _mapping(_properties(body).get("instanceView"))
    raw_disks = view.get("diskRestorePoints")
    entries: Sequence[Any] = raw_disks if isinstance(raw_disks, list) else []
    raw_statuses = view.get("statuses")
    statuses: Sequence[Any] = raw_statuses if isinstance(raw_statuses, list) else []
    state = _properties(body).get("provisioningState")
    return InstanceView(
        provisioning_state=state if isinstance(state, str) else None,
        disks=tuple(_disk(e) for e in entries if isinstance(e, Mapping)),
        statuses=tuple(
            StatusEntry(
                code=s.get("code") if isinstance(s.get("code"), str) else None,
                level=s.get("level") if isinstance(s.get("level"), str) else None,
            )
            for s in statuses
            if isinstance(s, Mapping)
        ),
    )


# -- bodies we send -----------------------------------------------------------------------------


def collection_body(region: str, source_id: str, tags: Mapping[str, str] | None) -> dict[str, Any]:
    """A target collection: `source_id` is the source collection (a copy target) or the VM in
    another region (create-in-target); `tags` (shared.model.tags.target_collection_tags) carry
    the lineage and copied tags, and always the managed tag (retention deletes only there)."""
    return {
        "location": region,
        "tags": dict(tags) if tags else {MANAGED_TAG: "true"},
        "properties": {"source": {"id": source_id}},
    }


def target_collection_body(
    region: str, source_collection: CollectionId, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return collection_body(region, str(source_collection), tags)


def create_body(exclude_disks: Sequence[str] = ()) -> dict[str, Any]:
    """A restore point created in the target collection from its VM: no `sourceRestorePoint`
    ("location of the source VM is inferred from the target collection" [DOC §14])."""
    properties: dict[str, Any] = {}
    if exclude_disks:
        properties["excludeDisks"] = [{"id": disk} for disk in exclude_disks]
    return {"properties": properties}


def collection_tags(body: Any) -> dict[str, str]:
    """A collection's tags whose values are strings."""
    tags = _mapping(_mapping(body).get("tags"))
    return {str(k): v for k, v in tags.items() if isinstance(v, str)}


# Customer-managed keys in the target region (arm-contract §10): the spec marks
# `sourceMetadata.storageProfile.{osDisk,dataDisks[]}.diskRestorePoint.encryption` as input "while
# creating a restore point"; no doc shows it on a copy. Safe reading: send it for every disk of
# the source (the OS disk, and each data disk by its `lun`, the key Azure uses for data disks),
# never for a disk the source does not have, and only when a policy names a set.
CUSTOMER_KEY = "EncryptionAtRestWithCustomerKey"


def source_disks(body: Any) -> tuple[bool, tuple[int, ...]]:
    """(has an OS disk, the data disks' luns) of a restore point body's sourceMetadata."""
    storage = _mapping(_mapping(_properties(body).get("sourceMetadata")).get("storageProfile"))
    has_os = bool(_mapping(storage.get("osDisk")))
    raw = storage.get("dataDisks")
    luns = (
        sorted(
            d["lun"]
            for d in raw
            if isinstance(d, Mapping)
            and isinstance(d.get("lun"), int)
            and not isinstance(d.get("lun"), bool)
        )
        if isinstance(raw, list)
        else []
    )
    return has_os, tuple(luns)


def copy_body(
    source_restore_point_id: str,
    *,
    disk_encryption_set_id: str | None = None,
    disks: tuple[bool, tuple[int, ...]] = (False, ()),
) -> dict[str, Any]:
    """The copy PUT; with a disk encryption set, one `encryption` input per source disk."""
    properties: dict[str, Any] = {"sourceRestorePoint": {"id": source_restore_point_id}}
    if disk_encryption_set_id:
        encryption = {"diskEncryptionSet": {"id": disk_encryption_set_id}, "type": CUSTOMER_KEY}
        has_os, luns = disks
        storage: dict[str, Any] = {}
        if has_os:
            storage["osDisk"] = {"diskRestorePoint": {"encryption": encryption}}
        if luns:
            storage["dataDisks"] = [
                {"lun": lun, "diskRestorePoint": {"encryption": encryption}} for lun in luns
            ]
        properties["sourceMetadata"] = {"storageProfile": storage}
    return {"properties": properties}
