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
}

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
TARGET_OPERATIONS = frozenset(
    {
        ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
        ArmOperation.RESTORE_POINT_COLLECTIONS_CREATE_OR_UPDATE,
        ArmOperation.RESTORE_POINTS_GET,
        ArmOperation.RESTORE_POINTS_CREATE,
        ArmOperation.RESTORE_POINTS_DELETE,
        ArmOperation.OPERATIONS_GET,
    }
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
