"""A fault that reports itself as fired always takes effect, for every fault kind: a fired
replication_failure always ends the copy failed (also a copy shorter than one progress interval),
a rule that has nothing to act on is not counted as fired, and of rules that would give one
request two answers (http / drop) or fail one operation twice (lro_failure) only the first fires.
"""

from __future__ import annotations

from typing import Any

import pytest

from arm_emulator.arm_routes import ConnectionDropped
from arm_emulator.scenarios import DiskSpec, Scenario

from .conftest import SUB, Arm, rp_path, rpc_path

AUTH = {"Authorization": "Bearer t"}


def scenario(os_used_gb: float = 1, data_used_gb: float | None = None) -> Scenario:
    data = [DiskSpec(lun=0, size_gb=64, used_gb=data_used_gb)] if data_used_gb else []
    s = Scenario(SUB).vm("vm1", os_disk=DiskSpec(size_gb=128, used_gb=os_used_gb), data_disks=data)
    return s.collection("rpc1", vm="vm1").restore_point("rp1", "rpc1")


async def overall(arm: Arm, rp: str = "rp1-copy") -> str:
    return (await arm.instance_view("rpc1-dr", rp))["statuses"][0]["code"]


async def fault(arm: Arm, rule_id: str) -> dict[str, Any]:
    return next(f for f in await arm.ctl.faults() if f["id"] == rule_id)


async def copy_and_wait(arm: Arm, seconds: float, name: str | None = None) -> None:
    r = await arm.copy("rp1", name=name)
    assert r.status_code == 201, r.text
    await arm.advance(6 + seconds)


@pytest.mark.parametrize(
    "params",
    [
        {},  # default: the first disk, half its transfer time
        {"os": True},
        {"failAfterSeconds": 30},
        {"failAfterSeconds": 7200},  # after the disk would have finished
    ],
    ids=["default", "os-disk", "early", "after-it-would-finish"],
)
async def test_fired_replication_failure_fails_a_copy_shorter_than_one_interval(
    make_arm, params: dict[str, Any]
) -> None:
    # 1 GiB at 10 MiB/s = 102 s: the whole copy ends within the first 600 s progress interval.
    arm = await make_arm(scenario(os_used_gb=1))
    await arm.ctl.add_fault(
        id="rf", operation="RestorePoints_Create", kind="replication_failure", **params
    )
    await arm.target_rpc()
    await copy_and_wait(arm, 599)
    assert await overall(arm) == "ReplicationState/inProgress"  # nothing published yet
    await arm.advance(1)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    assert iv["statuses"][0]["code"] == "ReplicationState/failed"
    status = iv["diskRestorePoints"][0]["replicationStatus"]
    assert status["status"]["level"] == "Error"
    assert "completionPercent" not in status
    assert (await fault(arm, "rf"))["fired"] == 1
    await arm.advance(30 * 24 * 3600)
    assert await overall(arm) == "ReplicationState/failed"  # and it stays failed


async def test_failing_disk_never_shows_succeeded_while_others_finish(make_arm) -> None:
    # OS disk 1 GiB (one tick), data disk 20 GiB (~4 ticks); the OS disk fails "after 1 h",
    # i.e. later than it would finish: it fails at its own finishing tick, the copy with it.
    arm = await make_arm(scenario(os_used_gb=1, data_used_gb=20))
    await arm.ctl.add_fault(
        id="rf",
        operation="RestorePoints_Create",
        kind="replication_failure",
        os=True,
        failAfterSeconds=3600,
    )
    await arm.target_rpc()
    await copy_and_wait(arm, 600)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    codes = [d["replicationStatus"]["status"]["code"] for d in iv["diskRestorePoints"]]
    assert codes == ["ReplicationState/failed", "ReplicationState/failed"]
    assert iv["statuses"][0]["code"] == "ReplicationState/failed"


async def test_failure_of_a_disk_with_nothing_to_transfer(make_arm) -> None:
    """An incremental copy with 0 changed bytes still fails when the fault fires."""
    arm = await make_arm(scenario(os_used_gb=1))
    await arm.ctl.create_restore_point(rpc_path("rpc1"), "rp2", changed_bytes=0)
    await arm.advance(40)
    await arm.target_rpc()
    await copy_and_wait(arm, 600)
    assert await overall(arm) == "ReplicationState/succeeded"
    await arm.ctl.add_fault(id="rf", operation="RestorePoints_Create", kind="replication_failure")
    r = await arm.put(
        rp_path("rpc1-dr", "rp2-copy"),
        {"properties": {"sourceRestorePoint": {"id": rp_path("rpc1", "rp2")}}},
    )
    assert r.status_code == 201, r.text
    await arm.advance(6 + 600)
    assert await overall(arm, "rp2-copy") == "ReplicationState/failed"
    assert (await fault(arm, "rf"))["fired"] == 1


@pytest.mark.parametrize(
    "selector", [{"lun": 7}, {"disk": "no-such-disk"}], ids=["missing-lun", "missing-disk"]
)
async def test_replication_failure_with_no_such_disk_does_not_fire(
    make_arm, selector: dict[str, Any]
) -> None:
    arm = await make_arm(scenario(os_used_gb=1))
    await arm.ctl.add_fault(
        id="rf", operation="RestorePoints_Create", kind="replication_failure", **selector
    )
    await arm.target_rpc()
    await copy_and_wait(arm, 600)
    assert await overall(arm) == "ReplicationState/succeeded"
    rule = await fault(arm, "rf")
    assert (rule["matched"], rule["fired"]) == (0, 0)


async def test_replication_failure_with_times_waits_for_a_copy_that_has_the_disk(
    make_arm,
) -> None:
    """Not counted on a copy without the disk, so it still fires on the next one that has it."""
    s = scenario(os_used_gb=1)
    s.vm("vm2", os_disk=DiskSpec(size_gb=128, used_gb=1), data_disks=[DiskSpec(lun=3)])
    s.collection("rpc2", vm="vm2").restore_point("rp1", "rpc2")
    arm = await make_arm(s)
    await arm.ctl.add_fault(
        id="rf", operation="RestorePoints_Create", kind="replication_failure", lun=3, times=1
    )
    await arm.target_rpc()
    await arm.target_rpc("rpc2-dr", source="rpc2")
    await copy_and_wait(arm, 0)
    r = await arm.copy("rp1", target_rpc="rpc2-dr", source_rpc="rpc2")
    assert r.status_code == 201, r.text
    await arm.advance(6 + 3 * 3600)
    assert await overall(arm) == "ReplicationState/succeeded"
    assert (await arm.instance_view("rpc2-dr", "rp1-copy"))["statuses"][0]["code"] == (
        "ReplicationState/failed"
    )
    assert (await fault(arm, "rf"))["fired"] == 1


async def test_two_http_faults_on_one_request_fire_one_at_a_time(arm: Arm) -> None:
    await arm.ctl.add_fault(
        id="first", operation="RestorePoints_Get", kind="http", status=503, times=1
    )
    await arm.ctl.add_fault(
        id="second", operation="RestorePoints_Get", kind="http", status=500, times=1
    )
    statuses = [(await arm.get(rp_path("rpc1", "rp1"))).status_code for _ in range(3)]
    assert statuses == [503, 500, 200]  # the second fired only when it answered
    first, second = await fault(arm, "first"), await fault(arm, "second")
    assert (first["matched"], first["fired"]) == (3, 1)
    assert (second["matched"], second["fired"]) == (3, 1)


async def test_drop_pre_empts_an_http_fault_on_the_same_request(arm: Arm) -> None:
    await arm.ctl.add_fault(id="drop", operation="RestorePoints_Get", kind="drop", times=1)
    await arm.ctl.add_fault(id="err", operation="RestorePoints_Get", kind="http", status=500)
    with pytest.raises(ConnectionDropped):
        await arm.get(rp_path("rpc1", "rp1"))
    assert (await fault(arm, "err"))["fired"] == 0
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 500
    assert (await fault(arm, "err"))["fired"] == 1


async def test_http_fault_with_drop_after_processes_nothing_twice(arm: Arm) -> None:
    """An http answer and a drop-after cannot both fire: the drop-after (first) processes the
    request and drops the answer; the http rule waits for the next request."""
    await arm.ctl.add_fault(
        id="drop", operation="RestorePoints_Create", kind="drop", phase="after", times=1
    )
    await arm.ctl.add_fault(
        id="err", operation="RestorePoints_Create", kind="http", status=500, times=1
    )
    with pytest.raises(ConnectionDropped):
        await arm.put(rp_path("rpc1", "rp9"), {})
    assert (await arm.get(rp_path("rpc1", "rp9"))).status_code == 200  # it was processed
    assert (await fault(arm, "err"))["fired"] == 0
    assert (await arm.put(rp_path("rpc1", "rp9"), {})).status_code == 500
    assert (await fault(arm, "err"))["fired"] == 1


async def test_two_lro_failures_fail_two_operations(arm: Arm) -> None:
    await arm.ctl.add_fault(
        id="a", operation="RestorePoints_Delete", kind="lro_failure", code="CodeA", times=1
    )
    await arm.ctl.add_fault(
        id="b", operation="RestorePoints_Delete", kind="lro_failure", code="CodeB", times=1
    )
    codes = []
    for name in ("rp1", "rp2", "rp3"):
        r = await arm.delete(rp_path("rpc1", name))
        assert r.status_code == 202
        await arm.advance(20)
        poll = await arm.client.get(r.headers["azure-asyncoperation"], headers=AUTH)
        codes.append(poll.json().get("error", {}).get("code"))
    assert codes == ["CodeA", "CodeB", None]
    assert [(await fault(arm, i))["fired"] for i in ("a", "b")] == [1, 1]


async def test_every_fired_lro_failure_fails_its_operation(arm: Arm) -> None:
    """lro_failure on every LRO kind: each reported as fired ends Failed."""
    await arm.ctl.add_fault(id="all", operation="*", kind="lro_failure")
    await arm.target_rpc()
    created = await arm.put(rp_path("rpc1", "rp9"), {})
    deleted = await arm.delete(rp_path("rpc1", "rp1"))
    copied = await arm.copy("rp2")
    await arm.advance(60)
    urls = [r.headers["azure-asyncoperation"] for r in (created, deleted, copied)]
    statuses = [(await arm.client.get(u, headers=AUTH)).json()["status"] for u in urls]
    assert statuses == ["Failed", "Failed", "Failed"]
    assert (await fault(arm, "all"))["fired"] == 3
