"""api-version sets per endpoint family (arm-contract §0), and what each version's body has.

Compute endpoints (collections, restore points, VMs, operations) take Compute api-versions; disk
restore points and disks take Disk RP api-versions, which are a different series [SPEC].

Every stable version up to the newest in Azure/azure-rest-api-specs is accepted: Compute
2026-04-01 (`Microsoft.Compute/Compute/stable/2026-04-01/ComputeRP.json`) and Disk RP 2026-03-02
(`Microsoft.Compute/Compute/stable/2026-03-02/DiskRP.json`), the defaults of azure-mgmt-compute
39. `FEATURES` says in which versions a response property exists, read from each version's spec
(and the per-version models of azure-mgmt-compute 30.6, generated from those specs): a body
rendered for a version carries only the properties that version's spec defines.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Compute RP versions that have restorePointCollections (2021-03-01 and later), newest first.
RESTORE_POINT_VERSIONS: tuple[str, ...] = (
    "2026-04-01", "2026-03-01", "2025-11-01", "2025-04-01", "2024-11-01", "2024-07-01",
    "2024-03-01", "2023-09-01", "2023-07-01", "2023-03-01", "2022-11-01", "2022-08-01",
    "2022-03-01", "2021-11-01", "2021-07-01", "2021-04-01", "2021-03-01",
)  # fmt: skip
# Older Compute versions still valid for virtualMachines.
VM_VERSIONS: tuple[str, ...] = (
    *RESTORE_POINT_VERSIONS,
    "2020-12-01", "2020-06-01", "2019-12-01", "2019-07-01", "2019-03-01", "2018-10-01",
    "2018-06-01", "2018-04-01", "2017-12-01", "2017-03-30",
)  # fmt: skip
# Disk RP versions (disks, diskRestorePoints), newest first.
DISK_VERSIONS: tuple[str, ...] = (
    "2026-03-02", "2025-01-02", "2024-03-02", "2023-10-02", "2023-04-02", "2023-01-02",
    "2022-07-02", "2022-03-02", "2021-12-01", "2021-08-01", "2021-04-01", "2020-12-01",
    "2020-09-30",
)  # fmt: skip
RESOURCES_VERSIONS: tuple[str, ...] = (
    "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-09-01",
    "2021-04-01", "2021-01-01", "2020-10-01", "2020-06-01", "2019-10-01", "2019-05-10",
    "2018-05-01", "2017-05-10", "2016-09-01", "2016-02-01", "2015-11-01", "2014-04-01",
)  # fmt: skip
SUBSCRIPTION_VERSIONS: tuple[str, ...] = ("2022-12-01", "2021-01-01", "2020-01-01", "2016-06-01")
OPERATION_VERSIONS: tuple[str, ...] = (*VM_VERSIONS, *DISK_VERSIONS)

COPY_MIN_VERSION = "2022-03-01"  # "This request can be made with api-version '2022-03-01' or newer"
CRASH_CONSISTENT_MIN_VERSION = "2021-07-01"
INSTANT_ACCESS_MIN_VERSION = "2025-04-01"
CROSS_REGION_CREATION_MIN_VERSION = "2021-07-01"  # arm-contract §14 [DOC]

# The api-versions the app pins (shared/settings.py ARM_API_VERSION; disks: the app calls none,
# tests and docs use this one). The SDK's defaults are the newest of each family.
APP_COMPUTE_VERSION = "2025-04-01"
APP_DISK_VERSION = "2025-01-02"
NEWEST_COMPUTE_VERSION = RESTORE_POINT_VERSIONS[0]
NEWEST_DISK_VERSION = DISK_VERSIONS[0]

# feature -> (first version, last version or None = still there). Compute features apply to
# Compute bodies, `drp.*` ones to Disk RP bodies.
FEATURES: dict[str, tuple[str, str | None]] = {
    # RestorePointProperties
    "rp.sourceRestorePoint": ("2021-11-01", None),
    "rp.instanceView": ("2021-11-01", None),
    "rp.instantAccessDurationMinutes": ("2025-04-01", None),
    "rp.instantAccessStatus": ("2025-11-01", "2025-11-01"),  # gone again in 2026-03-01
    # RestorePointSourceMetadata and its storage profile
    "meta.userData": ("2022-11-01", None),
    "meta.hyperVGeneration": ("2023-03-01", None),
    "meta.diskControllerType": ("2023-09-01", None),
    "meta.writeAcceleratorEnabled": ("2023-03-01", None),
    # diskRestorePoint became DiskRestorePointAttributes {id, encryption, sourceDiskRestorePoint}
    "meta.diskRestorePointAttributes": ("2023-03-01", None),
    # instance view
    "iv.completionPercent": ("2022-03-01", None),
    "iv.snapshotAccessState": ("2025-04-01", None),
    # RestorePointCollectionProperties
    "rpc.instantAccess": ("2025-04-01", None),
    # DiskRestorePointProperties (Disk RP versions)
    "drp.networkAccess": ("2021-04-01", None),  # networkAccessPolicy, publicNetworkAccess
    "drp.completionPercent": ("2021-04-01", None),
    "drp.replication": ("2021-08-01", None),  # replicationState, sourceResourceLocation
    "drp.logicalSectorSize": ("2024-03-02", None),
    "drp.snapshotAccessState": ("2026-03-02", None),
}

_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")

# Microsoft.Authorization permissions (GET {scope}/providers/Microsoft.Authorization/permissions).
AUTHORIZATION_VERSIONS = ("2015-07-01", "2018-01-01-preview", "2022-04-01")

FAMILIES: dict[str, tuple[str, ...]] = {
    "compute": RESTORE_POINT_VERSIONS,
    "vm": VM_VERSIONS,
    "disk": DISK_VERSIONS,
    "resources": RESOURCES_VERSIONS,
    "subscription": SUBSCRIPTION_VERSIONS,
    "operation": OPERATION_VERSIONS,
    "authorization": AUTHORIZATION_VERSIONS,
}
_SETS = {name: frozenset(values) for name, values in FAMILIES.items()}


def is_supported(family: str, version: str) -> bool:
    return version in _SETS[family]


def well_formed(version: str) -> bool:
    return bool(_SHAPE.match(version))


def at_least(version: str, minimum: str) -> bool:
    # ISO dates compare correctly as strings.
    return version[:10] >= minimum


def has(feature: str, version: str) -> bool:
    """Whether bodies of `version` have `feature` (an empty version: the newest Compute one)."""
    return feature in shape(version)


@lru_cache(maxsize=64)
def shape(version: str) -> frozenset[str]:
    """The features of one api-version: also the part of a cache key the version decides."""
    day = (version or NEWEST_COMPUTE_VERSION)[:10]
    return frozenset(
        name
        for name, (first, last) in FEATURES.items()
        if day >= first and (last is None or day <= last)
    )
