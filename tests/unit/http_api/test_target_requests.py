"""POST /api/copies with target options or a VM (create-in-target), and ?sourceVmId=."""

from __future__ import annotations

import json

import pytest

from shared.errors import InvalidRequest
from shared.http_api.requests import parse_copy_request, parse_list_query
from shared.jobs.create_intake import CreateRequest
from shared.jobs.intake import CopyRequest
from shared.model.copy_options import CopyOptions
from shared.storage.ledger import JobFilter

SUB = "00000000-0000-0000-0000-0000000000aa"
SUB_B = "00000000-0000-0000-0000-0000000000bb"
RG = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
RP = f"{RG}/restorePointCollections/rpc1/restorePoints/rp1"
VM = f"{RG}/virtualMachines/vm1"
DES = f"{RG}/diskEncryptionSets/des1"
DISK = f"{RG}/disks/d1"


def parse(body: dict[str, object]) -> CopyRequest | CreateRequest:
    return parse_copy_request(json.dumps(body).encode())


def fields_of(body: dict[str, object]) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        parse(body)
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_copy_request_with_options() -> None:
    request = parse(
        {
            "sourceRestorePointId": RP,
            "targetRegion": "westus",
            "targetSubscriptionId": SUB_B,
            "diskEncryptionSetId": DES,
            "copyTags": ["env"],
        }
    )
    assert isinstance(request, CopyRequest)
    assert request.options == CopyOptions(
        target_subscription_id=SUB_B, disk_encryption_set_id=DES, copy_tags=("env",)
    )
    assert parse({"sourceRestorePointId": RP, "targetRegion": "westus"}).options == CopyOptions()


def test_create_request() -> None:
    request = parse(
        {
            "sourceVmId": VM,
            "targetRegion": "westus",
            "restorePointName": "nightly-1",
            "excludeDisks": [DISK],
            "targetSubscriptionId": SUB_B,
        }
    )
    assert isinstance(request, CreateRequest)
    assert str(request.vm) == VM
    assert request.restore_point_name == "nightly-1"
    assert request.options.creates_in_target
    assert request.options.exclude_disks == (DISK,)
    assert request.options.target_subscription_id == SUB_B


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"sourceRestorePointId": RP, "targetRegion": "westus", "targetSubscriptionId": "x"},
            "targetSubscriptionId",
            "not a subscription id",
        ),
        (
            {"sourceRestorePointId": RP, "targetRegion": "westus", "diskEncryptionSetId": VM},
            "diskEncryptionSetId",
            "diskEncryptionSets",
        ),
        (
            {"sourceRestorePointId": RP, "targetRegion": "westus", "copyTags": "yes"},
            "copyTags",
            "true, false or a list",
        ),
        ({"sourceVmId": RP, "targetRegion": "westus"}, "sourceVmId", "virtualMachines"),
        ({"sourceVmId": VM}, "targetRegion", "is required"),
        (
            {"sourceVmId": VM, "targetRegion": "westus", "excludeDisks": [VM]},
            "excludeDisks",
            "disks",
        ),
        (
            {"sourceVmId": VM, "targetRegion": "westus", "copyTags": True},
            "copyTags",
            "unknown field",
        ),
        (
            {"sourceVmId": VM, "targetRegion": "westus", "restorePointName": 5},
            "restorePointName",
            "must be a string",
        ),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, object], field: str, message: str) -> None:
    problems = fields_of(body)
    assert field in problems, problems
    assert message in problems[field]


def test_source_vm_filter() -> None:
    filters, _, _ = parse_list_query({"sourceVmId": VM})
    assert filters == JobFilter(source_vm_id=VM)
    with pytest.raises(InvalidRequest) as caught:
        parse_list_query({"sourceVmId": RP})
    assert caught.value.errors[0]["field"] == "sourceVmId"
