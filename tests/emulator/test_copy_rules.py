"""Every cross-region copy rule, each refused with its status and error code."""

from __future__ import annotations

from arm_emulator.scenarios import Scenario

from .conftest import SUB, Arm, rp_path, rpc_path, standard_scenario

COPY_LRO = 7  # a little more than the 6 s copy LRO
DONE = 24 * 3600  # enough simulated time for any test copy to finish replicating


async def copy_ok(arm: Arm, rp: str, **kw) -> None:
    r = await arm.copy(rp, **kw)
    assert r.status_code == 201, r.text


async def test_copy_response_shape(arm: Arm) -> None:
    await arm.target_rpc()
    r = await arm.copy("rp1")
    body = r.json()
    props = body["properties"]
    assert props["provisioningState"] == "Creating"
    assert props["sourceRestorePoint"]["id"] == rp_path("rpc1", "rp1")
    source = (await arm.get(rp_path("rpc1", "rp1"))).json()["properties"]
    assert props["timeCreated"] == source["timeCreated"]  # the source's time [WIRE] (§12.5)
    assert props["sourceMetadata"]["location"] == "eastus"
    assert "/locations/westus/operations/" in r.headers["azure-asyncoperation"]  # target region
    await arm.advance(COPY_LRO)
    got = (await arm.get(rp_path("rpc1-dr", "rp1-copy"))).json()["properties"]
    point = got["sourceMetadata"]["storageProfile"]["osDisk"]["diskRestorePoint"]
    assert point["encryption"]["type"] == "EncryptionAtRestWithPlatformKey"
    assert point["sourceDiskRestorePoint"]["id"].startswith(rp_path("rpc1", "rp1"))
    assert "/rpc1-dr/restorePoints/rp1-copy/diskRestorePoints/" in point["id"]


async def test_copy_needs_api_2022_03_01(arm: Arm) -> None:
    await arm.target_rpc()
    r = await arm.copy("rp1", api="2021-11-01")
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "BadRequest",
        "message": "This request can be made with api-version '2022-03-01' or newer",
    }


async def test_copy_into_vm_sourced_collection_refused(arm: Arm) -> None:
    r = await arm.copy("rp1", target_rpc="rpc1")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OperationNotAllowed")


async def test_copy_of_copy_refused(arm: Arm) -> None:
    await arm.target_rpc()
    await copy_ok(arm, "rp1")
    await arm.advance(DONE)
    # A collection sourced from the copy target is refused outright ...
    r = await arm.target_rpc("rpc-third", source="rpc1-dr", location="northeurope")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OperationNotAllowed")
    # ... and so is copying the copied restore point.
    body = {"properties": {"sourceRestorePoint": {"id": rp_path("rpc1-dr", "rp1-copy")}}}
    r = await arm.put(rp_path("rpc1-dr", "again"), body)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OperationNotAllowed")
    assert "copy-of-copy" in r.json()["error"]["message"]


async def test_one_source_collection_per_target(make_arm) -> None:
    s = standard_scenario().vm("vm2", location="eastus").collection("rpc2", vm="vm2")
    s.restore_point("x1", "rpc2")
    arm = await make_arm(s)
    await arm.target_rpc()
    r = await arm.copy("x1", source_rpc="rpc2")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OperationNotAllowed")
    assert "different source" in r.json()["error"]["message"]


async def test_one_copy_per_target_region_failed_copy_does_not_count(arm: Arm) -> None:
    await arm.target_rpc()
    await arm.target_rpc("rpc1-dr2", location="westus")
    await arm.ctl.add_fault(operation="RestorePoints_Create", kind="lro_failure", times=1)
    await copy_ok(arm, "rp1")  # its LRO will fail
    await arm.advance(COPY_LRO)
    assert (await arm.get(rp_path("rpc1-dr", "rp1-copy"))).json()["properties"][
        "provisioningState"
    ] == "Failed"
    await copy_ok(arm, "rp1", name="rp1-retry")  # a failed copy does not count
    await arm.advance(DONE)
    r = await arm.copy("rp1", target_rpc="rpc1-dr2")  # same region, other collection
    assert (r.status_code, r.json()["error"]["code"]) == (409, "OperationNotAllowed")
    assert "only once per target region" in r.json()["error"]["message"]
    await arm.target_rpc("rpc1-ne", location="northeurope")
    await copy_ok(arm, "rp1", target_rpc="rpc1-ne")  # another region is fine


async def test_creation_order(arm: Arm) -> None:
    await arm.target_rpc()
    await copy_ok(arm, "rp3")
    await arm.advance(DONE)
    r = await arm.copy("rp2")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "OperationNotAllowed")
    assert "creation order" in r.json()["error"]["message"]


async def test_one_copy_in_flight_per_pair_until_replication_finishes(arm: Arm) -> None:
    await arm.target_rpc()
    await arm.target_rpc("rpc1-ne", location="northeurope")
    await copy_ok(arm, "rp1")
    r = await arm.copy("rp2")  # LRO still running
    assert (r.status_code, r.json()["error"]["code"]) == (409, "OperationNotAllowed")
    await arm.advance(COPY_LRO)
    r = await arm.copy("rp2")  # LRO done, replication still running
    assert r.status_code == 409
    assert "in progress" in r.json()["error"]["message"]
    await copy_ok(arm, "rp1", target_rpc="rpc1-ne")  # one-to-many in parallel is allowed
    await arm.advance(DONE)
    await copy_ok(arm, "rp2")


async def test_copy_throttle_three_per_hour_with_retry_after(make_arm) -> None:
    arm = await make_arm(standard_scenario(5), replication_bandwidth_mbps=1000)
    await arm.target_rpc()
    for rp in ("rp1", "rp2", "rp3"):
        await copy_ok(arm, rp)
        await arm.advance(1000)  # at 1000 MiB/s each copy is done at its first 10-minute tick
    r = await arm.copy("rp4")
    assert r.status_code == 429
    err = r.json()["error"]
    assert err["code"] == "OperationNotAllowed"
    assert err["details"][0]["code"] == "TooManyRequests"
    # frozen clock: Retry-After carries the simulated wait until the first PUT leaves the window
    assert int(r.headers["retry-after"]) == 600
    await arm.advance(int(r.headers["retry-after"]))
    await copy_ok(arm, "rp4")


async def test_throttle_retry_after_is_in_real_seconds(make_arm) -> None:
    arm = await make_arm(standard_scenario(5), time_scale=600.0)
    await arm.target_rpc()
    emu = arm.emu
    rpc = emu.find_rpc(rpc_path("rpc1-dr"))
    now = emu.now()
    rpc.copy_put_times.extend([now - 10, now - 5, now - 1])  # three copies in the last minute
    r = await arm.copy("rp1")
    assert r.status_code == 429
    # 3590 simulated seconds / 600 = 5.98 -> 6 real seconds
    assert int(r.headers["retry-after"]) == 6


async def test_source_must_have_succeeded_and_not_be_instant_access(make_arm) -> None:
    s = standard_scenario(1)
    s._collections[0]["instantAccess"] = True
    arm = await make_arm(s, instant_access_hydration_seconds=3600)
    await arm.target_rpc()
    await arm.ctl.create_restore_point(rpc_path("rpc1"), "fresh")
    r = await arm.copy("fresh")
    assert r.status_code == 409
    assert "Creating" in r.json()["error"]["message"]
    await arm.advance(40)
    r = await arm.copy("fresh")
    assert r.status_code == 409
    assert "InstantAccess" in r.json()["error"]["message"]
    await arm.advance(3600)
    await copy_ok(arm, "fresh")


async def test_excluding_disks_on_copy_refused(arm: Arm) -> None:
    await arm.target_rpc()
    disk = (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/vm1_DataDisk_0"
    )
    body = {
        "properties": {
            "sourceRestorePoint": {"id": rp_path("rpc1", "rp1")},
            "excludeDisks": [{"id": disk}],
        }
    }
    r = await arm.put(rp_path("rpc1-dr", "c"), body)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OperationNotAllowed")


async def test_missing_source_and_local_create_in_target(arm: Arm) -> None:
    await arm.target_rpc()
    r = await arm.copy("nope")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ResourceNotFound")
    r = await arm.put(rp_path("rpc1-dr", "local"), {})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "OperationNotAllowed")
    bad = {"properties": {"sourceRestorePoint": {"id": "rpc1/rp1"}}}
    r = await arm.put(rp_path("rpc1-dr", "c"), bad)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "LinkedInvalidPropertyId")


async def test_idempotent_copy_re_put(arm: Arm) -> None:
    await arm.target_rpc()
    first = await arm.copy("rp1")
    again = await arm.copy("rp1")
    assert again.status_code == 201
    assert again.headers["azure-asyncoperation"] == first.headers["azure-asyncoperation"]
    other = {"properties": {"sourceRestorePoint": {"id": rp_path("rpc1", "rp2")}}}
    r = await arm.put(rp_path("rpc1-dr", "rp1-copy"), other)
    assert r.status_code == 409


async def test_copies_per_vm_limit(make_arm) -> None:
    arm = await make_arm(standard_scenario(3), max_restore_points_per_vm=2)
    await arm.target_rpc()
    await copy_ok(arm, "rp1")
    await arm.advance(DONE)
    await copy_ok(arm, "rp2")
    await arm.advance(DONE)
    r = await arm.copy("rp3")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "VMRestorePointClientError")


async def test_incremental_copies_and_deleting_the_full_base(make_arm) -> None:
    arm = await make_arm(Scenario(SUB).vm("vm1").collection("rpc1", vm="vm1"))
    for name in ("a", "b", "c", "d"):
        await arm.ctl.create_restore_point(rpc_path("rpc1"), name, changed_bytes=1024 * 1024)
        await arm.advance(40)

    async def copied_bytes(name: str) -> list[int]:
        state = (await arm.ctl.state())["restorePointCollections"]
        target = next(c for c in state if c["id"].endswith("/rpc1-dr"))
        point = next(p for p in target["restorePoints"] if p["id"].endswith("/" + name))
        return [d["bytesToCopy"] for d in point["disks"]]

    await arm.target_rpc()
    await copy_ok(arm, "a")
    await arm.advance(DONE)
    full = await copied_bytes("a-copy")
    assert full[0] > 1024 * 1024  # the first copy into a target is full
    await copy_ok(arm, "b")
    await arm.advance(DONE)
    assert await copied_bytes("b-copy") == [1024 * 1024] * len(full)
    # A copied incremental may be deleted at the source: the next copy stays incremental.
    assert (await arm.delete(rp_path("rpc1", "b"))).status_code == 202
    await arm.advance(20)
    await copy_ok(arm, "c")
    await arm.advance(DONE)
    assert await copied_bytes("c-copy") == [1024 * 1024] * len(full)
    # Deleting the full base at the source makes the next copy full again.
    assert (await arm.delete(rp_path("rpc1", "a"))).status_code == 202
    await arm.advance(20)
    await copy_ok(arm, "d")
    assert await copied_bytes("d-copy") == full
