"""The replication model: coarse progress, 0 -> 100 jumps, incremental copies, failures, 14 days."""

from __future__ import annotations

from arm_emulator.scenarios import DiskSpec, Scenario

from .conftest import DISK_API, SUB, Arm, rp_path, rpc_path

GIB = 1024**3


def one_disk(used_gb: float) -> Scenario:
    s = Scenario(SUB).vm("vm1", os_disk=DiskSpec(size_gb=128, used_gb=used_gb))
    return s.collection("rpc1", vm="vm1").restore_point("rp1", "rpc1")


def progress(iv: dict) -> list[tuple[str, int | None]]:
    return [
        (d["replicationStatus"]["status"]["code"], d["replicationStatus"].get("completionPercent"))
        for d in iv["diskRestorePoints"]
    ]


async def start_copy(arm: Arm) -> None:
    await arm.target_rpc()
    r = await arm.copy("rp1")
    assert r.status_code == 201, r.text
    await arm.advance(6)  # the copy LRO: replication starts now


async def test_progress_is_published_every_ten_minutes_in_coarse_steps(make_arm) -> None:
    # 60 GiB at 10 MiB/s = 6144 s: ticks at 600 s give 9 %, 19 %, ... then 100 at the 11th tick.
    arm = await make_arm(one_disk(60))
    await start_copy(arm)
    seen: list[tuple[str, int | None]] = []
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    assert progress(iv) == [("ReplicationState/inProgress", 0)]
    assert iv["statuses"] == [
        {"code": "ReplicationState/inProgress", "level": "Info", "displayStatus": "In progress"}
    ]
    await arm.advance(599)
    assert progress(await arm.instance_view("rpc1-dr", "rp1-copy"))[0][1] == 0  # not yet a tick
    await arm.advance(1)
    for _ in range(11):
        seen.append(progress(await arm.instance_view("rpc1-dr", "rp1-copy"))[0])
        await arm.advance(300)
        assert progress(await arm.instance_view("rpc1-dr", "rp1-copy"))[0] == seen[-1]  # mid-tick
        await arm.advance(300)
    percents = [p for _, p in seen]
    assert percents[:3] == [9, 19, 29]
    assert percents == sorted(percents)
    assert seen[-1] == ("ReplicationState/succeeded", 100)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    assert iv["statuses"] == [
        {"code": "ReplicationState/succeeded", "level": "Info", "displayStatus": "Succeeded"}
    ]


async def test_small_copy_jumps_from_0_to_100(make_arm) -> None:
    arm = await make_arm(one_disk(1))  # 1 GiB at 10 MiB/s = 102 s, published at the first tick
    await start_copy(arm)
    assert progress(await arm.instance_view("rpc1-dr", "rp1-copy")) == [
        ("ReplicationState/inProgress", 0)
    ]
    await arm.advance(300)
    assert progress(await arm.instance_view("rpc1-dr", "rp1-copy")) == [
        ("ReplicationState/inProgress", 0)
    ]
    await arm.advance(300)
    assert progress(await arm.instance_view("rpc1-dr", "rp1-copy")) == [
        ("ReplicationState/succeeded", 100)
    ]


async def test_bandwidth_is_configurable(make_arm) -> None:
    arm = await make_arm(one_disk(60), replication_bandwidth_mbps=1024)  # 60 s
    await start_copy(arm)
    await arm.advance(600)
    assert progress(await arm.instance_view("rpc1-dr", "rp1-copy"))[0][1] == 100


async def test_incremental_copy_is_faster_than_the_full_one(make_arm) -> None:
    s = Scenario(SUB).vm("vm1", os_disk=DiskSpec(size_gb=128, used_gb=60))
    arm = await make_arm(s.collection("rpc1", vm="vm1"))
    await arm.ctl.create_restore_point(rpc_path("rpc1"), "a")
    await arm.advance(40)
    await arm.ctl.create_restore_point(rpc_path("rpc1"), "b", changed_bytes=GIB // 2)
    await arm.advance(40)
    await arm.target_rpc()
    await arm.copy("a")
    await arm.advance(6 + 600)
    first = progress(await arm.instance_view("rpc1-dr", "a-copy"))[0]
    assert first == ("ReplicationState/inProgress", 9)
    await arm.advance(7200)
    await arm.copy("b")
    await arm.advance(6 + 600)  # 0.5 GiB: done at the first tick
    assert progress(await arm.instance_view("rpc1-dr", "b-copy"))[0] == (
        "ReplicationState/succeeded",
        100,
    )


async def test_replication_failure_has_no_details_and_fails_the_whole_copy(make_arm) -> None:
    s = Scenario(SUB).vm(
        "vm1", os_disk=DiskSpec(size_gb=128, used_gb=30), data_disks=[DiskSpec(lun=0, used_gb=20)]
    )
    arm = await make_arm(s.collection("rpc1", vm="vm1").restore_point("rp1", "rpc1"))
    await arm.ctl.add_fault(
        operation="RestorePoints_Create", kind="replication_failure", lun=0, failAfterSeconds=1200
    )
    await start_copy(arm)
    await arm.advance(600)
    assert progress(await arm.instance_view("rpc1-dr", "rp1-copy")) == [
        ("ReplicationState/inProgress", 19),
        ("ReplicationState/inProgress", 29),
    ]
    await arm.advance(600)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    for disk in iv["diskRestorePoints"]:
        status = disk["replicationStatus"]
        assert status == {
            "status": {
                "code": "ReplicationState/failed",
                "level": "Error",
                "displayStatus": "Failed",
            }
        }  # no completionPercent, no message
    assert iv["statuses"][0]["level"] == "Error"
    # The copy LRO itself succeeded: provisioningState says nothing about replication.
    got = await arm.get(rp_path("rpc1-dr", "rp1-copy"))
    assert got.json()["properties"]["provisioningState"] == "Succeeded"
    drp_list = await arm.get(rp_path("rpc1-dr", "rp1-copy") + "/diskRestorePoints", api=DISK_API)
    props = drp_list.json()["value"][1]["properties"]
    assert props["replicationState"] == "Failed"
    assert "completionPercent" not in props
    assert props["sourceResourceLocation"] == "eastus"
    # Not in flight any more: a new copy of the same restore point may start under a new name.
    assert (await arm.copy("rp1", name="retry")).status_code == 201


async def test_copies_running_for_14_days_are_terminated(make_arm) -> None:
    arm = await make_arm(one_disk(100), replication_bandwidth_mbps=0.01)  # would take ~120 days
    await start_copy(arm)
    await arm.advance(14 * 24 * 3600 - 600)
    assert (
        progress(await arm.instance_view("rpc1-dr", "rp1-copy"))[0][0]
        == "ReplicationState/inProgress"
    )
    await arm.advance(600)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    assert iv["statuses"][0]["code"] == "ReplicationState/failed"


async def test_disk_restore_point_of_a_copy_reports_replication(make_arm) -> None:
    arm = await make_arm(one_disk(60))
    await start_copy(arm)
    await arm.advance(600)
    drp = (
        await arm.get(rp_path("rpc1-dr", "rp1-copy") + "/diskRestorePoints", api=DISK_API)
    ).json()
    props = drp["value"][0]["properties"]
    assert props["replicationState"] == "InProgress"
    assert props["completionPercent"] == 9
    assert props["sourceResourceLocation"] == "eastus"


async def test_no_replication_finished_event(make_arm) -> None:
    arm = await make_arm(one_disk(1))
    await start_copy(arm)
    await arm.advance(3600)
    events = (await arm.ctl.events())["events"]
    operations = [e["data"]["operationName"] for e in events]
    assert operations == [
        "Microsoft.Compute/restorePointCollections/write",
        "Microsoft.Compute/restorePointCollections/restorePoints/write",
    ]


async def test_time_scale_moves_the_clock(arm: Arm) -> None:
    clock = await arm.ctl.set_time_scale(600)
    assert clock["timeScale"] == 600
    before = (await arm.ctl.clock())["epochSeconds"]
    await arm.ctl.set_time_scale(0)
    after = (await arm.ctl.clock())["epochSeconds"]
    assert after >= before
    assert (await arm.ctl.advance_clock(10))["epochSeconds"] >= after + 10
