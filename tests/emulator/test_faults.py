"""Fault injection: HTTP errors, delays, LRO and replication failures, determinism with a seed.
Dropped connections over a real socket are in test_cli_server.py."""

from __future__ import annotations

import time

import pytest

from arm_emulator.arm_routes import ConnectionDropped
from arm_emulator.control import EmulatorControlError

from .conftest import Arm, rp_path, rpc_path, standard_scenario


async def test_http_429_with_retry_after_and_arm_body(arm: Arm) -> None:
    await arm.ctl.add_fault(
        operation="RestorePoints_Get", kind="http", status=429, retryAfter=7, times=1
    )
    r = await arm.get(rp_path("rpc1", "rp1"))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "x-ms-request-id" in r.headers
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 200  # times=1 exhausted


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalServerError"), (503, "ServiceUnavailable")]
)
async def test_http_5xx(arm: Arm, status: int, code: str) -> None:
    await arm.ctl.add_fault(operation="RestorePointCollections_Get", kind="http", status=status)
    r = await arm.get(rpc_path("rpc1"))
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 200  # other operations unaffected


async def test_nth_and_path_match(arm: Arm) -> None:
    await arm.ctl.add_fault(
        operation="*",
        kind="http",
        status=500,
        nth=[2, 3],
        match={"pathContains": "/restorePoints/rp2"},
    )
    codes = [(await arm.get(rp_path("rpc1", "rp2"))).status_code for _ in range(4)]
    assert codes == [200, 500, 500, 200]
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 200
    faults = await arm.ctl.faults()
    assert faults[0]["matched"] == 4
    assert faults[0]["fired"] == 2


async def test_rate_is_deterministic_with_the_seed(make_arm) -> None:
    async def pattern(seed: int) -> list[int]:
        arm = await make_arm(standard_scenario(1), seed=seed)
        await arm.ctl.add_fault(operation="RestorePoints_Get", kind="http", status=503, rate=0.5)
        return [(await arm.get(rp_path("rpc1", "rp1"))).status_code for _ in range(24)]

    first, again, other = await pattern(7), await pattern(7), await pattern(8)
    assert first == again
    assert 503 in first
    assert 200 in first
    assert first != other


async def test_http_success_with_a_bogus_body(arm: Arm) -> None:
    await arm.ctl.add_fault(
        operation="RestorePointCollections_Get", kind="http", status=200, body={"odd": 1}, times=1
    )
    r = await arm.get(rpc_path("rpc1"))
    assert r.status_code == 200
    assert r.json() == {"odd": 1}
    await arm.ctl.add_fault(operation="RestorePointCollections_Get", kind="http", status=200)
    assert (await arm.get(rpc_path("rpc1"))).json() == {}


async def test_delay(arm: Arm) -> None:
    await arm.ctl.add_fault(operation="RestorePoints_Get", kind="delay", seconds=0.3)
    started = time.perf_counter()
    r = await arm.get(rp_path("rpc1", "rp1"))
    assert r.status_code == 200
    assert time.perf_counter() - started >= 0.3


async def test_drop_in_process_raises(arm: Arm) -> None:
    await arm.ctl.add_fault(operation="RestorePoints_Get", kind="drop", times=1)
    with pytest.raises(ConnectionDropped):
        await arm.get(rp_path("rpc1", "rp1"))
    log = await arm.ctl.requests("RestorePoints_Get")
    assert log[-1]["status"] is None
    assert log[-1]["fault"].endswith(":drop")


async def test_lro_failure(arm: Arm) -> None:
    await arm.ctl.add_fault(
        operation="RestorePoints_Create",
        kind="lro_failure",
        code="VMAgentStatusCommunicationError",
        message="agent not reporting",
    )
    r = await arm.put(rp_path("rpc1", "rp9"), {})
    assert r.status_code == 201  # accepted; the operation fails later
    await arm.advance(40)
    status = (
        await arm.client.get(
            r.headers["azure-asyncoperation"], headers={"Authorization": "Bearer t"}
        )
    ).json()
    assert status["status"] == "Failed"
    assert status["error"] == {
        "code": "VMAgentStatusCommunicationError",
        "message": "agent not reporting",
    }
    got = await arm.get(rp_path("rpc1", "rp9"))
    assert got.json()["properties"]["provisioningState"] == "Failed"
    events = (await arm.ctl.events())["events"]
    assert events[-1]["eventType"] == "Microsoft.Resources.ResourceWriteFailure"
    assert events[-1]["data"]["status"] == "Failed"


async def test_lro_failure_on_delete(arm: Arm) -> None:
    await arm.ctl.add_fault(operation="RestorePoints_Delete", kind="lro_failure", times=1)
    r = await arm.delete(rp_path("rpc1", "rp1"))
    await arm.advance(20)
    poll = await arm.client.get(r.headers["location"], headers={"Authorization": "Bearer t"})
    assert poll.status_code == 500
    assert poll.json()["error"]["code"] == "InternalOperationError"
    got = await arm.get(rp_path("rpc1", "rp1"))
    assert got.json()["properties"]["provisioningState"] == "Succeeded"  # still there


async def test_replication_failure_by_disk_name(arm: Arm) -> None:
    await arm.ctl.add_fault(
        operation="RestorePoints_Create",
        kind="replication_failure",
        disk="vm1_DataDisk_1",
        failAfterSeconds=60,
    )
    await arm.target_rpc()
    await arm.copy("rp1")
    await arm.advance(6 + 600)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    assert iv["statuses"][0]["code"] == "ReplicationState/failed"


async def test_operations_get_fault_and_fault_management(arm: Arm) -> None:
    rule = await arm.ctl.add_fault(operation="Operations_Get", kind="http", status=500, id="ops")
    assert rule["id"] == "ops"
    r = await arm.put(rp_path("rpc1", "rp9"), {})
    poll = await arm.client.get(
        r.headers["azure-asyncoperation"], headers={"Authorization": "Bearer t"}
    )
    assert poll.status_code == 500
    await arm.client.delete("/_emulator/faults/ops")
    assert await arm.ctl.faults() == []
    await arm.ctl.set_faults([{"operation": "*", "kind": "http", "status": 503}])
    assert len(await arm.ctl.faults()) == 1
    await arm.ctl.clear_faults()
    assert await arm.ctl.faults() == []


@pytest.mark.parametrize(
    "rule",
    [
        {"operation": "Nope", "kind": "http", "status": 500},
        {"operation": "*", "kind": "explode"},
        {"operation": "*", "kind": "http"},
        {"operation": "*", "kind": "http", "status": 600},
        {"operation": "*", "kind": "http", "status": 500, "rate": 2},
        {"operation": "*", "kind": "http", "status": 500, "rate": 0.5, "times": 1},
        {"operation": "*", "kind": "http", "status": 500, "nth": [0]},
        {"operation": "RestorePoints_Get", "kind": "lro_failure"},
        {"operation": "*", "kind": "delay", "seconds": 9999},
        {"operation": "*", "kind": "http", "status": 500, "bogus": 1},
    ],
)
async def test_bad_fault_rules_are_rejected(arm: Arm, rule: dict) -> None:
    with pytest.raises(EmulatorControlError) as info:
        await arm.ctl.add_fault(rule)
    assert info.value.status == 400


async def test_faults_from_config(make_arm) -> None:
    arm = await make_arm(
        standard_scenario(1),
        faults=[{"operation": "RestorePoints_Get", "kind": "http", "status": 503, "times": 1}],
    )
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 503
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 200
    await arm.ctl.reset()  # reset re-applies the config's faults (re-armed) ...
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 503
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 404  # ... and drops the seed
