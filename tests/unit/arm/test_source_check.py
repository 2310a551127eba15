"""shared/arm/source_check.py: one ARM read per request, and a collection re-created under a
known name for another VM is read again (its lineage is not taken from process memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.arm import source_check
from shared.arm.auth import StaticToken
from shared.arm.client import ArmClient
from shared.errors import SourceProblem
from shared.model.ids import RestorePointId
from shared.settings import ArmSettings

ARM = "https://arm.test"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
COMPUTE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
RPC = f"{COMPUTE}/restorePointCollections/rpc1"
SETTINGS = ArmSettings(
    endpoint=ARM,
    api_version="2025-04-01",
    credential="static",
    static_token="t",
    max_attempts=1,
    max_inline_wait_seconds=1.0,
    lro_poll_seconds=0.001,
    lro_timeout_seconds=1.0,
)


def vm(name: str) -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def restore_point(name: str, vm_guid: str) -> dict[str, Any]:
    return {
        "id": f"{RPC}/restorePoints/{name}",
        "name": name,
        "properties": {
            "sourceMetadata": {"vmId": vm_guid, "location": "eastus"},
            "timeCreated": "2026-12-01T00:00:00Z",
            "provisioningState": "Succeeded",
        },
    }


class Azure:
    """A source collection that can be deleted and re-created for another VM."""

    def __init__(self) -> None:
        self.vm_name, self.vm_guid = "vm-a", "guid-a"
        self.points: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []

    def recreate_for(self, vm_name: str, vm_guid: str) -> None:
        self.vm_name, self.vm_guid, self.points = vm_name, vm_guid, {}

    def add(self, name: str) -> None:
        self.points[name.lower()] = restore_point(name, self.vm_guid)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.lower() == RPC.lower():
            body: dict[str, Any] = {
                "id": RPC,
                "location": "eastus",
                "properties": {"source": {"id": vm(self.vm_name)}},
            }
            if request.url.params.get("$expand") == "restorePoints":
                body["properties"]["restorePoints"] = list(self.points.values())
            return httpx.Response(200, json=body)
        name = path.rsplit("/", 1)[-1].lower()
        if name in self.points:
            return httpx.Response(200, json=self.points[name])
        return httpx.Response(404, json={"error": {"code": "NotFound", "message": "gone"}})


@pytest.fixture
def azure() -> Azure:
    source_check._KNOWN_COLLECTIONS.clear()
    return Azure()


@pytest.fixture
async def arm(azure: Azure) -> AsyncIterator[ArmClient]:
    client = ArmClient(SETTINGS, StaticToken("t"), transport=httpx.MockTransport(azure.handler))
    yield client
    await client.close()


async def inspect(arm: ArmClient, name: str) -> source_check.SourceFacts:
    """What intake learns of restore point `name` of the test collection, copied to westus."""
    return await source_check.inspect_source(
        arm, RestorePointId.parse(f"{RPC}/restorePoints/{name}"), "westus"
    )


async def test_a_known_collection_costs_one_read_of_the_restore_point(
    arm: ArmClient, azure: Azure
) -> None:
    azure.add("rp1")
    azure.add("rp2")
    first = await inspect(arm, "rp1")
    second = await inspect(arm, "rp2")
    assert first.vm_id == second.vm_id == vm("vm-a")
    paths = [r.url.path.rsplit("/", 1)[-1] for r in azure.requests]
    assert paths == ["rpc1", "rp2"]


async def test_a_collection_re_created_for_another_vm_is_read_again(
    arm: ArmClient, azure: Azure
) -> None:
    azure.add("rp1")
    await inspect(arm, "rp1")
    azure.recreate_for("vm-b", "guid-b")
    azure.add("rp9")
    facts = await inspect(arm, "rp9")
    assert facts.vm_id == vm("vm-b")
    # The restore point's GET showed another VM's GUID; the collection was then read again.
    assert [r.url.path.rsplit("/", 1)[-1] for r in azure.requests] == ["rpc1", "rp9", "rpc1"]


async def test_a_restore_point_gone_from_a_known_collection_is_a_clear_not_found(
    arm: ArmClient, azure: Azure
) -> None:
    azure.add("rp1")
    await inspect(arm, "rp1")
    with pytest.raises(SourceProblem) as raised:
        await inspect(arm, "nope")
    assert raised.value.code == "SourceRestorePointNotFound"
    assert "restorePoints/nope does not exist" in raised.value.detail
