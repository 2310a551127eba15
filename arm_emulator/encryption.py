"""Disk encryption sets named by a copy PUT (arm-contract §10).

The spec marks `properties.sourceMetadata.storageProfile.{osDisk|dataDisks[]}.diskRestorePoint.
encryption` {`diskEncryptionSet.id`, `type`} as input "while creating a restore point"; no doc
shows it on a copy. The emulator reads it per disk (the OS disk, data disks by `lun`) and, in the
default `copy_encryption: honour` variant, refuses a set that does not exist (404
ResourceNotFound, as for any linked resource) or is not in the target collection's region (400
InvalidParameter; undocumented: chosen code, in the words Compute uses for disks whose set is in
another region). `platform-key`: accepted unchecked and copied with platform keys.
"""

from __future__ import annotations

from typing import Any

from . import errors, ids, lookups
from .config import EmulatorConfig
from .core import Core
from .formatting import CUSTOMER_KEY, PMK, tracked
from .store import RestorePointCollection, Store
from .wire import ArmRequest, Reply, read_object, read_string

_TYPES = {CUSTOMER_KEY, PMK, "EncryptionAtRestWithPlatformAndCustomerKeys"}

_STORAGE = "properties.sourceMetadata.storageProfile"


def _disk_set(entry: Any, path: str) -> str | None:
    disk = read_object(entry, path)
    point = read_object(disk.get("diskRestorePoint"), f"{path}.diskRestorePoint")
    enc = read_object(point.get("encryption"), f"{path}.diskRestorePoint.encryption")
    kind = read_string(enc.get("type"), f"{path}.diskRestorePoint.encryption.type")
    if kind is not None and kind not in _TYPES:
        raise errors.invalid_parameter(
            f"The value '{kind}' of '{path}.diskRestorePoint.encryption.type' is not valid.",
            target=f"{path}.diskRestorePoint.encryption.type",
        )
    des = read_object(enc.get("diskEncryptionSet"), f"{path}.diskRestorePoint.encryption")
    return read_string(des.get("id"), f"{path}.diskRestorePoint.encryption.diskEncryptionSet.id")


def read_copy_encryption(props: dict[str, Any]) -> dict[int | None, tuple[str, str]]:
    """Disk key (None = OS disk, else the lun) -> (disk encryption set id, its body path)."""
    meta = read_object(props.get("sourceMetadata"), "properties.sourceMetadata")
    storage = read_object(meta.get("storageProfile"), _STORAGE)
    found: dict[int | None, tuple[str, str]] = {}
    os_set = _disk_set(storage.get("osDisk"), f"{_STORAGE}.osDisk")
    if os_set:
        found[None] = (
            os_set,
            f"{_STORAGE}.osDisk.diskRestorePoint.encryption.diskEncryptionSet.id",
        )
    data = storage.get("dataDisks")
    if data is None:
        return found
    if not isinstance(data, list):
        raise errors.invalid_content(
            f"Error converting value to type 'List`1'. Path '{_STORAGE}.dataDisks'"
        )
    for i, entry in enumerate(data):
        path = f"{_STORAGE}.dataDisks[{i}]"
        lun = read_object(entry, path).get("lun")
        if isinstance(lun, bool) or not isinstance(lun, int):
            raise errors.missing_parameter(f"{path}.lun")
        des = _disk_set(entry, path)
        if des:
            found[lun] = (des, f"{path}.diskRestorePoint.encryption.diskEncryptionSet.id")
    return found


def check_sets(
    store: Store,
    cfg: EmulatorConfig,
    target: RestorePointCollection,
    wanted: dict[int | None, tuple[str, str]],
) -> dict[int | None, str]:
    """The sets a copy is encrypted with, by disk key; refusals as ARM errors."""
    if cfg.copy_encryption != "honour":
        return {}
    chosen: dict[int | None, str] = {}
    for key, (des_id, path) in wanted.items():
        parsed = ids.parse_resource_id(des_id)
        des = store.encryption_sets.get(ids.key(des_id))
        if des is None:
            if parsed is None and "/diskencryptionsets/" not in des_id.lower():
                raise errors.invalid_linked_id(des_id, path)
            raise errors.referenced_not_found(des_id, path)
        if des.location != target.location:
            raise errors.invalid_parameter(
                f"Disk encryption set '{des.id}' is in region '{des.location}'; a disk restore "
                f"point in '{target.location}' can only be encrypted with a disk encryption set "
                f"in '{target.location}'.",
                target=path,
            )
        chosen[key] = des.id
    return chosen


def get_des(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    """`GET` a seeded disk encryption set (Disk RP api-versions): its region is what matters."""
    des = lookups.in_group(core.store, core.store.encryption_sets, route, ids.des_id, ids.DES_TYPE)
    body = tracked(des.name, des.id, ids.DES_TYPE, des.location, None)
    body["identity"] = {"type": "SystemAssigned"}
    body["properties"] = {
        "encryptionType": CUSTOMER_KEY,
        "provisioningState": "Succeeded",
    }
    return Reply(200, body)
