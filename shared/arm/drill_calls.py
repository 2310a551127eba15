"""The ARM calls of a restore drill, and the readers of their bodies.

Disks and disk restore points are Disk RP resources: they take the Disk RP api-version, a
different series from the Compute one the restore point calls use (reference §2.4). A disk's
create and delete report under `locations/{region}/DiskOperations`, polled as
`DiskOperations_Get`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from shared.arm.client import ArmClient, ArmResponse
from shared.arm.operations import ArmOperation
from shared.errors import ArmError

# The Disk RP api-version the app pins for disks and disk restore points.
DISK_API_VERSION = "2025-01-02"
# How long a drill's read SAS lives; it is revoked as soon as the read is done.
SAS_SECONDS = 900


@dataclass(frozen=True)
class RestorableDisk:
    """One disk restore point of a restore point, as its `storageProfile` names it."""

    disk_restore_point_id: str
    lun: int | None  # None: the OS disk
    size_gb: int | None  # the source disk's size, when the restore point says it


@dataclass(frozen=True)
class DiskView:
    id: str
    location: str
    provisioning_state: str | None
    size_gb: int | None
    source_resource_id: str | None
    tags: Mapping[str, str]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def restorable_disks(restore_point_body: Any) -> tuple[RestorableDisk, ...]:
    """The disk restore points of a restore point GET body (OS disk first, then by lun)."""
    profile = _mapping(
        _mapping(
            _mapping(_mapping(restore_point_body).get("properties")).get("sourceMetadata")
        ).get("storageProfile")
    )
    entries: list[tuple[Mapping[str, Any], int | None]] = []
    if profile.get("osDisk"):
        entries.append((_mapping(profile.get("osDisk")), None))
    data = profile.get("dataDisks")
    for entry in data if isinstance(data, list) else []:
        entries.append((_mapping(entry), _int(_mapping(entry).get("lun"))))
    found: list[RestorableDisk] = []
    for entry, lun in entries:
        drp_id = _mapping(entry.get("diskRestorePoint")).get("id")
        if isinstance(drp_id, str) and drp_id:
            found.append(RestorableDisk(drp_id, lun, _int(entry.get("diskSizeGB"))))
    return tuple(found)


def disk_view(body: Any) -> DiskView:
    body = _mapping(body)
    props = _mapping(body.get("properties"))
    creation = _mapping(props.get("creationData"))
    tags = {str(k): str(v) for k, v in _mapping(body.get("tags")).items()}
    state = props.get("provisioningState")
    source = creation.get("sourceResourceId")
    return DiskView(
        id=str(body.get("id") or ""),
        location=str(body.get("location") or "").replace(" ", "").lower(),
        provisioning_state=state if isinstance(state, str) else None,
        size_gb=_int(props.get("diskSizeGB")),
        source_resource_id=source if isinstance(source, str) else None,
        tags=tags,
    )


def restore_disk_body(region: str, disk_restore_point_id: str, tags: Mapping[str, str]) -> dict:
    return {
        "location": region,
        "tags": dict(tags),
        "properties": {
            "creationData": {"createOption": "Restore", "sourceResourceId": disk_restore_point_id}
        },
    }


class DrillArm:
    """Thin calls over the shared ARM client (which keeps the token on the ARM origin)."""

    def __init__(self, arm: ArmClient) -> None:
        self.arm = arm

    async def create_disk(
        self, disk_id: str, region: str, disk_restore_point_id: str, tags: Mapping[str, str]
    ) -> ArmResponse:
        """Start the create (idempotent: the same PUT again answers the disk as it is)."""
        return await self.arm.put(
            disk_id,
            restore_disk_body(region, disk_restore_point_id, tags),
            operation=ArmOperation.DISKS_CREATE_OR_UPDATE,
            api_version=DISK_API_VERSION,
        )

    async def get_disk(self, disk_id: str) -> DiskView | None:
        body = await self.arm.get_or_none(
            disk_id, operation=ArmOperation.DISKS_GET, api_version=DISK_API_VERSION
        )
        return None if body is None else disk_view(body)

    async def delete_disk(self, disk_id: str) -> None:
        """Delete and wait until it is gone (404 or 204: already gone)."""
        response = await self.arm.request(
            "DELETE",
            disk_id,
            operation=ArmOperation.DISKS_DELETE,
            api_version=DISK_API_VERSION,
            accept_status=(404,),
        )
        if response.status in (204, 404):
            return
        result = await self.arm.wait_for_completion(
            "DELETE",
            disk_id,
            response,
            operation=ArmOperation.DISKS_GET,
            poll_operation=ArmOperation.DISK_OPERATIONS_GET,
        )
        if not result.succeeded:
            raise result.error or ArmError(
                "the disk delete failed", code="DeleteFailed", operation=ArmOperation.DISKS_DELETE
            )

    async def list_disks(
        self, subscription_id: str, resource_group: str
    ) -> AsyncIterator[DiskView]:
        url = (
            f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
            "/providers/Microsoft.Compute/disks"
        )
        async for body in self.arm.list_all(
            url,
            operation=ArmOperation.DISKS_LIST_BY_RESOURCE_GROUP,
            params={"api-version": DISK_API_VERSION},
        ):
            yield disk_view(body)

    async def open_read_access(self, disk_restore_point_id: str) -> str:
        """beginGetAccess (Read) and wait for the SAS URL. The URL is a secret: never log it."""
        response = await self.arm.request(
            "POST",
            f"{disk_restore_point_id}/beginGetAccess",
            operation=ArmOperation.DISK_RESTORE_POINT_GRANT_ACCESS,
            json={"access": "Read", "durationInSeconds": SAS_SECONDS},
            api_version=DISK_API_VERSION,
        )
        body: Mapping[str, Any] = response.json
        if response.status == 202:
            # final-state-via: location: the AccessUri is the Location's final answer.
            result = await self.arm.wait_for_completion(
                "POST",
                disk_restore_point_id,
                response,
                operation=ArmOperation.DISK_RESTORE_POINT_GRANT_ACCESS,
                location_only=bool(response.headers.get("location")),
            )
            if not result.succeeded:
                raise result.error or ArmError(
                    "beginGetAccess failed",
                    code="GrantAccessFailed",
                    operation=ArmOperation.DISK_RESTORE_POINT_GRANT_ACCESS,
                )
            body = result.body
        sas = body.get("accessSAS")
        if not isinstance(sas, str) or not sas:
            output = _mapping(_mapping(body.get("properties")).get("output"))
            sas = output.get("accessSAS")
        if not isinstance(sas, str) or not sas:
            raise ArmError(
                "beginGetAccess answered no accessSAS",
                code="NoAccessSAS",
                operation=ArmOperation.DISK_RESTORE_POINT_GRANT_ACCESS,
            )
        return sas

    async def close_read_access(self, disk_restore_point_id: str) -> None:
        response = await self.arm.request(
            "POST",
            f"{disk_restore_point_id}/endGetAccess",
            operation=ArmOperation.DISK_RESTORE_POINT_REVOKE_ACCESS,
            api_version=DISK_API_VERSION,
            accept_status=(404,),
        )
        if response.status == 202:
            result = await self.arm.wait_for_completion(
                "POST",
                disk_restore_point_id,
                response,
                operation=ArmOperation.DISK_RESTORE_POINT_REVOKE_ACCESS,
                location_only=bool(response.headers.get("location")),
            )
            if not result.succeeded:
                raise result.error or ArmError(
                    "endGetAccess failed",
                    code="RevokeAccessFailed",
                    operation=ArmOperation.DISK_RESTORE_POINT_REVOKE_ACCESS,
                )
