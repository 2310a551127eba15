"""Target options and create-in-target through the decorated functions (real `func.*` objects,
Azurite, the emulator): a copy with a disk encryption set and its lineage, a set in another
region refused, and a restore point created in the target region from the VM."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import Scenario
from shared.model.job import JobState
from shared.model.message import decode_message
from tests.functions.conftest import FunctionApp
from tests.functions.test_queue_functions import _events, pump
from tests.support import SUBSCRIPTION, TARGET_GROUP, TARGET_REGION, seed_source

DES_WEST = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.Compute"
    "/diskEncryptionSets/fn-des-westus"
)
DES_EAST = DES_WEST.replace("fn-des-westus", "fn-des-eastus")


@pytest.fixture
def control(fn_app: FunctionApp) -> Iterator[EmulatorControl]:
    with EmulatorControl(fn_app.stack.arm_endpoint) as client:
        client.seed(
            Scenario(SUBSCRIPTION)
            .encryption_set("fn-des-westus", TARGET_REGION, rg="rg-keys")
            .encryption_set("fn-des-eastus", "eastus", rg="rg-keys")
        )
        yield client
        client.apply_variant("default")


async def post(fn_app: FunctionApp, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    response = await fn_app.http(
        "copies_create", "POST", "/api/copies", body=json.dumps(body).encode()
    )
    return response.status_code, json.loads(response.get_body())


async def test_copy_with_an_encryption_set_records_its_lineage(
    fn_app: FunctionApp, control: EmulatorControl
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    status, job = await post(
        fn_app,
        {
            "sourceRestorePointId": source.restore_point_id,
            "targetRegion": TARGET_REGION,
            "diskEncryptionSetId": DES_WEST,
        },
    )
    assert status == 202, job
    record, delivered = await pump(fn_app, str(job["id"]))
    assert record.state is JobState.SUCCEEDED, record.failure
    assert record.options.source_vm_id is not None
    assert record.options.source_vm_id.lower() == source.vm_id.lower()
    # Every stage message of this job carried the options.
    mine = [m for m in map(decode_message, delivered) if m.job_id == record.job_id]
    assert mine
    assert all(m.options == record.options for m in mine)
    listed = await fn_app.http(
        "copies_list", "GET", "/api/copies", params={"sourceVmId": source.vm_id}
    )
    assert [j["id"] for j in json.loads(listed.get_body())["value"]] == [record.job_id]
    succeeded = _events(fn_app, record.job_id)[-1]
    assert succeeded["data"]["source"]["vmId"].lower() == source.vm_id.lower()
    assert succeeded["data"]["target"]["diskEncryptionSetId"] == DES_WEST


async def test_an_encryption_set_in_another_region_fails_the_job(
    fn_app: FunctionApp, control: EmulatorControl
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    status, job = await post(
        fn_app,
        {
            "sourceRestorePointId": source.restore_point_id,
            "targetRegion": TARGET_REGION,
            "diskEncryptionSetId": DES_EAST,
        },
    )
    assert status == 202, job
    record, _ = await pump(fn_app, str(job["id"]))
    assert record.state is JobState.FAILED
    assert record.failure is not None
    assert record.failure.code == "InvalidParameter"
    assert "in region 'eastus'" in record.failure.message
    assert [e["type"] for e in _events(fn_app, record.job_id)][
        -1
    ] == "com.example.rpcopy.copy.failed"


# Every variant in which Azure creates restore points in another region at all.
CREATION_VARIANTS = [
    "cross-region-creation",
    "cross-region-creation-copy-rules",
    "strict",
    "lenient",
]


@pytest.mark.parametrize("variant", CREATION_VARIANTS)
async def test_a_restore_point_created_in_the_target_region(
    fn_app: FunctionApp, control: EmulatorControl, variant: str
) -> None:
    control.apply_variant(variant)
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    body = {
        "sourceVmId": source.vm_id,
        "targetRegion": TARGET_REGION,
        "targetResourceGroup": TARGET_GROUP,
    }
    status, job = await post(fn_app, body)
    assert status == 202, job
    record, delivered = await pump(fn_app, str(job["id"]))
    assert record.state is JobState.SUCCEEDED, record.failure
    assert record.options.creates_in_target
    stages = [m.stage.value for m in map(decode_message, delivered) if m.job_id == record.job_id]
    assert stages[:2] == ["ensure-target", "start-copy"]
    assert stages[-1] == "finish"
    assert len(record.disks) == 2
    assert all(d.percent == 100.0 for d in record.disks)
    events = _events(fn_app, record.job_id)
    assert [e["type"] for e in events] == [
        "com.example.rpcopy.copy.started",
        "com.example.rpcopy.copy.succeeded",
    ]
    assert events[-1]["data"]["mode"] == "create-in-target"
    assert events[-1]["data"]["source"]["vmId"] == source.vm_id

    # Refused at the door: a VM that does not exist (422) and a same-region target (422).
    status, problem = await post(fn_app, {**body, "sourceVmId": source.vm_id + "-gone"})
    assert status == 422, problem
    status, problem = await post(fn_app, {**body, "targetRegion": "eastus"})
    assert status == 422, problem
