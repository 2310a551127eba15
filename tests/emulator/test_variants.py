"""The variants for what Azure does not document: each one's behaviour against the default's,
and the enumerable list (`arm_emulator.variants.ALL_VARIANT_SETS`) the app's tests can be
parametrized over."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from arm_emulator import variants
from arm_emulator.config import CHOICES, EmulatorConfig
from arm_emulator.control import EmulatorControlError
from arm_emulator.scenarios import DiskSpec, Scenario

from .conftest import SUB, Arm, rp_path, rpc_path, standard_scenario

COPY_LRO = 7
DONE = 24 * 3600
AUTH = {"Authorization": "Bearer t"}


async def operation(arm: Arm, response: Any) -> dict[str, Any]:
    return (await arm.client.get(response.headers["azure-asyncoperation"], headers=AUTH)).json()


# ---- the list -------------------------------------------------------------------------------


def test_variant_sets_are_named_uniquely_and_name_real_settings() -> None:
    names = [v.name for v in variants.ALL_VARIANT_SETS]
    assert len(names) == len(set(names))
    assert names[0] == "default"
    assert variants.ALL_VARIANT_SETS[0].overrides == {}
    fields = {f.name for f in dataclasses.fields(EmulatorConfig)}
    for variant in variants.variant_sets():
        assert set(variant.overrides) <= fields, variant.name
        variant.config(time_scale=0)  # every set is a valid config
    # every alternative value of every variant setting is covered by some set (levels: Warning)
    covered = {(k, v) for s in variants.ALL_VARIANT_SETS for k, v in s.overrides.items()}
    for name, allowed in CHOICES.items():
        alternatives = {"Warning"} if name.endswith("_level") else allowed
        for value in alternatives - {getattr(EmulatorConfig(), name)}:
            assert (name, value) in covered, (name, value)


def test_unknown_variant_and_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        variants.get("nope")
    with pytest.raises(ValueError, match="copyRuleRefusal"):
        EmulatorConfig(copy_rule_refusal="later")


async def test_variants_through_the_control_plane(make_arm) -> None:
    arm = await make_arm(standard_scenario())
    listed = await arm.ctl.variants()
    assert [v["name"] for v in listed] == [v.name for v in variants.ALL_VARIANT_SETS]
    assert listed[1]["overrides"] == {"copyRuleRefusal": "operation"}
    applied = await arm.ctl.apply_variant("strict")
    assert applied["config"]["repeatedRestorePointPut"] == "409"
    applied = await arm.ctl.apply_variant("default")  # undoes every variant setting
    assert applied["config"]["repeatedRestorePointPut"] == "201"
    assert applied["config"]["copyRuleRefusal"] == "put"
    with pytest.raises(EmulatorControlError) as info:
        await arm.ctl.update_config(throttleBody="xml")
    assert info.value.status == 400
    assert (await arm.ctl.update_config())["throttleBody"] == "wrapped"  # unchanged


# ---- (a) copy-rule refusal at the PUT or in the operation ------------------------------------


async def refusal_cases(arm: Arm) -> dict[str, Any]:
    """Put the emulator where each refusal applies; return the refused PUTs' responses."""
    await arm.target_rpc()
    await arm.target_rpc("rpc1-ne", location="northeurope")
    r = await arm.copy("rp2")
    assert r.status_code == 201, r.text
    await arm.advance(COPY_LRO)  # rp2's copy is replicating
    out = {"in-flight": await arm.copy("rp3")}
    await arm.advance(DONE)
    out["out-of-order"] = await arm.copy("rp1")
    out["duplicate"] = await arm.copy("rp2", name="again")
    body = {"properties": {"sourceRestorePoint": {"id": rp_path("rpc1-dr", "rp2-copy")}}}
    out["copy-of-copy"] = await arm.put(rp_path("rpc1-ne", "coc"), body)
    body = {
        "properties": {
            "sourceRestorePoint": {"id": rp_path("rpc1", "rp3")},
            "excludeDisks": [{"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                             "Microsoft.Compute/disks/vm1_DataDisk_1"}],
        }
    }  # fmt: skip
    out["excluded-disks"] = await arm.put(rp_path("rpc1-ne", "excl"), body)
    return out


EXPECTED = {"in-flight": 409, "out-of-order": 409, "duplicate": 409, "copy-of-copy": 400,
            "excluded-disks": 400}  # fmt: skip


async def test_refusals_at_the_put_by_default(make_arm) -> None:
    arm = await make_arm(standard_scenario())
    for case, r in (await refusal_cases(arm)).items():
        assert (r.status_code, r.json()["error"]["code"]) == (EXPECTED[case], "OperationNotAllowed")


async def test_refusals_in_the_operation(make_arm) -> None:
    arm = await make_arm(standard_scenario(), copy_rule_refusal="operation")
    refused = await refusal_cases(arm)
    for case, r in refused.items():
        assert r.status_code == 201, (case, r.text)
        assert r.json()["properties"]["provisioningState"] == "Creating"
        assert "azure-asyncoperation" in r.headers
    await arm.advance(COPY_LRO)
    for case, r in refused.items():
        status = await operation(arm, r)
        assert status["status"] == "Failed", case
        assert status["error"]["code"] == "OperationNotAllowed", case
        got = (await arm.client.get(r.request.url, headers=AUTH)).json()["properties"]
        assert got["provisioningState"] == "Failed", case
        monitor = r.headers["azure-asyncoperation"] + "&monitor=true"
        assert (await arm.client.get(monitor, headers=AUTH)).status_code == EXPECTED[case]
    failures = [
        e
        for e in (await arm.ctl.events())["events"]
        if e["eventType"] == "Microsoft.Resources.ResourceWriteFailure"
    ]
    assert len(failures) == len(refused)
    # A refused copy neither blocks nor counts: rp3 copies once its name is free again.
    assert (await arm.delete(rp_path("rpc1-dr", "rp3-copy"))).status_code == 202
    await arm.advance(20)
    assert (await arm.copy("rp3")).status_code == 201


async def test_throttle_stays_at_the_put_in_the_operation_variant(make_arm) -> None:
    arm = await make_arm(standard_scenario(), copy_rule_refusal="operation")
    await arm.target_rpc()
    codes = [(await arm.copy("rp1", name=f"c{i}")).status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]  # the 2nd and 3rd are refusals in their operations


# ---- (b) replication codes and a failed copy's provisioningState ------------------------------


async def failing_copy(make_arm, **config: Any) -> Arm:
    s = Scenario(SUB).vm("vm1", os_disk=DiskSpec(size_gb=128, used_gb=20))
    arm = await make_arm(s.collection("rpc1", vm="vm1").restore_point("rp1", "rpc1"), **config)
    await arm.ctl.add_fault(
        operation="RestorePoints_Create", kind="replication_failure", failAfterSeconds=1200
    )
    await arm.target_rpc()
    assert (await arm.copy("rp1")).status_code == 201
    await arm.advance(COPY_LRO + 600)
    return arm


@pytest.mark.parametrize(
    ("variant", "running", "failed"),
    [
        ("default", ("ReplicationState/inProgress", "Info"), ("ReplicationState/failed", "Error")),
        (
            "replication-codes-pascal",
            ("ReplicationState/InProgress", "Info"),
            ("ReplicationState/Failed", "Error"),
        ),
        (
            "replication-warning-levels",
            ("ReplicationState/inProgress", "Warning"),
            ("ReplicationState/failed", "Warning"),
        ),
    ],
)
async def test_replication_codes(
    make_arm, variant: str, running: tuple[str, str], failed: tuple[str, str]
) -> None:
    arm = await failing_copy(make_arm, **variants.get(variant).overrides)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    disk = iv["diskRestorePoints"][0]["replicationStatus"]["status"]
    assert (disk["code"], disk["level"]) == running
    assert (iv["statuses"][0]["code"], iv["statuses"][0]["level"]) == running
    await arm.advance(600)
    iv = await arm.instance_view("rpc1-dr", "rp1-copy")
    assert (iv["statuses"][0]["code"], iv["statuses"][0]["level"]) == failed
    succeeded = {
        "code": "ReplicationState/succeeded",
        "level": "Info",
        "displayStatus": "Succeeded",
    }
    local = await arm.instance_view("rpc1", "rp1")
    assert local["statuses"] == [succeeded]  # the documented code never changes


@pytest.mark.parametrize(("setting", "state"), [("Succeeded", "Succeeded"), ("Failed", "Failed")])
async def test_failed_copy_keeps_or_loses_succeeded(make_arm, setting: str, state: str) -> None:
    arm = await failing_copy(make_arm, failed_copy_provisioning_state=setting)
    path = rp_path("rpc1-dr", "rp1-copy")
    assert (await arm.get(path)).json()["properties"]["provisioningState"] == "Succeeded"
    await arm.advance(600)  # replication has failed
    assert (await arm.get(path)).json()["properties"]["provisioningState"] == state
    # either way it no longer counts as a copy of rp1: a retry under a new name is allowed
    assert (await arm.copy("rp1", name="retry")).status_code == 201


# ---- (c) a repeated PUT of an existing restore point ------------------------------------------


@pytest.mark.parametrize(("setting", "status"), [("201", 201), ("200", 200), ("409", 409)])
async def test_repeated_put(make_arm, setting: str, status: int) -> None:
    arm = await make_arm(standard_scenario(), repeated_restore_point_put=setting)
    await arm.target_rpc()
    first = await arm.copy("rp1")
    assert first.status_code == 201
    again = await arm.copy("rp1")
    assert again.status_code == status, again.text
    if status == 409:
        assert again.json()["error"]["code"] == "OperationNotAllowed"
    else:
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["azure-asyncoperation"] == first.headers["azure-asyncoperation"]
    changed = await arm.put(rp_path("rpc1-dr", "rp1-copy"), {"properties": {}})
    assert changed.status_code == 409  # a different body is refused in every variant


# ---- (d) the 429 body -------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["wrapped", "bare"])
async def test_throttle_body(make_arm, setting: str) -> None:
    arm = await make_arm(standard_scenario(), throttle_body=setting, copy_puts_per_hour=1)
    await arm.target_rpc()
    assert (await arm.copy("rp1")).status_code == 201
    r = await arm.copy("rp2")
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    error = body["error"] if setting == "wrapped" else body
    assert set(body) == ({"error"} if setting == "wrapped" else {"code", "message", "details"})
    assert error["code"] == "OperationNotAllowed"
    assert error["details"][0]["code"] == "TooManyRequests"


# ---- (e) cross-region creation ----------------------------------------------------------------


def cross_region_body() -> dict[str, Any]:
    vm = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    return {"location": "westus", "properties": {"source": {"id": vm}}}


async def test_cross_region_creation_refused_by_default(arm: Arm) -> None:
    r = await arm.put(rpc_path("rpc-west"), cross_region_body())
    assert (r.status_code, r.json()["error"]["code"]) == (400, "InvalidParameter")


@pytest.mark.parametrize("setting", ["allow", "copy-rules"])
async def test_cross_region_creation(make_arm, setting: str) -> None:
    arm = await make_arm(standard_scenario(), cross_region_creation=setting)
    r = await arm.put(rpc_path("rpc-west"), cross_region_body())
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["source"]["location"] == "eastus"
    assert r.json()["location"] == "westus"
    first = await arm.put(rp_path("rpc-west", "a"), {})
    assert first.status_code == 201, first.text
    assert "/locations/westus/operations/" in first.headers["azure-asyncoperation"]
    await arm.advance(40)  # created; its data is still crossing regions (78 GiB)
    iv = await arm.instance_view("rpc-west", "a")
    assert iv["statuses"][0]["code"] == "ReplicationState/inProgress"
    drps = (await arm.get(rp_path("rpc-west", "a") + "/diskRestorePoints", api="2025-01-02")).json()
    assert drps["value"][0]["properties"]["sourceResourceLocation"] == "eastus"
    second = await arm.put(rp_path("rpc-west", "b"), {})
    if setting == "allow":
        assert second.status_code == 201, second.text
    else:
        assert second.status_code == 409  # one in flight per collection
        assert second.json()["error"]["code"] == "OperationNotAllowed"
    await arm.advance(DONE)
    iv = await arm.instance_view("rpc-west", "a")
    assert iv["statuses"][0]["code"] == "ReplicationState/succeeded"


async def test_cross_region_creation_budget_in_the_copy_rules_variant(make_arm) -> None:
    s = Scenario(SUB).vm("vm1", rg="rg", os_disk=DiskSpec(size_gb=64, used_gb=0.5))
    arm = await make_arm(s, cross_region_creation="copy-rules", copy_throttle_window_seconds=3600)
    assert (await arm.put(rpc_path("rpc-west"), cross_region_body())).status_code == 201
    statuses = []
    for name in ("a", "b", "c", "d"):
        statuses.append((await arm.put(rp_path("rpc-west", name), {})).status_code)
        await arm.advance(40 + 600)  # created and replicated (0.5 GiB: one tick)
    assert statuses == [201, 201, 201, 429]
