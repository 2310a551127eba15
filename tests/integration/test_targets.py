"""Targets end to end, in the local host against Azurite and the emulator: a target collection
in another subscription with a disk encryption set and the source's tags, lineage that outlives
the source restore point, an encryption set in the wrong region refused, and restore points
created directly in the target region from the VM (over HTTP and by the sweep)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from devstack.stack import EMULATOR_TOKEN, FAST_APP_SETTINGS, Stack, StackOptions, running_stack
from tests.support import SUBSCRIPTION, EventLog, unique, wait_for

pytestmark = pytest.mark.slow

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"
API = {"api-version": "2025-04-01"}
TERMINAL = {"Succeeded", "Failed", "Superseded"}
TAGGED_GROUP = "rg-tagged"
CREATE_GROUP = "rg-create"
DES_WEST = (
    f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-keys/providers/Microsoft.Compute"
    "/diskEncryptionSets/des-westus"
)
DES_EAST = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-keys-east/providers/Microsoft.Compute"
    "/diskEncryptionSets/des-eastus"
)

EMULATOR_CONFIG = {
    "progressIntervalSeconds": 1,
    "replicationBandwidthMbps": 40000,
    "copyLroSeconds": 0.3,
    "localCreateSeconds": 0.3,
    "crashConsistentCreateSeconds": 0.3,
    "deleteSeconds": 0.3,
    # Cross-region creation (arm-contract §14) is a variant: on for this stack.
    "crossRegionCreation": "allow",
}

POLICY = {
    "version": 1,
    "policies": [
        {
            "name": "dr-other-subscription",
            "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": TAGGED_GROUP},
            "targets": [
                {
                    "region": "westus",
                    "subscriptionId": OTHER_SUB,
                    "resourceGroup": "rg-dr",
                    "diskEncryptionSetId": DES_WEST,
                    "copyTags": ["env", "Owner"],
                }
            ],
        },
        {
            "name": "created-in-dr",
            "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": CREATE_GROUP},
            "targets": [
                {
                    "region": "westus",
                    "resourceGroup": "rg-dr",
                    "mode": "create-in-target",
                    "rpoMinutes": 60,
                    "retention": {"keepLast": 2},
                }
            ],
            # Drills only on request here: every sweep of this module would start one.
            "drill": {"every": "1d", "resourceGroup": "rg-drills", "enabled": False},
        },
    ],
}


@pytest.fixture(scope="module")
def targets_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("targets-stack"))
    (workdir / "policy.json").write_text(json.dumps(POLICY, indent=2))
    (workdir / "emulator.json").write_text(json.dumps(EMULATOR_CONFIG))
    settings = {
        **FAST_APP_SETTINGS,
        "POLICY_FILE": str(workdir / "policy.json"),
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",  # the tests run the sweep themselves
    }
    options = StackOptions(
        time_scale=1.0,
        hosts=1,
        app_settings=settings,
        emulator_config=workdir / "emulator.json",
        workdir=workdir,
    )
    with running_stack(options) as stack:
        yield stack


@pytest.fixture(scope="module")
def api(targets_stack: Stack) -> Iterator[httpx.Client]:
    headers = {"x-functions-key": targets_stack.options.function_key}
    with httpx.Client(base_url=targets_stack.host_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def arm(targets_stack: Stack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {EMULATOR_TOKEN}"}
    with httpx.Client(
        base_url=targets_stack.arm_endpoint, headers=headers, params=API, timeout=30
    ) as client:
        yield client


@pytest.fixture(scope="module")
def control(targets_stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(targets_stack.arm_endpoint) as client:
        yield client


@pytest.fixture(scope="module")
def events(targets_stack: Stack) -> EventLog:
    return EventLog(targets_stack.storage_connection, "copy-events")


def seed_vm(control: EmulatorControl, group: str, tags: dict[str, str] | None = None) -> Any:
    """A VM (OS + one data disk) in eastus with its collection and one restore point."""
    vm = unique("vm")
    scenario = (
        Scenario(SUBSCRIPTION)
        .resource_group(group, "eastus")
        .resource_group("rg-dr", "westus")
        .resource_group("rg-drills", "westus")
        .resource_group("rg-dr", "westus", subscription_id=OTHER_SUB)
        .encryption_set("des-westus", "westus", rg="rg-keys", subscription_id=OTHER_SUB)
        .encryption_set("des-eastus", "eastus", rg="rg-keys-east")
        .vm(
            vm,
            rg=group,
            location="eastus",
            os_disk=DiskSpec(size_gb=32, used_gb=2),
            data_disks=[DiskSpec(lun=0, size_gb=32, used_gb=2)],
        )
        .collection(f"rpc-{vm}", vm=vm, tags=tags)
        .restore_point("rp1", f"rpc-{vm}", age_seconds=600)
    )
    control.seed(scenario)
    return scenario, vm


def run_sweep(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.host_url}/admin/functions/sweep_timer",
        json={"input": ""},
        headers={"x-functions-key": stack.options.master_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text


def list_jobs(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/copies", params={"pageSize": "100", **params})
    assert response.status_code == 200, response.text
    return response.json()["value"]


def wait_terminal(api: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = api.get(f"/api/copies/{job_id}").json()
        return job if job["state"] in TERMINAL else None

    return wait_for(done, timeout=timeout, what=f"job {job_id} to end")


def test_other_subscription_encryption_tags_and_lineage(
    api: httpx.Client, arm: httpx.Client, control: EmulatorControl, targets_stack: Stack
) -> None:
    tags = {"env": "prod", "Owner": "team-a", "cost-center": "42"}
    scenario, vm = seed_vm(control, TAGGED_GROUP, tags)
    vm_id, rpc_id = scenario.vm_id(vm), scenario.rpc_id(f"rpc-{vm}")
    source_rp = scenario.rp_id(f"rpc-{vm}", "rp1")

    # The dry run already names the target in the other subscription.
    plan = api.get("/api/plan").json()
    [pair] = [p for p in plan["pairs"] if p["sourceCollectionId"].lower() == rpc_id.lower()]
    assert pair["targetCollectionId"].startswith(
        f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-dr/"
    )
    assert [c["sourceRestorePointId"] for c in pair["plan"]["copies"]] == [source_rp]

    run_sweep(targets_stack)
    job_id = wait_for(
        lambda: next(iter(list_jobs(api, sourceCollectionId=rpc_id)), None),
        timeout=30,
        what="the sweep's copy job",
    )["id"]
    job = wait_terminal(api, job_id)
    assert job["state"] == "Succeeded", job
    assert job["sourceVmId"].lower() == vm_id.lower()
    assert job["targetSubscriptionId"] == OTHER_SUB
    assert job["diskEncryptionSetId"] == DES_WEST

    target = arm.get(job["targetCollectionId"]).json()
    assert target["id"].startswith(f"/subscriptions/{OTHER_SUB}/")
    assert target["properties"]["source"]["id"].lower() == rpc_id.lower()
    lowered = {k.lower(): v for k, v in target["tags"].items()}
    assert lowered["rpcopy-managed"] == "true"
    assert lowered["rpcopy-source-vm"].lower() == vm_id.lower()
    assert lowered["rpcopy-source-collection"].lower() == rpc_id.lower()
    assert (lowered["env"], lowered["owner"]) == ("prod", "team-a")
    assert "cost-center" not in lowered, "only the listed tags are copied"

    copy = arm.get(job["targetRestorePointId"]).json()
    storage = copy["properties"]["sourceMetadata"]["storageProfile"]
    for disk in [storage["osDisk"], *storage["dataDisks"]]:
        assert disk["diskRestorePoint"]["encryption"]["diskEncryptionSet"]["id"] == DES_WEST

    # Lineage outlives the source restore point: delete it, and the VM still finds its copy.
    deleted = arm.delete(source_rp)
    assert deleted.status_code in (200, 202, 204), deleted.text
    wait_for(
        lambda: arm.get(source_rp).status_code == 404, timeout=30, what="the source to be deleted"
    )
    found = list_jobs(api, sourceVmId=vm_id.upper())
    assert [j["id"] for j in found] == [job_id]
    assert found[0]["targetRestorePointId"] == job["targetRestorePointId"]

    protection = api.get("/api/protection").json()
    [status] = [p for p in protection["pairs"] if p["sourceCollectionId"].lower() == rpc_id.lower()]
    assert status["targetCollectionId"] == job["targetCollectionId"]


def test_encryption_set_in_another_region_is_refused(
    api: httpx.Client, control: EmulatorControl, events: EventLog
) -> None:
    scenario, vm = seed_vm(control, "rg-manual")
    body = {
        "sourceRestorePointId": scenario.rp_id(f"rpc-{vm}", "rp1"),
        "targetRegion": "westus",
        "targetResourceGroup": "rg-dr",
        "diskEncryptionSetId": DES_EAST,
    }
    accepted = api.post("/api/copies", json=body)
    assert accepted.status_code == 202, accepted.text
    job = wait_terminal(api, accepted.json()["id"])
    assert job["state"] == "Failed", job
    assert job["error"]["code"] == "InvalidParameter"
    assert "region 'eastus'" in job["error"]["message"]
    assert "'westus'" in job["error"]["message"]
    events.wait_for(job["id"], "com.example.rpcopy.copy.failed", timeout=30)
    # A malformed set id is refused at the door, with the field.
    bad = api.post("/api/copies", json={**body, "diskEncryptionSetId": "des-eastus"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "diskEncryptionSetId"


def test_create_in_target_over_http(
    api: httpx.Client, arm: httpx.Client, control: EmulatorControl, events: EventLog
) -> None:
    scenario, vm = seed_vm(control, "rg-manual")
    vm_id = scenario.vm_id(vm)
    body = {
        "sourceVmId": vm_id,
        "targetRegion": "westus",
        "targetResourceGroup": "rg-dr",
        "restorePointName": "created-1",
    }
    accepted = api.post("/api/copies", json=body)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Location"] == f"/api/copies/{accepted.json()['id']}"
    again = api.post("/api/copies", json=body)
    assert again.status_code == 200
    assert again.json()["id"] == accepted.json()["id"]

    job = wait_terminal(api, accepted.json()["id"])
    assert job["state"] == "Succeeded", job
    assert job["mode"] == "create-in-target"
    assert "sourceRestorePointId" not in job
    events.wait_for(job["id"], "com.example.rpcopy.copy.succeeded", timeout=30)

    collection = arm.get(job["targetCollectionId"]).json()
    assert collection["location"] == "westus"
    assert collection["properties"]["source"]["id"].lower() == vm_id.lower()
    assert collection["tags"]["rpcopy-source-vm"].lower() == vm_id.lower()
    created = arm.get(job["targetRestorePointId"], params={**API, "$expand": "instanceView"})
    props = created.json()["properties"]
    assert "sourceRestorePoint" not in props, "created from the VM, not copied"
    assert {s["code"] for s in props["instanceView"]["statuses"]} == {"ReplicationState/succeeded"}
    # Nothing was created in the source region for it.
    source = arm.get(scenario.rpc_id(f"rpc-{vm}"), params={**API, "$expand": "restorePoints"})
    assert [rp["name"] for rp in source.json()["properties"]["restorePoints"]] == ["rp1"]
    assert [j["id"] for j in list_jobs(api, sourceVmId=vm_id)] == [job["id"]]

    same_region = api.post("/api/copies", json={**body, "targetRegion": "eastus"})
    assert same_region.status_code == 422, same_region.text


def test_create_in_target_by_the_sweep(
    api: httpx.Client, arm: httpx.Client, control: EmulatorControl, targets_stack: Stack
) -> None:
    scenario, vm = seed_vm(control, CREATE_GROUP)
    vm_id, rpc_id = scenario.vm_id(vm), scenario.rpc_id(f"rpc-{vm}")

    plan = api.get("/api/plan").json()
    [pair] = [p for p in plan["pairs"] if p["sourceCollectionId"].lower() == rpc_id.lower()]
    assert pair["mode"] == "create-in-target"
    assert pair["creation"]["due"] is True
    assert "plan" not in pair, "a create-in-target pair copies no source restore points"

    run_sweep(targets_stack)
    job_id = wait_for(
        lambda: next(iter(list_jobs(api, sourceVmId=vm_id)), None),
        timeout=30,
        what="the sweep's create-in-target job",
    )["id"]
    job = wait_terminal(api, job_id)
    assert job["state"] == "Succeeded", job
    assert job["trigger"] == "sweep"
    created = arm.get(job["targetRestorePointId"]).json()
    assert "sourceRestorePoint" not in created["properties"]

    # The next sweep finds it recent and creates nothing; the protection status judges it.
    plan = api.get("/api/plan").json()
    [pair] = [p for p in plan["pairs"] if p["sourceCollectionId"].lower() == rpc_id.lower()]
    assert (pair["creation"]["due"], pair["creation"]["reason"]) == (False, "recent")
    protection = api.get("/api/protection").json()
    [status] = [p for p in protection["pairs"] if p["sourceCollectionId"].lower() == rpc_id.lower()]
    assert status["mode"] == "create-in-target"
    assert status["newestUsable"]["jobId"] == job_id
    assert status["rpoState"] == "ok"
    # The source collection's own restore point was never copied.
    assert all(j.get("mode") == "create-in-target" for j in list_jobs(api, sourceVmId=vm_id))


def test_a_create_in_target_pair_is_drilled_from_its_vm_copies(
    api: httpx.Client, arm: httpx.Client, control: EmulatorControl
) -> None:
    # A create-in-target pair's jobs are keyed by its VM, not by its source collection: the
    # drill must find them there.
    scenario, vm = seed_vm(control, CREATE_GROUP)
    vm_id, rpc_id = scenario.vm_id(vm), scenario.rpc_id(f"rpc-{vm}")
    body = {"sourceVmId": vm_id, "targetRegion": "westus", "targetResourceGroup": "rg-dr"}
    accepted = api.post("/api/copies", json=body)
    assert accepted.status_code == 202, accepted.text
    job = wait_terminal(api, accepted.json()["id"])
    assert job["state"] == "Succeeded", job

    started = api.post("/api/drills", json={"sourceCollectionId": rpc_id, "targetRegion": "westus"})
    assert started.status_code == 202, started.text
    drill_id = started.json()["id"]

    def finished() -> dict[str, Any] | None:
        current = api.get(f"/api/drills/{drill_id}").json()
        return current if current["state"] != "Running" else None

    drill = wait_for(finished, timeout=60, what=f"drill {drill_id}")
    assert drill["state"] == "Succeeded", drill
    assert drill["restorePointId"].lower() == job["targetRestorePointId"].lower()
    disks = arm.get(
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-drills/providers/Microsoft.Compute/disks",
        params={"api-version": "2025-01-02"},
    )
    assert disks.status_code == 200, disks.text
    assert disks.json()["value"] == [], "the drill removed its disks"
