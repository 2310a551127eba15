# ruff: noqa: E501 - the bad-request table reads best one case per line
"""Bad input gets the 4xx an ARM endpoint gives - never a 500, never a crash."""

from __future__ import annotations

import pytest

from .conftest import API, AUTH, SUB, Arm, rp_path, rpc_path

RPC = rpc_path("rpcx")
RP = rp_path("rpc1", "new")
JSON = {"content-type": "application/json"}
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
DRP_LIST = rp_path("rpc1", "rp1") + "/diskRestorePoints"

CASES = [
    # (id, method, path, query, body bytes, extra headers, status, code)
    ("malformed-json", "PUT", RPC, f"api-version={API}", b'{"location": ', JSON, 400, "InvalidRequestContent"),
    ("not-utf8", "PUT", RPC, f"api-version={API}", b"\xff\xfe{", JSON, 400, "InvalidRequestContent"),
    ("array-body", "PUT", RPC, f"api-version={API}", b"[1,2]", JSON, 400, "InvalidRequestContent"),
    ("no-location", "PUT", RPC, f"api-version={API}", b"{}", JSON, 400, "LocationRequired"),
    ("location-number", "PUT", RPC, f"api-version={API}", b'{"location": 5}', JSON, 400, "InvalidRequestContent"),
    ("unknown-region", "PUT", RPC, f"api-version={API}", b'{"location": "mars"}', JSON, 400, "LocationNotAvailableForResourceType"),
    ("no-source", "PUT", RPC, f"api-version={API}", b'{"location": "eastus"}', JSON, 400, "InvalidParameter"),
    ("source-not-object", "PUT", RPC, f"api-version={API}", b'{"location": "eastus", "properties": {"source": "x"}}', JSON, 400, "InvalidRequestContent"),
    ("source-bad-id", "PUT", RPC, f"api-version={API}", b'{"location": "eastus", "properties": {"source": {"id": "vm1"}}}', JSON, 400, "LinkedInvalidPropertyId"),
    ("source-wrong-type", "PUT", RPC, f"api-version={API}", f'{{"location": "eastus", "properties": {{"source": {{"id": "{VM}/extensions/x"}}}}}}'.encode(), JSON, 400, "LinkedInvalidPropertyId"),
    ("tags-not-strings", "PUT", RPC, f"api-version={API}", b'{"location": "eastus", "tags": {"a": 1}}', JSON, 400, "InvalidRequestContent"),
    ("instant-access-string", "PUT", RPC, f"api-version={API}", f'{{"location": "eastus", "properties": {{"source": {{"id": "{VM}"}}, "instantAccess": "yes"}}}}'.encode(), JSON, 400, "InvalidRequestContent"),
    ("text-plain", "PUT", RPC, f"api-version={API}", b"hello", {"content-type": "text/plain"}, 415, "UnsupportedMediaType"),
    ("exclude-not-list", "PUT", RP, f"api-version={API}", b'{"properties": {"excludeDisks": "d"}}', JSON, 400, "InvalidRequestContent"),
    ("exclude-bad-id", "PUT", RP, f"api-version={API}", b'{"properties": {"excludeDisks": [{"id": "d"}]}}', JSON, 400, "LinkedInvalidPropertyId"),
    ("exclude-no-id", "PUT", RP, f"api-version={API}", b'{"properties": {"excludeDisks": [{}]}}', JSON, 400, "InvalidRequestContent"),
    ("minutes-string", "PUT", RP, f"api-version={API}", b'{"properties": {"instantAccessDurationMinutes": "x"}}', JSON, 400, "InvalidRequestContent"),
    ("minutes-range", "PUT", RP, f"api-version={API}", b'{"properties": {"instantAccessDurationMinutes": 5}}', JSON, 400, "InvalidParameter"),
    ("properties-list", "PUT", RP, f"api-version={API}", b'{"properties": []}', JSON, 400, "InvalidRequestContent"),
    ("source-rp-number", "PUT", RP, f"api-version={API}", b'{"properties": {"sourceRestorePoint": {"id": 3}}}', JSON, 400, "InvalidRequestContent"),
    ("no-api-version", "GET", RPC, "", b"", {}, 400, "MissingApiVersionParameter"),
    ("empty-api-version", "GET", RPC, "api-version=", b"", {}, 400, "MissingApiVersionParameter"),
    ("garbage-api-version", "GET", RPC, "api-version=latest", b"", {}, 400, "InvalidApiVersionParameter"),
    ("old-api-version", "GET", RPC, "api-version=2019-07-01", b"", {}, 400, "InvalidApiVersionParameter"),
    ("unknown-namespace", "GET", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Nope/things/x", f"api-version={API}", b"", {}, 400, "InvalidResourceNamespace"),
    ("unknown-type", "GET", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/snapshots/x", f"api-version={API}", b"", {}, 400, "InvalidResourceType"),
    ("list-restore-points", "GET", rpc_path("rpc1") + "/restorePoints", f"api-version={API}", b"", {}, 405, "MethodNotAllowed"),
    ("post-on-rpc", "POST", rpc_path("rpc1"), f"api-version={API}", b"{}", JSON, 405, "MethodNotAllowed"),
    ("unknown-root", "GET", "/foo/bar", f"api-version={API}", b"", {}, 404, "NotFound"),
    ("bad-subscription", "GET", "/subscriptions/xyz/resourceGroups/rg", "api-version=2021-04-01", b"", {}, 400, "InvalidSubscriptionId"),
    ("bad-expand", "GET", rp_path("rpc1", "rp1"), f"api-version={API}&$expand=everything", b"", {}, 400, "InvalidParameter"),
    ("grant-no-body", "POST", DRP_LIST + "/x/beginGetAccess", "api-version=2025-01-02", b"", {}, 404, "NotFound"),
    ("unknown-operation", "GET", f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations/abc", f"api-version={API}", b"", {}, 404, "NotFound"),
    ("disk-bad-create-option", "PUT", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1", "api-version=2025-01-02", b'{"location": "eastus", "properties": {"creationData": {"createOption": "Copy"}}}', JSON, 400, "InvalidParameter"),
    ("disk-no-creation", "PUT", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1", "api-version=2025-01-02", b'{"location": "eastus", "properties": {}}', JSON, 400, "InvalidParameter"),
    ("disk-bad-source", "PUT", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1", "api-version=2025-01-02", b'{"location": "eastus", "properties": {"creationData": {"createOption": "Restore", "sourceResourceId": "/x"}}}', JSON, 400, "LinkedInvalidPropertyId"),
    ("rg-no-location", "PUT", f"/subscriptions/{SUB}/resourcegroups/r2", "api-version=2021-04-01", b"{}", JSON, 400, "LocationRequired"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "headers", "status", "code"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
async def test_bad_request(
    arm: Arm, method: str, path: str, query: str, body: bytes, headers: dict, status: int, code: str
) -> None:
    url = path + (f"?{query}" if query else "")
    r = await arm.client.request(method, url, content=body, headers={**AUTH, **headers})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"access": "Read"},
        {"durationInSeconds": 60},
        {"access": "Everything", "durationInSeconds": 60},
        {"access": "Read", "durationInSeconds": "soon"},
        {"access": "Write", "durationInSeconds": 60},
    ],
)
async def test_bad_grant_access(arm: Arm, body: dict) -> None:
    drp = (await arm.get(DRP_LIST, api="2025-01-02")).json()["value"][0]
    r = await arm.post(drp["id"] + "/beginGetAccess", body, api="2025-01-02")
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"virtualMachines": 3}', b'{"virtualMachines": [{"name": "x", "location": "mars"}]}',
     b'{"subscriptionId": "not-a-guid"}', b'{"unknown": 1}'],
)  # fmt: skip
async def test_bad_control_requests(arm: Arm, body: bytes) -> None:
    r = await arm.client.post("/_emulator/seed", content=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"]


async def test_bad_control_misc(arm: Arm) -> None:
    assert (
        await arm.client.post("/_emulator/clock/advance", json={"seconds": -1})
    ).status_code == 400
    assert (await arm.client.post("/_emulator/clock/advance", json={})).status_code == 400
    assert (await arm.client.post("/_emulator/restore-points", json={})).status_code == 400
    r = await arm.client.post("/_emulator/restore-points", json={"collectionId": rpc_path("zz")})
    assert r.status_code == 404
    r = await arm.client.post(
        "/_emulator/restore-points", json={"collectionId": rpc_path("rpc1"), "name": "rp1"}
    )
    assert r.status_code == 409
    assert (await arm.client.get("/_emulator/nope")).status_code == 404
    assert (await arm.client.patch("/_emulator/config", json={"bogus": 1})).status_code == 400
