"""Strict parsing and building of the ARM resource ids this app touches.

ARM compares ids case-insensitively, so every id here keeps the caller's casing for display and
offers a normalized form (lower case, no trailing slash) for comparisons and hashing. Anything that
is not exactly one of the shapes below is rejected with a message naming the expected shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import InvalidResourceId

# Azure limits: subscription ids are GUIDs; resource group names 1-90 of [-\w._()] not ending
# in "."; resource names here are plain segments (the spec sets no pattern) but never contain "/".
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_RG = r"[-\w._()]{0,89}[-\w_()]"
# ARM's limit for the names of collections and restore points.
MAX_RESOURCE_NAME = 80
_NAME = rf"[^/?#&%\\\s]{{1,{MAX_RESOURCE_NAME}}}"

_SUB_RE = re.compile(rf"^/subscriptions/(?P<sub>{_GUID})$", re.IGNORECASE)
_RG_RE = re.compile(rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG})$", re.I)
_PROVIDER = r"/providers/Microsoft\.Compute"
_RPC_RE = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG}){_PROVIDER}"
    rf"/restorePointCollections/(?P<rpc>{_NAME})$",
    re.IGNORECASE,
)
_RP_RE = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG}){_PROVIDER}"
    rf"/restorePointCollections/(?P<rpc>{_NAME})/restorePoints/(?P<rp>{_NAME})$",
    re.IGNORECASE,
)
_DRP_RE = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG}){_PROVIDER}"
    rf"/restorePointCollections/(?P<rpc>{_NAME})/restorePoints/(?P<rp>{_NAME})"
    rf"/diskRestorePoints/(?P<drp>{_NAME})$",
    re.IGNORECASE,
)
_VM_RE = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG}){_PROVIDER}"
    rf"/virtualMachines/(?P<vm>{_NAME})$",
    re.IGNORECASE,
)

_DISK_RE = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG}){_PROVIDER}"
    rf"/disks/(?P<disk>{_NAME})$",
    re.IGNORECASE,
)
_DES_RE = re.compile(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG}){_PROVIDER}"
    rf"/diskEncryptionSets/(?P<des>{_NAME})$",
    re.IGNORECASE,
)

RPC_SHAPE = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}"
    "/providers/Microsoft.Compute/restorePointCollections/{collectionName}"
)
RP_SHAPE = RPC_SHAPE + "/restorePoints/{restorePointName}"
DRP_SHAPE = RP_SHAPE + "/diskRestorePoints/{diskRestorePointName}"
RG_SHAPE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}"
VM_SHAPE = RG_SHAPE + "/providers/Microsoft.Compute/virtualMachines/{vmName}"
DISK_SHAPE = RG_SHAPE + "/providers/Microsoft.Compute/disks/{diskName}"
DES_SHAPE = RG_SHAPE + "/providers/Microsoft.Compute/diskEncryptionSets/{diskEncryptionSetName}"


def _match(pattern: re.Pattern[str], value: object, what: str, shape: str) -> re.Match[str]:
    if not isinstance(value, str):
        raise InvalidResourceId(f"{what} must be a string of the form {shape}")
    # No stripping or URL-decoding: an id that needs fixing up is not the id the user meant.
    # fullmatch, not match: "$" also matches before a trailing newline.
    match = pattern.fullmatch(value)
    if match is None:
        raise InvalidResourceId(f"{what} {value!r} is not of the form {shape}")
    return match


def validate_resource_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(_NAME, value):
        raise InvalidResourceId(
            f"{what} {value!r} must be 1-80 characters with no '/', '?', '#', '&', '%', "
            "'\\' or whitespace"
        )
    return value


def validate_resource_group_name(value: object, what: str = "resource group") -> str:
    if not isinstance(value, str) or not re.fullmatch(_RG, value):
        raise InvalidResourceId(
            f"{what} {value!r} must be 1-90 letters, digits, '-', '_', '.', '(' or ')' "
            "and must not end with '.'"
        )
    return value


@dataclass(frozen=True)
class ResourceGroupId:
    subscription_id: str
    resource_group: str

    @classmethod
    def parse(cls, value: object, what: str = "resource group id") -> ResourceGroupId:
        m = _match(_RG_RE, value, what, RG_SHAPE)
        return cls(m["sub"], m["rg"])

    def __str__(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def normalized(self) -> str:
        return str(self).lower()


@dataclass(frozen=True)
class VirtualMachineId:
    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, value: object, what: str = "virtual machine id") -> VirtualMachineId:
        m = _match(_VM_RE, value, what, VM_SHAPE)
        return cls(m["sub"], m["rg"], m["vm"])

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )

    @property
    def normalized(self) -> str:
        return str(self).lower()


def parse_disk_id(value: object, what: str = "disk id") -> str:
    """A managed disk id (as `excludeDisks` names them), or InvalidResourceId."""
    _match(_DISK_RE, value, what, DISK_SHAPE)
    return str(value)


@dataclass(frozen=True)
class DiskEncryptionSetId:
    """A disk encryption set (customer-managed keys for disks in its own region)."""

    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, value: object, what: str = "disk encryption set id") -> DiskEncryptionSetId:
        m = _match(_DES_RE, value, what, DES_SHAPE)
        return cls(m["sub"], m["rg"], m["des"])

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/diskEncryptionSets/{self.name}"
        )

    @property
    def normalized(self) -> str:
        return str(self).lower()


@dataclass(frozen=True)
class CollectionId:
    """A restore point collection (RPC)."""

    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, value: object, what: str = "restore point collection id") -> CollectionId:
        m = _match(_RPC_RE, value, what, RPC_SHAPE)
        return cls(m["sub"], m["rg"], m["rpc"])

    @classmethod
    def build(cls, subscription_id: str, resource_group: str, name: str) -> CollectionId:
        return cls.parse(
            f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.Compute/restorePointCollections/{name}"
        )

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/restorePointCollections/{self.name}"
        )

    @property
    def normalized(self) -> str:
        return str(self).lower()

    @property
    def resource_group_id(self) -> ResourceGroupId:
        return ResourceGroupId(self.subscription_id, self.resource_group)

    def restore_point(self, name: str) -> RestorePointId:
        return RestorePointId(self, validate_resource_name(name, "restore point name"))

    def same_as(self, other: CollectionId) -> bool:
        return self.normalized == other.normalized


@dataclass(frozen=True)
class RestorePointId:
    collection: CollectionId
    name: str

    @classmethod
    def parse(cls, value: object, what: str = "restore point id") -> RestorePointId:
        m = _match(_RP_RE, value, what, RP_SHAPE)
        return cls(CollectionId(m["sub"], m["rg"], m["rpc"]), m["rp"])

    def __str__(self) -> str:
        return f"{self.collection}/restorePoints/{self.name}"

    @property
    def normalized(self) -> str:
        return str(self).lower()

    @property
    def subscription_id(self) -> str:
        return self.collection.subscription_id

    def same_as(self, other: RestorePointId) -> bool:
        return self.normalized == other.normalized


@dataclass(frozen=True)
class DiskRestorePointId:
    restore_point: RestorePointId
    name: str

    @classmethod
    def parse(cls, value: object, what: str = "disk restore point id") -> DiskRestorePointId:
        m = _match(_DRP_RE, value, what, DRP_SHAPE)
        rp = RestorePointId(CollectionId(m["sub"], m["rg"], m["rpc"]), m["rp"])
        return cls(rp, m["drp"])

    def __str__(self) -> str:
        return f"{self.restore_point}/diskRestorePoints/{self.name}"

    @property
    def normalized(self) -> str:
        return str(self).lower()


def id_key(value: str) -> str:
    """Comparison key of an ARM id (ARM ids are case-insensitive; no trailing slash)."""
    return value.rstrip("/").lower()


def same_id(a: str, b: str) -> bool:
    return id_key(a) == id_key(b)
