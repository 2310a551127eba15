"""Every ARM operation the app can call, and the RBAC action each one needs.

This table is the single source of the deployed identity's permissions: the custom role in
`infra/` must hold exactly `required_actions()`, and a test keeps the two equal. The ARM client
accepts only operations named here, so a new ARM call cannot ship without its permission.
Operation names follow the REST spec's operationIds.
"""

from __future__ import annotations

from enum import StrEnum


class ArmOperation(StrEnum):
    RESTORE_POINT_COLLECTIONS_GET = "RestorePointCollections_Get"
    RESTORE_POINT_COLLECTIONS_LIST_ALL = "RestorePointCollections_ListAll"
    RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE = "RestorePointCollections_CreateOrUpdate"
    RESTORE_POINTS_GET = "RestorePoints_Get"
    RESTORE_POINTS_CREATE = "RestorePoints_Create"
    RESTORE_POINTS_DELETE = "RestorePoints_Delete"
    # Polling an Azure-AsyncOperation / Location URL of a Compute long-running operation.
    OPERATIONS_GET = "Operations_Get"
    # Preflight: the identity's own permissions at a scope, and whether a resource group exists.
    PERMISSIONS_LIST = "Permissions_ListForResourceGroup"
    RESOURCE_GROUPS_GET = "ResourceGroups_Get"
    # Create-in-target requests over HTTP: the VM exists and is in another region.
    VIRTUAL_MACHINES_GET = "VirtualMachines_Get"
    # Preflight: a policy's disk encryption set exists and is in its target region. Azure's
    # linked-access check needs the same read on the set for every copy that names it.
    DISK_ENCRYPTION_SETS_GET = "DiskEncryptionSets_Get"
    # Restore drills (shared/arm/drill_calls.py): disks from disk restore points, their SAS.
    DISKS_CREATE_OR_UPDATE = "Disks_CreateOrUpdate"
    DISKS_GET = "Disks_Get"
    DISKS_DELETE = "Disks_Delete"
    DISKS_LIST_BY_RESOURCE_GROUP = "Disks_ListByResourceGroup"
    DISK_RESTORE_POINT_GRANT_ACCESS = "DiskRestorePoint_GrantAccess"
    DISK_RESTORE_POINT_REVOKE_ACCESS = "DiskRestorePoint_RevokeAccess"
    # Polling a disk operation (its status URL is under locations/{region}/DiskOperations).
    DISK_OPERATIONS_GET = "DiskOperations_Get"


# operation -> the RBAC action Azure checks for it.
ACTIONS: dict[ArmOperation, str] = {
    ArmOperation.RESTORE_POINT_COLLECTIONS_GET: "Microsoft.Compute/restorePointCollections/read",
    ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL: (
        "Microsoft.Compute/restorePointCollections/read"
    ),
    ArmOperation.RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE: (
        "Microsoft.Compute/restorePointCollections/write"
    ),
    ArmOperation.RESTORE_POINTS_GET: "Microsoft.Compute/restorePointCollections/restorePoints/read",
    ArmOperation.RESTORE_POINTS_CREATE: (
        "Microsoft.Compute/restorePointCollections/restorePoints/write"
    ),
    ArmOperation.RESTORE_POINTS_DELETE: (
        "Microsoft.Compute/restorePointCollections/restorePoints/delete"
    ),
    ArmOperation.OPERATIONS_GET: "Microsoft.Compute/locations/operations/read",
    ArmOperation.PERMISSIONS_LIST: "Microsoft.Authorization/permissions/read",
    ArmOperation.RESOURCE_GROUPS_GET: "Microsoft.Resources/subscriptions/resourceGroups/read",
    ArmOperation.VIRTUAL_MACHINES_GET: "Microsoft.Compute/virtualMachines/read",
    ArmOperation.DISK_ENCRYPTION_SETS_GET: "Microsoft.Compute/diskEncryptionSets/read",
    ArmOperation.DISKS_CREATE_OR_UPDATE: "Microsoft.Compute/disks/write",
    ArmOperation.DISKS_GET: "Microsoft.Compute/disks/read",
    ArmOperation.DISKS_DELETE: "Microsoft.Compute/disks/delete",
    ArmOperation.DISKS_LIST_BY_RESOURCE_GROUP: "Microsoft.Compute/disks/read",
    ArmOperation.DISK_RESTORE_POINT_GRANT_ACCESS: (
        "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/"
        "beginGetAccess/action"
    ),
    ArmOperation.DISK_RESTORE_POINT_REVOKE_ACCESS: (
        "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/"
        "endGetAccess/action"
    ),
    ArmOperation.DISK_OPERATIONS_GET: "Microsoft.Compute/locations/DiskOperations/read",
}

# Restore drills work in the target scopes (the drill resource group is in the target's
# subscription): disks there, and read access to the copies' disk restore points.
DRILL_OPERATIONS = frozenset(
    {
        ArmOperation.RESTORE_POINTS_GET,
        ArmOperation.DISKS_CREATE_OR_UPDATE,
        ArmOperation.DISKS_GET,
        ArmOperation.DISKS_DELETE,
        ArmOperation.DISKS_LIST_BY_RESOURCE_GROUP,
        ArmOperation.DISK_RESTORE_POINT_GRANT_ACCESS,
        ArmOperation.DISK_RESTORE_POINT_REVOKE_ACCESS,
        ArmOperation.OPERATIONS_GET,
        ArmOperation.DISK_OPERATIONS_GET,
    }
)


# What the copy pipeline needs where (the preflight checks each scope for its share): source
# scopes are read; target scopes get the collections and copies the app creates and prunes.
SOURCE_OPERATIONS = frozenset(
    {
        ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
        ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL,
        ArmOperation.RESTORE_POINTS_GET,
        ArmOperation.VIRTUAL_MACHINES_GET,
    }
)
TARGET_OPERATIONS = (
    frozenset(
        {
            ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
            ArmOperation.RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE,
            ArmOperation.RESTORE_POINTS_GET,
            ArmOperation.RESTORE_POINTS_CREATE,
            ArmOperation.RESTORE_POINTS_DELETE,
            ArmOperation.OPERATIONS_GET,
        }
    )
    | DRILL_OPERATIONS
)

# Scheduled creation (docs/policies.md, `create`): the source scopes of such policies also get
# restore points written (created) and deleted (source retention), through long-running calls.
CREATE_OPERATIONS = frozenset(
    {
        ArmOperation.RESTORE_POINTS_CREATE,
        ArmOperation.RESTORE_POINTS_DELETE,
        ArmOperation.OPERATIONS_GET,
    }
)


def actions_for(operations: frozenset[ArmOperation]) -> list[str]:
    return sorted({ACTIONS[op] for op in operations})


def required_actions() -> list[str]:
    """The sorted, de-duplicated actions the deployed identity needs."""
    return sorted(set(ACTIONS.values()))
