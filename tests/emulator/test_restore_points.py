"""Local restore points, the RP LRO protocol, disk restore points, SAS access, restoring a disk."""

from __future__ import annotations

import re

from arm_emulator.scenarios import DiskSpec, Scenario

from .conftest import API, BASE, DISK_API, SUB, Arm, rp_path, rpc_path, standard_scenario

OP_URL = re.compile(
    r"^http://arm\.test/subscriptions/[0-9a-f-]{36}/providers/Microsoft\.Compute/locations/"
    r"(?P<region>[a-z0-9]+)/operations/[0-9a-f-]{36}\?p=[0-9a-f-]{36}&api-version=(?P<v>[\d-]+)$"
)


async def op_status(arm: Arm, url: str) -> dict:
    r = await arm.client.get(url, headers={"Authorization": "Bearer t"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_local_create_lro(arm: Arm) -> None:
    r = await arm.put(rp_path("rpc1", "rp4"), {})
    assert r.status_code == 201, r.text
    body = r.json()
    assert list(body) == ["name", "id", "properties"]
    assert body["properties"]["provisioningState"] == "Creating"
    # No consistencyMode until the restore point is created [WIRE]
    assert "consistencyMode" not in body["properties"]
    m = OP_URL.match(r.headers["azure-asyncoperation"])
    assert m
    assert m["region"] == "eastus"
    assert m["v"] == API
    assert r.headers["azure-asyncnotification"] == "Enabled"
    assert "location" not in r.headers
    assert "retry-after" not in r.headers  # as recorded
    status = await op_status(arm, r.headers["azure-asyncoperation"])
    assert status["status"] == "InProgress"
    assert "endTime" not in status
    assert "id" not in status
    await arm.advance(35)
    status = await op_status(arm, r.headers["azure-asyncoperation"])
    assert status["status"] == "Succeeded"
    assert "endTime" in status
    r = await arm.get(rp_path("rpc1", "rp4"))
    assert r.json()["properties"]["provisioningState"] == "Succeeded"
    assert r.json()["properties"]["consistencyMode"] == "FileSystemConsistent"  # Linux default


async def test_location_header_flag(make_arm) -> None:
    arm = await make_arm(standard_scenario(), rp_put_location_header=True)
    r = await arm.put(rp_path("rpc1", "rp9"), {})
    location = r.headers["location"]
    assert "monitor=true" in location
    assert "retry-after" in r.headers
    poll = await arm.client.get(location, headers={"Authorization": "Bearer t"})
    assert poll.status_code == 202
    await arm.advance(40)
    poll = await arm.client.get(location, headers={"Authorization": "Bearer t"})
    assert poll.status_code == 200
    assert poll.json()["name"] == "rp9"


async def test_re_put_is_idempotent_update_is_refused(arm: Arm) -> None:
    first = await arm.put(rp_path("rpc1", "rp4"), {})
    again = await arm.put(rp_path("rpc1", "rp4"), {})
    assert again.status_code == 201
    assert again.headers["azure-asyncoperation"] == first.headers["azure-asyncoperation"]
    r = await arm.put(
        rp_path("rpc1", "rp4"), {"properties": {"consistencyMode": "CrashConsistent"}}
    )
    assert r.status_code == 409
    assert r.json()["error"]["message"] == (
        "Updating properties of an existing restore point is not allowed"
    )


async def test_concurrent_create_on_same_vm_refused(arm: Arm) -> None:
    assert (await arm.put(rp_path("rpc1", "rp4"), {})).status_code == 201
    r = await arm.put(rp_path("rpc1", "rp5"), {})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "VMRestorePointClientError")
    await arm.advance(35)
    assert (await arm.put(rp_path("rpc1", "rp5"), {})).status_code == 201


async def test_exclude_disks_and_consistency_mode(arm: Arm) -> None:
    vm = (
        await arm.get(
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
        )
    ).json()
    lun1 = vm["properties"]["storageProfile"]["dataDisks"][1]["managedDisk"]["id"]
    body = {"properties": {"excludeDisks": [{"id": lun1}], "consistencyMode": "CrashConsistent"}}
    r = await arm.put(rp_path("rpc1", "rp4"), body)
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert "consistencyMode" not in props  # reported once created [WIRE]
    assert props["excludeDisks"] == [{"id": lun1}]
    luns = [d["lun"] for d in props["sourceMetadata"]["storageProfile"]["dataDisks"]]
    assert luns == [0]
    await arm.advance(180)  # a crash-consistent create takes about 3 minutes
    got = (await arm.get(rp_path("rpc1", "rp4"))).json()["properties"]
    assert (got["provisioningState"], got["consistencyMode"]) == ("Succeeded", "CrashConsistent")
    r = await arm.put(
        rp_path("rpc1", "rp5"), {"properties": {"consistencyMode": "ApplicationConsistent"}}
    )
    assert r.status_code == 400  # only CrashConsistent is accepted as input [SPEC]
    r = await arm.put(rp_path("rpc1", "rp5"), {"properties": {"consistencyMode": "Bogus"}})
    assert r.status_code == 400
    other = lun1.replace("vm1_DataDisk_1", "elsewhere")
    r = await arm.put(rp_path("rpc1", "rp5"), {"properties": {"excludeDisks": [{"id": other}]}})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "InvalidParameter")
    r = await arm.put(
        rp_path("rpc1", "rp5"),
        {"properties": {"consistencyMode": "CrashConsistent"}},
        api="2021-04-01",
    )
    assert r.status_code == 400


async def test_unsupported_disks_refused_unless_excluded(make_arm) -> None:
    s = Scenario(SUB).vm(
        "vm1",
        os_disk=DiskSpec(size_gb=30, ephemeral=True),
        data_disks=[
            DiskSpec(lun=0, sku="UltraSSD_LRS"),
            DiskSpec(lun=1, max_shares=2),
            DiskSpec(lun=2, sku="PremiumV2_LRS"),
        ],
    )
    s.collection("rpc1", vm="vm1")
    arm = await make_arm(s)
    r = await arm.put(rp_path("rpc1", "a"), {})
    err = r.json()["error"]
    assert (r.status_code, err["code"]) == (400, "OperationNotAllowed")
    assert "Please exclude these disk(s) using excludeDisks" in err["message"]
    assert "ephemeral" in err["message"]
    assert "shared" in err["message"]
    vm = (await arm.get(s.vm_id("vm1"))).json()["properties"]["storageProfile"]
    os_id = vm["osDisk"]["managedDisk"]["id"]
    shared = vm["dataDisks"][1]["managedDisk"]["id"]
    ultra = vm["dataDisks"][0]["managedDisk"]["id"]
    ok = {"properties": {"excludeDisks": [{"id": os_id}, {"id": shared}]}}
    r = await arm.put(rp_path("rpc1", "a"), ok)
    assert r.status_code == 201, r.text  # Ultra/PremiumV2 fine for application-consistent
    await arm.advance(40)
    crash = {
        "properties": {
            "excludeDisks": [{"id": os_id}, {"id": shared}],
            "consistencyMode": "CrashConsistent",
        }
    }
    r = await arm.put(rp_path("rpc1", "b"), crash)
    assert r.status_code == 400
    assert "UltraSSD_LRS" in r.json()["error"]["message"]
    crash["properties"]["excludeDisks"] += [
        {"id": ultra},
        {"id": vm["dataDisks"][2]["managedDisk"]["id"]},
    ]
    assert (await arm.put(rp_path("rpc1", "b"), crash)).status_code == 201


async def test_per_vm_limit(make_arm) -> None:
    arm = await make_arm(standard_scenario(3), max_restore_points_per_vm=3)
    r = await arm.put(rp_path("rpc1", "rp4"), {})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "VMRestorePointClientError")


async def test_rp_delete_lro(arm: Arm) -> None:
    r = await arm.delete(rp_path("rpc1", "rp1"))
    assert r.status_code == 202
    assert "location" in r.headers
    assert "azure-asyncoperation" in r.headers
    assert (await arm.get(rp_path("rpc1", "rp1"))).json()["properties"][
        "provisioningState"
    ] == "Deleting"
    await arm.advance(15)
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 404
    assert (await arm.delete(rp_path("rpc1", "rp1"))).status_code == 204


async def test_disk_restore_points_get_list_and_access(arm: Arm) -> None:
    listing = await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api=DISK_API)
    assert listing.status_code == 200
    drps = listing.json()["value"]
    assert len(drps) == 3
    drp = drps[0]
    assert list(drp) == ["id", "name", "properties"]
    assert drp["properties"]["sourceResourceId"].endswith(
        "_OsDisk_1_" + drp["properties"]["sourceResourceId"].rsplit("_", 1)[1]
    )
    assert "replicationState" not in drp["properties"]  # only for a different-region source
    r = await arm.get(drp["id"], api=DISK_API)
    assert r.status_code == 200
    assert r.json()["name"] == drp["name"]
    grant = await arm.post(
        drp["id"] + "/beginGetAccess", {"access": "Read", "durationInSeconds": 3600}, api=DISK_API
    )
    assert grant.status_code == 202
    location = grant.headers["location"]
    assert (
        await arm.client.get(location, headers={"Authorization": "Bearer t"})
    ).status_code == 202
    await arm.advance(5)
    done = await arm.client.get(location, headers={"Authorization": "Bearer t"})
    assert done.status_code == 200
    sas = done.json()["accessSAS"]
    assert sas.startswith(BASE + "/_sas/")  # served by the emulator itself (sas.py)
    assert "sig=" in sas
    status = await op_status(arm, grant.headers["azure-asyncoperation"])
    assert status["properties"]["output"]["accessSAS"] == sas
    # Delete is blocked while a SAS is active.
    r = await arm.delete(rp_path("rpc1", "rp1"))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "DiskRestorePointUsedByCustomer")
    r = await arm.delete(rpc_path("rpc1"))
    assert r.json()["error"]["code"] == "DiskRestorePointUsedByCustomer"
    # Granting again while active returns the same URL.
    again = await arm.post(
        drp["id"] + "/beginGetAccess", {"access": "Read", "durationInSeconds": 3600}, api=DISK_API
    )
    await arm.advance(5)
    r = await arm.client.get(again.headers["location"], headers={"Authorization": "Bearer t"})
    assert r.json()["accessSAS"] == sas
    end = await arm.post(drp["id"] + "/endGetAccess", None, api=DISK_API)
    assert end.status_code == 202
    await arm.advance(5)
    assert (
        await arm.client.get(end.headers["location"], headers={"Authorization": "Bearer t"})
    ).status_code == 200
    assert (await arm.delete(rp_path("rpc1", "rp1"))).status_code == 202


async def test_sas_expires_on_the_clock(arm: Arm) -> None:
    drp = (await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api=DISK_API)).json()[
        "value"
    ][0]
    await arm.post(
        drp["id"] + "/beginGetAccess", {"access": "Read", "durationInSeconds": 60}, api=DISK_API
    )
    await arm.advance(5)
    assert (await arm.delete(rp_path("rpc1", "rp1"))).status_code == 409
    await arm.advance(120)
    assert (await arm.delete(rp_path("rpc1", "rp1"))).status_code == 202


async def test_restore_a_disk_from_a_disk_restore_point(arm: Arm) -> None:
    drp = (await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api=DISK_API)).json()[
        "value"
    ][1]
    disk_path = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/restored"
    body = {
        "location": "eastus",
        "properties": {"creationData": {"createOption": "Restore", "sourceResourceId": drp["id"]}},
    }
    r = await arm.put(disk_path, body, api=DISK_API)
    assert r.status_code == 202, r.text
    assert r.json()["properties"]["provisioningState"] == "Updating"
    await arm.advance(15)
    disk = (await arm.get(disk_path, api=DISK_API)).json()
    assert disk["properties"]["provisioningState"] == "Succeeded"
    assert disk["properties"]["creationData"]["sourceResourceId"] == drp["id"]
    assert disk["properties"]["diskSizeGB"] == 256
    assert disk["properties"]["diskState"] == "Unattached"
    wrong_region = dict(body, location="westus")
    r = await arm.put(disk_path.replace("restored", "r2"), wrong_region, api=DISK_API)
    assert r.status_code == 400
    missing = {
        "location": "eastus",
        "properties": {
            "creationData": {"createOption": "Restore", "sourceResourceId": drp["id"] + "x"}
        },
    }
    assert (
        await arm.put(disk_path.replace("restored", "r3"), missing, api=DISK_API)
    ).status_code == 404


async def test_control_plane_restore_point_goes_through_the_lro(arm: Arm) -> None:
    created = await arm.ctl.create_restore_point(rpc_path("rpc1"), "sched1", changed_fraction=0.1)
    assert created["provisioningState"] == "Creating"
    assert (await arm.get(rp_path("rpc1", "sched1"))).json()["properties"][
        "provisioningState"
    ] == "Creating"
    await arm.advance(35)
    assert (await arm.get(rp_path("rpc1", "sched1"))).json()["properties"][
        "provisioningState"
    ] == "Succeeded"
    events = (await arm.ctl.events())["events"]
    assert [e["subject"] for e in events] == [created["id"]]
    auto = await arm.ctl.create_restore_point(rpc_path("rpc1"))
    assert auto["name"].startswith("rp-")


async def test_instant_access_states(make_arm) -> None:
    s = standard_scenario(0)
    s._collections[0]["instantAccess"] = True
    arm = await make_arm(s, instant_access_hydration_seconds=600)
    r = await arm.put(rp_path("rpc1", "ia"), {"properties": {"instantAccessDurationMinutes": 120}})
    assert r.json()["properties"]["instantAccessDurationMinutes"] == 120
    await arm.advance(40)
    iv = await arm.instance_view("rpc1", "ia")
    assert {d["snapshotAccessState"] for d in iv["diskRestorePoints"]} == {"InstantAccess"}
    await arm.advance(600)
    iv = await arm.instance_view("rpc1", "ia")
    assert {d["snapshotAccessState"] for d in iv["diskRestorePoints"]} == {
        "AvailableWithInstantAccess"
    }
    await arm.advance(7200)
    iv = await arm.instance_view("rpc1", "ia")
    assert {d["snapshotAccessState"] for d in iv["diskRestorePoints"]} == {"Available"}
