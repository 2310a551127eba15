"""Restore point collections and the ARM wire protocol: status codes, headers, auth, versions,
paging, case-insensitivity, the delete LRO."""

from __future__ import annotations

import re
import uuid

import pytest

from arm_emulator.scenarios import Scenario

from .conftest import API, SUB, Arm, rp_path, rpc_path, standard_scenario

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+00:00$")
VM_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"


async def test_rpc_put_creates_201_then_updates_200_synchronously(arm: Arm) -> None:
    body = {"location": "eastus", "properties": {"source": {"id": VM_ID}}, "tags": {"a": "1"}}
    r = await arm.put(rpc_path("rpcnew"), body)
    assert r.status_code == 201, r.text
    assert "azure-asyncoperation" not in r.headers  # synchronous [WIRE]
    data = r.json()
    assert list(data) == ["name", "id", "type", "location", "tags", "properties"]
    assert data["type"] == "Microsoft.Compute/restorePointCollections"
    assert data["properties"]["source"] == {"id": VM_ID, "location": "eastus"}
    assert data["properties"]["provisioningState"] == "Succeeded"
    uuid.UUID(data["properties"]["restorePointCollectionId"])
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "\r\n" in r.text  # Compute pretty-prints with CRLF

    body["tags"] = {"a": "2"}
    r = await arm.put(rpc_path("rpcnew"), body)
    assert r.status_code == 200
    assert r.json()["tags"] == {"a": "2"}


async def test_rpc_update_may_change_only_tags(arm: Arm) -> None:
    r = await arm.put(
        rpc_path("rpc1"), {"location": "westus", "properties": {"source": {"id": VM_ID}}}
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "InvalidResourceLocation"
    other = {"location": "eastus", "properties": {"source": {"id": rpc_path("rpc9")}}}
    r = await arm.put(rpc_path("rpc1"), other)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "PropertyChangeNotAllowed"


async def test_target_rpc_fills_source_location_and_refuses_same_region(arm: Arm) -> None:
    r = await arm.target_rpc()
    assert r.status_code == 201
    assert r.json()["properties"]["source"] == {"id": rpc_path("rpc1"), "location": "eastus"}
    r = await arm.target_rpc("rpc1-same", location="eastus")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "OperationNotAllowed"
    assert "same" in r.json()["error"]["message"].lower()


async def test_vm_sourced_rpc_must_be_in_vm_region_and_vm_must_exist(arm: Arm) -> None:
    r = await arm.put(
        rpc_path("x"), {"location": "westus", "properties": {"source": {"id": VM_ID}}}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "InvalidParameter"
    missing = VM_ID.replace("vm1", "nope")
    r = await arm.put(
        rpc_path("x"), {"location": "eastus", "properties": {"source": {"id": missing}}}
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "ResourceNotFound"


async def test_patch_tags_and_get_expand_restore_points(arm: Arm) -> None:
    r = await arm.patch(rpc_path("rpc1"), {"tags": {"env": "prod"}})
    assert r.status_code == 200
    assert r.json()["tags"] == {"env": "prod"}
    r = await arm.patch(rpc_path("rpc1"), {"properties": {"source": {"id": rpc_path("zzz")}}})
    assert r.status_code == 409
    r = await arm.get(rpc_path("rpc1"))
    assert "restorePoints" not in r.json()["properties"]
    r = await arm.get(rpc_path("rpc1"), params={"$expand": "restorePoints"})
    points = r.json()["properties"]["restorePoints"]
    assert [p["name"] for p in points] == ["rp1", "rp2", "rp3"]
    assert list(points[0]) == ["name", "id", "properties"]  # no type, no location [WIRE]
    assert "instanceView" not in points[0]["properties"]
    r = await arm.get(rpc_path("rpc1"), params={"$expand": "bogus"})
    assert r.status_code == 400


async def test_ids_are_case_insensitive_and_echo_stored_casing(arm: Arm) -> None:
    path = rpc_path("RPC1", rg="RG").replace("resourceGroups", "RESOURCEGROUPS")
    path = path.replace("Microsoft.Compute", "microsoft.compute")
    r = await arm.get(path)
    assert r.status_code == 200
    assert r.json()["name"] == "rpc1"
    assert r.json()["id"] == rpc_path("rpc1")
    r = await arm.get(rp_path("rpc1", "RP2").upper().replace("SUBSCRIPTIONS", "subscriptions"))
    assert r.status_code == 200
    assert r.json()["name"] == "rp2"


async def test_not_found_codes(arm: Arm) -> None:
    r = await arm.get(rpc_path("rpc1", rg="nope"))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ResourceGroupNotFound")
    r = await arm.get(rpc_path("nope"))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ResourceNotFound")
    r = await arm.get(rp_path("nope", "rp1"))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ParentResourceNotFound")
    # A missing nested entity under an existing parent: Compute's own answer.
    r = await arm.get(rp_path("rpc1", "nope"))
    assert (r.status_code, r.json()["error"]) == (
        404,
        {"code": "NotFound", "message": "The entity was not found in this Azure location."},
    )
    r = await arm.get(rpc_path("rpc1", sub=str(uuid.uuid4())))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SubscriptionNotFound")
    r = await arm.get(rpc_path("rpc1", sub="not-a-guid"))
    assert (r.status_code, r.json()["error"]["code"]) == (400, "InvalidSubscriptionId")


async def test_tracing_and_ratelimit_headers(arm: Arm) -> None:
    correlation = str(uuid.uuid4())
    r = await arm.get(
        rpc_path("rpc1"),
        headers={
            "x-ms-correlation-request-id": correlation,
            "x-ms-client-request-id": "client-1",
            "x-ms-return-client-request-id": "true",
        },
    )
    assert r.headers["x-ms-correlation-request-id"] == correlation
    assert r.headers["x-ms-client-request-id"] == "client-1"
    uuid.UUID(r.headers["x-ms-request-id"])
    assert re.match(r"^EASTUS:\d{8}T\d{6}Z:[0-9a-f-]{36}$", r.headers["x-ms-routing-request-id"])
    assert int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0
    r = await arm.get(rpc_path("rpc1"), headers={"x-ms-client-request-id": "client-2"})
    assert "x-ms-client-request-id" not in r.headers  # only echoed when asked
    uuid.UUID(r.headers["x-ms-correlation-request-id"])  # generated
    r = await arm.target_rpc()
    assert int(r.headers["x-ms-ratelimit-remaining-subscription-writes"]) > 0
    assert "PutRestorePointCollectionResource" in r.headers["x-ms-ratelimit-remaining-resource"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "AuthenticationFailed"),
        ({"Authorization": "Basic abc"}, "AuthenticationFailed"),
        ({"Authorization": "Bearer "}, "AuthenticationFailed"),
    ],
)
async def test_auth_required(arm: Arm, headers: dict[str, str], code: str) -> None:
    r = await arm.request("GET", rpc_path("rpc1"), auth=False, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == code
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_strict_token_mode(make_arm) -> None:
    arm = await make_arm(standard_scenario(), token="s3cret")
    r = await arm.get(rpc_path("rpc1"))  # Bearer test-token
    assert (r.status_code, r.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    r = await arm.get(rpc_path("rpc1"), headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200
    # The control plane needs no auth.
    assert (await arm.client.get("/_emulator/health")).status_code == 200


async def test_api_version_checks(arm: Arm) -> None:
    r = await arm.get(rpc_path("rpc1"), api=None)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "MissingApiVersionParameter")
    r = await arm.get(rpc_path("rpc1"), api="2099-01-01")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "InvalidApiVersionParameter")
    assert "2025-04-01" in r.json()["error"]["message"]
    # Disk RP versions are a different series than Compute's.
    r = await arm.get(rpc_path("rpc1"), api="2025-01-02")
    assert r.status_code == 400
    r = await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api="2025-04-01")
    assert r.status_code == 400
    r = await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api="2025-01-02")
    assert r.status_code == 200


async def test_list_paging_by_rg_and_subscription(make_arm) -> None:
    s = Scenario(SUB).vm("vm1", rg="rg").vm("vm2", rg="rg2")
    for i in range(7):
        s.collection(f"a{i}", vm="vm1")
    for i in range(4):
        s.collection(f"b{i}", vm="vm2")
    arm = await make_arm(s, page_size=3)
    names: list[str] = []
    url = rpc_path("x").rsplit("/", 1)[0]
    r = await arm.get(url)
    pages = 0
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        names += [v["name"] for v in body["value"]]
        pages += 1
        if "nextLink" not in body:
            break
        assert body["nextLink"].startswith("http://arm.test/")  # the base URL the client used
        assert "$skiptoken=" in body["nextLink"]
        r = await arm.client.get(body["nextLink"], headers={"Authorization": "Bearer t"})
    assert names == [f"a{i}" for i in range(7)]
    assert pages == 3
    r = await arm.get(f"/subscriptions/{SUB}/providers/Microsoft.Compute/restorePointCollections")
    assert len(r.json()["value"]) == 3
    assert "nextLink" in r.json()
    total: list[str] = []
    while True:
        body = r.json()
        total += [v["name"] for v in body["value"]]
        if "nextLink" not in body:
            break
        r = await arm.client.get(body["nextLink"], headers={"Authorization": "Bearer t"})
    assert sorted(total) == sorted([f"a{i}" for i in range(7)] + [f"b{i}" for i in range(4)])
    r = await arm.get(url, params={"$skiptoken": "garbage"})
    assert r.status_code == 400


async def test_rpc_delete_is_an_lro(arm: Arm) -> None:
    r = await arm.delete(rpc_path("rpc1"))
    assert r.status_code == 202
    assert r.text == ""
    location = r.headers["location"]
    op_url = r.headers["azure-asyncoperation"]
    assert int(r.headers["retry-after"]) >= 1
    assert location.startswith("http://arm.test/subscriptions/")
    assert "monitor=true" in location
    assert "/providers/Microsoft.Compute/locations/eastus/operations/" in op_url
    r = await arm.get(rpc_path("rpc1"))
    assert r.json()["properties"]["provisioningState"] == "Deleting"
    r = await arm.client.get(location, headers={"Authorization": "Bearer t"})
    assert r.status_code == 202
    status = (await arm.client.get(op_url, headers={"Authorization": "Bearer t"})).json()
    assert status["status"] == "InProgress"
    await arm.advance(60)
    r = await arm.client.get(location, headers={"Authorization": "Bearer t"})
    assert r.status_code == 200
    status = (await arm.client.get(op_url, headers={"Authorization": "Bearer t"})).json()
    assert status["status"] == "Succeeded"
    assert TIME_RE.match(status["endTime"])
    assert TIME_RE.match(status["startTime"])
    assert (await arm.get(rpc_path("rpc1"))).status_code == 404
    assert (await arm.get(rp_path("rpc1", "rp1"))).status_code == 404  # RPs go with it
    assert (await arm.delete(rpc_path("rpc1"))).status_code == 204  # idempotent


async def test_resource_group_put_get(arm: Arm) -> None:
    path = f"/subscriptions/{SUB}/resourcegroups/newrg"
    r = await arm.put(path, {"location": "West US 2"}, api="2021-04-01")
    assert r.status_code == 201
    assert r.json()["location"] == "westus2"
    assert r.json()["type"] == "Microsoft.Resources/resourceGroups"
    r = await arm.put(path, {"location": "westus2", "tags": {"x": "y"}}, api="2021-04-01")
    assert r.status_code == 200
    r = await arm.put(path, {"location": "eastus"}, api="2021-04-01")
    assert r.status_code == 409
    r = await arm.get(path, api="2021-04-01")
    assert r.json()["tags"] == {"x": "y"}
    r = await arm.get(f"/subscriptions/{SUB}", api="2022-12-01")
    assert r.json()["subscriptionId"] == SUB


async def test_vm_and_disk_get(arm: Arm) -> None:
    r = await arm.get(VM_ID)
    assert r.status_code == 200
    vm = r.json()
    os_disk = vm["properties"]["storageProfile"]["osDisk"]
    assert os_disk["diskSizeGB"] == 128
    assert [d["lun"] for d in vm["properties"]["storageProfile"]["dataDisks"]] == [0, 1]
    r = await arm.get(os_disk["managedDisk"]["id"], api="2025-01-02")
    assert r.status_code == 200
    disk = r.json()
    assert disk["properties"]["diskState"] == "Attached"
    assert disk["managedBy"] == VM_ID
    r = await arm.get(os_disk["managedDisk"]["id"], api=API)
    assert r.status_code == 400  # disks take Disk RP api-versions
