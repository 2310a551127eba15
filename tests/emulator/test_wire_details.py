"""Wire details as the recorded Azure answers show them (arm-contract §2-§3, the Azure CLI
recording of a restore point create and copy at api-version 2023-07-01)."""

from __future__ import annotations

from typing import Any

from arm_emulator.scenarios import DiskSpec, Scenario

from .conftest import DISK_API, SUB, Arm, rp_path, rpc_path, standard_scenario

AUTH = {"Authorization": "Bearer t"}
PMK = {"type": "EncryptionAtRestWithPlatformKey"}
NOT_FOUND = {"code": "NotFound", "message": "The entity was not found in this Azure location."}


def storage_disks(props: dict[str, Any]) -> list[dict[str, Any]]:
    storage = props["sourceMetadata"]["storageProfile"]
    return [storage["osDisk"], *storage["dataDisks"]]


async def test_restore_point_delete_headers(arm: Arm) -> None:
    r = await arm.delete(rp_path("rpc1", "rp1"))
    assert r.status_code == 202
    assert "retry-after" not in r.headers
    assert r.headers["azure-asyncnotification"] == "Enabled"
    assert "/operations/" in r.headers["azure-asyncoperation"]
    assert r.headers["location"].endswith("&monitor=true")
    again = await arm.delete(rp_path("rpc1", "rp1"))  # still running: the same operation
    assert again.status_code == 202
    assert "retry-after" not in again.headers
    assert again.headers["azure-asyncnotification"] == "Enabled"


async def test_collection_delete_has_async_notification(arm: Arm) -> None:
    r = await arm.delete(rpc_path("rpc1"))
    assert r.status_code == 202
    assert r.headers["azure-asyncnotification"] == "Enabled"


async def test_disk_put_is_polled_under_disk_operations(arm: Arm) -> None:
    rp = (await arm.get(rp_path("rpc1", "rp1"), params={"$expand": "instanceView"})).json()
    drp_id = rp["properties"]["instanceView"]["diskRestorePoints"][0]["id"]
    body = {
        "location": "eastus",
        "properties": {"creationData": {"createOption": "Restore", "sourceResourceId": drp_id}},
    }
    disk = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/restored"
    r = await arm.put(disk, body, api=DISK_API)
    assert r.status_code == 202, r.text
    assert "retry-after" not in r.headers
    url = r.headers["azure-asyncoperation"]
    assert "/providers/Microsoft.Compute/locations/eastus/DiskOperations/" in url
    status = (await arm.client.get(url, headers=AUTH)).json()
    assert status["status"] == "InProgress"
    assert "properties" not in status
    await arm.advance(10)
    status = (await arm.client.get(url, headers=AUTH)).json()
    assert status["status"] == "Succeeded"
    output = status["properties"]["output"]
    assert output["id"] == disk
    assert output["properties"]["provisioningState"] == "Succeeded"
    assert output["properties"]["creationData"]["sourceResourceId"] == drp_id
    final = await arm.client.get(r.headers["location"], headers=AUTH)
    assert (final.status_code, final.json()["id"]) == (200, disk)


async def test_creating_bodies_have_no_disk_restore_point_ids(arm: Arm) -> None:
    local = (await arm.put(rp_path("rpc1", "rp9"), {})).json()["properties"]
    assert local["provisioningState"] == "Creating"
    assert all("diskRestorePoint" not in d for d in storage_disks(local))
    assert "consistencyMode" not in local  # only once created
    await arm.target_rpc()
    copy = (await arm.copy("rp1")).json()["properties"]
    assert copy["provisioningState"] == "Creating"
    assert all("diskRestorePoint" not in d for d in storage_disks(copy))
    assert copy["consistencyMode"] == "FileSystemConsistent"  # the source's, from the start
    assert list(copy)[-4:] == [
        "provisioningState",
        "consistencyMode",
        "sourceRestorePoint",
        "timeCreated",
    ]  # the recorded order


async def test_succeeded_restore_points_show_every_disks_encryption(arm: Arm) -> None:
    await arm.put(rp_path("rpc1", "rp9"), {})
    await arm.advance(35)
    local = (await arm.get(rp_path("rpc1", "rp9"))).json()["properties"]
    assert local["consistencyMode"] == "FileSystemConsistent"
    points = [d["diskRestorePoint"] for d in storage_disks(local)]
    assert len(points) == 3
    for point in points:
        assert list(point) == ["encryption", "id"]
        assert point["encryption"] == PMK
    seeded = (await arm.get(rp_path("rpc1", "rp1"))).json()["properties"]
    assert all(d["diskRestorePoint"]["encryption"] == PMK for d in storage_disks(seeded))
    await arm.target_rpc()
    await arm.copy("rp1")
    await arm.advance(7)
    copy = (await arm.get(rp_path("rpc1-dr", "rp1-copy"))).json()["properties"]
    for point in (d["diskRestorePoint"] for d in storage_disks(copy)):
        assert list(point) == ["sourceDiskRestorePoint", "encryption", "id"]
        assert point["encryption"] == PMK


async def test_source_metadata_has_the_fields_azure_sends(make_arm) -> None:
    plain = Scenario(SUB).vm("vm1", os_disk=DiskSpec(size_gb=30, used_gb=2))
    plain.collection("rpc1", vm="vm1").restore_point("rp1", "rpc1")
    arm = await make_arm(plain)
    meta = (await arm.get(rp_path("rpc1", "rp1"))).json()["properties"]["sourceMetadata"]
    assert list(meta) == [
        "vmId",
        "location",
        "hardwareProfile",
        "storageProfile",
        "osProfile",
        "hyperVGeneration",
    ]  # as recorded; no diagnosticsProfile for a VM without boot diagnostics
    assert list(meta["storageProfile"]["osDisk"]) == [
        "osType",
        "name",
        "diskSizeGB",
        "caching",
        "managedDisk",
        "diskRestorePoint",
    ]
    rich = Scenario(SUB).vm(
        "vm2",
        os_disk=DiskSpec(size_gb=30, used_gb=2),
        data_disks=[DiskSpec(lun=0, write_accelerator=True)],
        bootDiagnostics=True,
        userData="dXNlcg==",
        securityType="TrustedLaunch",
        licenseType="Windows_Server",
        diskControllerType="NVMe",
    )
    rich.collection("rpc2", vm="vm2").restore_point("rp1", "rpc2")
    arm = await make_arm(rich)
    meta = (await arm.get(rp_path("rpc2", "rp1"))).json()["properties"]["sourceMetadata"]
    assert list(meta) == [
        "vmId",
        "location",
        "hardwareProfile",
        "storageProfile",
        "osProfile",
        "diagnosticsProfile",
        "licenseType",
        "securityProfile",
        "userData",
        "hyperVGeneration",
    ]
    assert meta["storageProfile"]["diskControllerType"] == "NVMe"
    assert meta["storageProfile"]["dataDisks"][0]["writeAcceleratorEnabled"] is True
    assert "writeAcceleratorEnabled" not in meta["storageProfile"]["osDisk"]  # only when set


async def test_missing_nested_resources_get_computes_answer(arm: Arm) -> None:
    r = await arm.get(rp_path("rpc1", "nope"))
    assert (r.status_code, r.json()["error"]) == (404, NOT_FOUND)
    r = await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints/nope", api=DISK_API)
    assert (r.status_code, r.json()["error"]) == (404, NOT_FOUND)
    r = await arm.get(rp_path("nope", "rp1"))  # a missing parent is still ARM's answer
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ParentResourceNotFound")


async def test_local_create_takes_as_long_as_azure(make_arm) -> None:
    arm = await make_arm(standard_scenario())
    status = {}
    for name, body in (
        ("app", {}),
        ("crash", {"properties": {"consistencyMode": "CrashConsistent"}}),
    ):
        r = await arm.put(rp_path("rpc1", name), body)
        assert r.status_code == 201, r.text
        status[name] = r.headers["azure-asyncoperation"]
        if name == "app":
            await arm.advance(34)
            assert (await arm.client.get(status[name], headers=AUTH)).json()["status"] == (
                "InProgress"
            )
            await arm.advance(1)  # recorded: ~35 s for an application-consistent create
            assert (await arm.client.get(status[name], headers=AUTH)).json()["status"] == (
                "Succeeded"
            )
    await arm.advance(179)
    assert (await arm.client.get(status["crash"], headers=AUTH)).json()["status"] == "InProgress"
    await arm.advance(1)  # about 3 minutes for a crash-consistent one
    assert (await arm.client.get(status["crash"], headers=AUTH)).json()["status"] == "Succeeded"


async def test_create_durations_are_configurable(make_arm) -> None:
    arm = await make_arm(
        standard_scenario(), local_create_seconds=1, crash_consistent_create_seconds=2
    )
    r = await arm.put(rp_path("rpc1", "c"), {"properties": {"consistencyMode": "CrashConsistent"}})
    await arm.advance(2)
    assert (await arm.client.get(r.headers["azure-asyncoperation"], headers=AUTH)).json()[
        "status"
    ] == "Succeeded"
