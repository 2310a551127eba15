"""ARM resource ids and request paths: parsing, building and case-insensitive keys.

ARM treats path segments, resource names and ids case-insensitively [RPC]; the emulator keys its
state by the lower-cased id and echoes the casing the resource was created with.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

COMPUTE = "Microsoft.Compute"
RPC_TYPE = "Microsoft.Compute/restorePointCollections"
RP_TYPE = "Microsoft.Compute/restorePointCollections/restorePoints"
DRP_TYPE = "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints"
VM_TYPE = "Microsoft.Compute/virtualMachines"
DISK_TYPE = "Microsoft.Compute/disks"
DES_TYPE = "Microsoft.Compute/diskEncryptionSets"
RG_TYPE = "Microsoft.Resources/resourceGroups"

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

# Region short names ARM accepts; display names ("East US") are normalised to these.
REGIONS: tuple[str, ...] = (
    "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus",
    "southcentralus", "westcentralus", "canadacentral", "canadaeast", "brazilsouth",
    "northeurope", "westeurope", "uksouth", "ukwest", "francecentral", "germanywestcentral",
    "norwayeast", "swedencentral", "switzerlandnorth", "polandcentral", "italynorth",
    "spaincentral", "centralindia", "southindia", "westindia", "japaneast", "japanwest",
    "koreacentral", "koreasouth", "eastasia", "southeastasia", "australiaeast",
    "australiasoutheast", "australiacentral", "southafricanorth", "uaenorth", "qatarcentral",
    "israelcentral", "mexicocentral", "newzealandnorth",
)  # fmt: skip
_REGION_SET = frozenset(REGIONS)


_guid_rng = random.Random()


def fast_guid() -> str:
    """A random version-4 GUID string, cheaper than str(uuid.uuid4()) on the hot path
    (request ids need to be unique, not unpredictable)."""
    value = _guid_rng.getrandbits(128)
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant (as uuid.UUID does)
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # version 4
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def normalize_region(value: str) -> str | None:
    """`East US` / `eastus` / `EASTUS` -> `eastus`; None if ARM would not know the region."""
    key = value.replace(" ", "").lower()
    return key if key in _REGION_SET else None


def key(resource_id: str) -> str:
    """The case-insensitive dictionary key of an id."""
    return resource_id.rstrip("/").lower()


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def vm_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{VM_TYPE}/{name}"


def disk_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{DISK_TYPE}/{name}"


def des_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{DES_TYPE}/{name}"


def rpc_id(sub: str, rg: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{RPC_TYPE}/{name}"


def rp_id(rpc: str, name: str) -> str:
    return f"{rpc}/restorePoints/{name}"


def drp_id(rp: str, name: str) -> str:
    return f"{rp}/diskRestorePoints/{name}"


def operation_path(sub: str, region: str, op_id: str, segment: str = "operations") -> str:
    """The status URL path of an operation: `operations`, or `DiskOperations` for the Disk RP's
    disk operations [WIRE]."""
    return f"/subscriptions/{sub}/providers/{COMPUTE}/locations/{region}/{segment}/{op_id}"


@dataclass(frozen=True, slots=True)
class Route:
    """A parsed ARM request path. `kind` names the resource; names keep the caller's casing."""

    kind: str
    subscription: str
    resource_group: str | None = None
    name: str | None = None  # vm / disk / rpc name, or operation id
    rp: str | None = None
    drp: str | None = None
    action: str | None = None  # beginGetAccess / endGetAccess
    location: str | None = None  # operations path
    namespace: str | None = None  # for unknown-type errors
    resource_type: str | None = None


# Kinds: subscription, rg, vm, disk, disk_list, rpc_list, rpc_list_all, rpc, rp, rp_list,
# drp_list, drp, drp_action, operation, unknown_namespace, unknown_type, not_found.


def parse_path(path: str) -> Route:
    """Match an ARM path (case-insensitive keywords). Unknown shapes map to error kinds."""
    segs = [s for s in path.split("/") if s]
    n = len(segs)
    low = [s.lower() for s in segs]
    if n < 2 or low[0] != "subscriptions":
        return Route("not_found", "")
    sub = segs[1]
    if n == 2:
        return Route("subscription", sub)
    if low[2] == "providers":
        # /subscriptions/{s}/providers/Microsoft.Compute/...
        if n < 5:
            return Route("not_found", sub)
        if n == 5 and low[3] == "microsoft.authorization" and low[4] == "permissions":
            return Route("permissions", sub)
        if low[3] != "microsoft.compute":
            return Route("unknown_namespace", sub, namespace=segs[3])
        if n == 5 and low[4] == "restorepointcollections":
            return Route("rpc_list_all", sub)
        if n == 8 and low[4] == "locations" and low[6] in ("operations", "diskoperations"):
            return Route("operation", sub, name=segs[7], location=segs[5])
        return Route("unknown_type", sub, namespace=segs[3], resource_type=segs[4])
    if low[2] != "resourcegroups" or n < 4:
        return Route("not_found", sub)
    rg = segs[3]
    if n == 4:
        return Route("rg", sub, rg)
    if low[4] != "providers" or n < 7:
        return Route("not_found", sub, rg)
    if n == 7 and low[5] == "microsoft.authorization" and low[6] == "permissions":
        return Route("permissions", sub, rg)
    if low[5] != "microsoft.compute":
        return Route("unknown_namespace", sub, rg, namespace=segs[5])
    rtype = low[6]
    rest = n - 7
    if rtype == "virtualmachines" and rest == 1:
        return Route("vm", sub, rg, segs[7])
    if rtype == "disks" and rest == 1:
        return Route("disk", sub, rg, segs[7])
    if rtype == "diskencryptionsets" and rest == 1:
        return Route("des", sub, rg, segs[7])
    if rtype == "disks" and rest == 0:
        return Route("disk_list", sub, rg)
    if rtype == "restorepointcollections":
        if rest == 0:
            return Route("rpc_list", sub, rg)
        name = segs[7]
        if rest == 1:
            return Route("rpc", sub, rg, name)
        if low[8] == "restorepoints":
            if rest == 2:
                return Route("rp_list", sub, rg, name)
            rp = segs[9]
            if rest == 3:
                return Route("rp", sub, rg, name, rp)
            if low[10] == "diskrestorepoints":
                if rest == 4:
                    return Route("drp_list", sub, rg, name, rp)
                if rest == 5:
                    return Route("drp", sub, rg, name, rp, segs[11])
                if rest == 6 and low[12] in ("begingetaccess", "endgetaccess"):
                    action = "beginGetAccess" if low[12] == "begingetaccess" else "endGetAccess"
                    return Route("drp_action", sub, rg, name, rp, segs[11], action)
        return Route("unknown_type", sub, rg, namespace=segs[5], resource_type="/".join(segs[6:]))
    if rtype in ("virtualmachines", "disks"):
        return Route("unknown_type", sub, rg, namespace=segs[5], resource_type="/".join(segs[6:]))
    return Route("unknown_type", sub, rg, namespace=segs[5], resource_type=segs[6])


@dataclass(frozen=True, slots=True)
class ParsedId:
    """A resource id referenced from a request body (source.id, sourceRestorePoint.id, ...)."""

    kind: str  # vm | disk | rpc | rp | drp
    subscription: str
    resource_group: str
    name: str
    rp: str | None = None
    drp: str | None = None


def parse_resource_id(value: str) -> ParsedId | None:
    """Parse a fully-qualified id of a kind the emulator stores; None if it has another shape."""
    if not value.startswith("/"):
        return None
    route = parse_path(value)
    if route.resource_group is None or route.name is None:
        return None
    if route.kind in ("vm", "disk", "rpc"):
        return ParsedId(route.kind, route.subscription, route.resource_group, route.name)
    if route.kind == "rp":
        return ParsedId("rp", route.subscription, route.resource_group, route.name, route.rp)
    if route.kind == "drp":
        return ParsedId(
            "drp", route.subscription, route.resource_group, route.name, route.rp, route.drp
        )
    return None
