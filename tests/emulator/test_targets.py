"""Targets beyond a plain copy: disk encryption sets named by a copy (checked against the target
region), target collections in another subscription, and restore points created directly in
another region from a VM (first full, then incremental)."""

from __future__ import annotations

from typing import Any

from arm_emulator import ids

from .conftest import API, SUB, rp_path, rpc_path, standard_scenario

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"
DONE = 24 * 3600
DISK_API = "2025-01-02"


def encryption_of(des_id: str) -> dict[str, Any]:
    return {
        "diskEncryptionSet": {"id": des_id},
        "type": "EncryptionAtRestWithCustomerKey",
    }


def copy_body(source: str, des_id: str | None, luns: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    props: dict[str, Any] = {"sourceRestorePoint": {"id": source}}
    if des_id:
        enc = encryption_of(des_id)
        props["sourceMetadata"] = {
            "storageProfile": {
                "osDisk": {"diskRestorePoint": {"encryption": enc}},
                "dataDisks": [
                    {"lun": lun, "diskRestorePoint": {"encryption": enc}} for lun in luns
                ],
            }
        }
    return {"properties": props}


def des_scenario() -> Any:
    s = standard_scenario()
    s.encryption_set("des-west", "westus").encryption_set("des-east", "eastus")
    return s


def des(name: str) -> str:
    return ids.des_id(SUB, "rg", name)


async def test_copy_with_an_encryption_set_in_the_target_region(make_arm) -> None:
    arm = await make_arm(des_scenario())
    assert (await arm.target_rpc()).status_code == 201
    r = await arm.put(rp_path("rpc1-dr", "c1"), copy_body(rp_path("rpc1", "rp1"), des("des-west")))
    assert r.status_code == 201, r.text
    await arm.advance(DONE)
    body = (await arm.get(rp_path("rpc1-dr", "c1"))).json()
    storage = body["properties"]["sourceMetadata"]["storageProfile"]
    disks = [storage["osDisk"], *storage["dataDisks"]]
    assert len(disks) == 3
    for disk in disks:
        assert disk["diskRestorePoint"]["encryption"] == encryption_of(des("des-west"))
    drps = (await arm.get(rp_path("rpc1-dr", "c1") + "/diskRestorePoints", api=DISK_API)).json()
    assert {d["properties"]["encryption"]["diskEncryptionSetId"] for d in drps["value"]} == {
        des("des-west")
    }
    # Without a set, the next copy is platform-key encrypted, as before.
    assert (await arm.copy("rp2", name="c2")).status_code == 201
    await arm.advance(DONE)
    body = (await arm.get(rp_path("rpc1-dr", "c2"))).json()
    os_disk = body["properties"]["sourceMetadata"]["storageProfile"]["osDisk"]
    assert os_disk["diskRestorePoint"]["encryption"] == {"type": "EncryptionAtRestWithPlatformKey"}


async def test_encryption_set_in_another_region_is_refused(make_arm) -> None:
    arm = await make_arm(des_scenario())
    await arm.target_rpc()
    r = await arm.put(rp_path("rpc1-dr", "c1"), copy_body(rp_path("rpc1", "rp1"), des("des-east")))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "InvalidParameter"
    assert "region 'eastus'" in error["message"]
    assert "'westus'" in error["message"]
    assert error["target"].endswith("osDisk.diskRestorePoint.encryption.diskEncryptionSet.id")
    # Refused before anything happened: no restore point, no copy PUT counted.
    assert (await arm.get(rp_path("rpc1-dr", "c1"))).status_code == 404
    assert not arm.emu.store.rpcs[ids.key(rpc_path("rpc1-dr"))].copy_put_times


async def test_encryption_set_only_on_one_data_disk_and_unknown_set(make_arm) -> None:
    arm = await make_arm(des_scenario())
    await arm.target_rpc()
    body = copy_body(rp_path("rpc1", "rp1"), des("nope"))
    r = await arm.put(rp_path("rpc1-dr", "c1"), body)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ResourceNotFound")
    bad_lun = copy_body(rp_path("rpc1", "rp1"), None)
    bad_lun["properties"]["sourceMetadata"] = {
        "storageProfile": {"dataDisks": [{"diskRestorePoint": {"encryption": {}}}]}
    }
    r = await arm.put(rp_path("rpc1-dr", "c1"), bad_lun)
    assert r.status_code == 400
    assert "lun" in r.json()["error"]["message"]
    bad_type = copy_body(rp_path("rpc1", "rp1"), des("des-west"))
    bad_type["properties"]["sourceMetadata"]["storageProfile"]["osDisk"]["diskRestorePoint"][
        "encryption"
    ]["type"] = "Rot13"
    r = await arm.put(rp_path("rpc1-dr", "c1"), bad_type)
    assert r.status_code == 400
    assert "Rot13" in r.json()["error"]["message"]


async def test_a_repeated_put_with_another_encryption_set_is_an_update(make_arm) -> None:
    s = des_scenario().encryption_set("des-west-2", "westus")
    arm = await make_arm(s)
    await arm.target_rpc()
    first = copy_body(rp_path("rpc1", "rp1"), des("des-west"))
    assert (await arm.put(rp_path("rpc1-dr", "c1"), first)).status_code == 201
    assert (await arm.put(rp_path("rpc1-dr", "c1"), first)).status_code == 201  # idempotent
    other = copy_body(rp_path("rpc1", "rp1"), des("des-west-2"))
    r = await arm.put(rp_path("rpc1-dr", "c1"), other)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "OperationNotAllowed")


async def test_platform_key_variant_ignores_the_set(make_arm) -> None:
    arm = await make_arm(des_scenario(), copy_encryption="platform-key")
    await arm.target_rpc()
    r = await arm.put(rp_path("rpc1-dr", "c1"), copy_body(rp_path("rpc1", "rp1"), des("des-east")))
    assert r.status_code == 201, r.text
    await arm.advance(DONE)
    body = (await arm.get(rp_path("rpc1-dr", "c1"))).json()
    os_disk = body["properties"]["sourceMetadata"]["storageProfile"]["osDisk"]
    assert os_disk["diskRestorePoint"]["encryption"] == {"type": "EncryptionAtRestWithPlatformKey"}


async def test_target_collection_in_another_subscription(make_arm) -> None:
    s = standard_scenario().resource_group("rg-dr", "westus", subscription_id=OTHER_SUB)
    arm = await make_arm(s)
    target = ids.rpc_id(OTHER_SUB, "rg-dr", "rpc1-dr")
    body = {"location": "westus", "properties": {"source": {"id": rpc_path("rpc1")}}}
    r = await arm.put(target, body)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["source"]["id"].lower() == rpc_path("rpc1").lower()
    copy = {"properties": {"sourceRestorePoint": {"id": rp_path("rpc1", "rp1")}}}
    assert (await arm.put(f"{target}/restorePoints/c1", copy)).status_code == 201
    await arm.advance(DONE)
    got = await arm.get(f"{target}/restorePoints/c1", params={"$expand": "instanceView"})
    assert got.json()["properties"]["instanceView"]["statuses"][0]["code"] == (
        "ReplicationState/succeeded"
    )
    listed = await arm.get(
        f"/subscriptions/{OTHER_SUB}/providers/Microsoft.Compute/restorePointCollections"
    )
    assert [c["name"] for c in listed.json()["value"]] == ["rpc1-dr"]


async def test_cross_region_creation_replicates_in_full_then_incrementally(make_arm) -> None:
    arm = await make_arm(standard_scenario(), cross_region_creation="allow")
    vm = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    r = await arm.put(
        rpc_path("vm1-west"), {"location": "westus", "properties": {"source": {"id": vm}}}
    )
    assert r.status_code == 201, r.text
    assert (await arm.put(rp_path("vm1-west", "a"), {})).status_code == 201
    await arm.advance(DONE)
    assert (await arm.instance_view("vm1-west", "a"))["statuses"][0]["code"] == (
        "ReplicationState/succeeded"
    )
    assert (await arm.put(rp_path("vm1-west", "b"), {})).status_code == 201
    rpc = arm.emu.store.rpcs[ids.key(rpc_path("vm1-west"))]
    first, second = rpc.restore_points["a"], rpc.restore_points["b"]
    assert first.cross_region
    assert second.cross_region
    assert first.source_rp_id is None
    full = sum(d.bytes_to_copy for d in first.disks)
    incremental = sum(d.bytes_to_copy for d in second.disks)
    assert full == sum(d.used_bytes for d in first.disks)
    assert 0 < incremental < full
    assert max(d.duration for d in second.disks) < max(d.duration for d in first.disks)
    body = (await arm.get(rp_path("vm1-west", "b"), api=API)).json()
    assert "sourceRestorePoint" not in body["properties"]


async def test_get_a_disk_encryption_set(make_arm) -> None:
    arm = await make_arm(des_scenario())
    r = await arm.get(des("des-west"), api=DISK_API)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["location"], body["type"]) == ("westus", "Microsoft.Compute/diskEncryptionSets")
    assert body["id"] == des("des-west")
    missing = await arm.get(des("nope"), api=DISK_API)
    assert missing.status_code == 404
    assert (await arm.get(des("des-west"), api="1999-01-01")).status_code == 400
