"""What a restore drill uses: disks restored from disk restore points (and refused when the
restore point is not usable), disk list and delete, and the SAS export served over HTTP with
deterministic content, revocation, the no-token rule and its faults."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from .conftest import DISK_API, SUB, Arm, rp_path

DISKS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks"
MIB = 1024 * 1024


async def _drp(arm: Arm, index: int = 0) -> dict[str, Any]:
    listing = await arm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api=DISK_API)
    return listing.json()["value"][index]


async def _restore(arm: Arm, name: str, drp_id: str, location: str = "eastus") -> httpx.Response:
    body = {
        "location": location,
        "tags": {"rpcopy-drill": "d1"},
        "properties": {"creationData": {"createOption": "Restore", "sourceResourceId": drp_id}},
    }
    return await arm.put(f"{DISKS}/{name}", body, api=DISK_API)


async def _sas(arm: Arm, drp_id: str) -> str:
    grant = await arm.post(
        drp_id + "/beginGetAccess", {"access": "Read", "durationInSeconds": 600}, api=DISK_API
    )
    assert grant.status_code == 202, grant.text
    await arm.advance(5)
    done = await arm.client.get(grant.headers["location"], headers={"Authorization": "Bearer t"})
    assert done.status_code == 200
    return str(done.json()["accessSAS"])


async def test_disk_list_and_delete(arm: Arm) -> None:
    drp = await _drp(arm)
    assert (await _restore(arm, "d1", drp["id"])).status_code == 202
    await arm.advance(15)
    listing = (await arm.get(DISKS, api=DISK_API)).json()["value"]
    restored = [d for d in listing if d["name"] == "d1"]
    assert restored
    assert restored[0]["tags"] == {"rpcopy-drill": "d1"}
    deleted = await arm.delete(f"{DISKS}/d1", api=DISK_API)
    assert deleted.status_code == 202
    assert "DiskOperations" in deleted.headers["location"]
    assert (await arm.get(f"{DISKS}/d1", api=DISK_API)).json()["properties"][
        "provisioningState"
    ] == "Deleting"
    await arm.advance(10)
    assert (await arm.get(f"{DISKS}/d1", api=DISK_API)).status_code == 404
    assert (await arm.delete(f"{DISKS}/d1", api=DISK_API)).status_code == 204
    assert all(d["name"] != "d1" for d in await arm.ctl.disks())


async def test_a_failed_disk_creation_leaves_a_failed_disk(arm: Arm) -> None:
    await arm.ctl.add_fault(operation="Disks_CreateOrUpdate", kind="lro_failure", times=1)
    drp = await _drp(arm)
    created = await _restore(arm, "broken", drp["id"])
    assert created.status_code == 202
    await arm.advance(15)
    status = await arm.client.get(
        created.headers["azure-asyncoperation"], headers={"Authorization": "Bearer t"}
    )
    assert status.json()["status"] == "Failed"
    disk = (await arm.get(f"{DISKS}/broken", api=DISK_API)).json()
    assert disk["properties"]["provisioningState"] == "Failed"


async def test_restoring_from_an_unfinished_copy_is_refused(make_arm) -> None:
    from .conftest import standard_scenario

    arm = await make_arm(standard_scenario())
    await arm.target_rpc()
    assert (await arm.copy("rp1")).status_code in (200, 201)
    await arm.advance(10)  # the copy PUT is done; replication has barely started
    copied = (
        await arm.get(rp_path("rpc1-dr", "rp1-copy") + "/diskRestorePoints", api=DISK_API)
    ).json()["value"][0]
    r = await _restore(arm, "early", copied["id"], location="westus")
    assert r.status_code == 409, r.text
    assert "not usable" in r.json()["error"]["message"]


async def test_sas_serves_deterministic_ranges(arm: Arm) -> None:
    drp = await _drp(arm)
    sas = await _sas(arm, drp["id"])
    assert "/_sas/" in sas
    assert "sig=" in sas
    first = await arm.client.get(sas, headers={"Range": f"bytes=0-{MIB - 1}"})
    assert first.status_code == 206
    assert len(first.content) == MIB
    expected = await arm.ctl.sas_content(drp["id"], MIB)
    assert hashlib.sha256(first.content).hexdigest() == expected["sha256"]
    assert first.headers["content-range"] == f"bytes 0-{MIB - 1}/{expected['size']}"
    assert expected["size"] == 128 * 1024**3 + 512  # the OS disk: 128 GiB and a VHD footer
    again = await arm.client.get(sas, headers={"Range": "bytes=100-199"})
    assert again.content == first.content[100:200]
    other = await arm.ctl.sas_content((await _drp(arm, 1))["id"], MIB)
    assert other["sha256"] != expected["sha256"]
    head = await arm.client.head(sas)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == expected["size"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda url: url.replace("sig=", "sig=00"), 403),
        (lambda url: url.split("?")[0], 403),
    ],
    ids=["bad-signature", "no-signature"],
)
async def test_sas_refuses_a_wrong_signature(arm: Arm, change: Any, status: int) -> None:
    sas = await _sas(arm, (await _drp(arm))["id"])
    r = await arm.client.get(change(sas), headers={"Range": "bytes=0-9"})
    assert r.status_code == status
    assert b"AuthenticationFailed" in r.content


async def test_sas_refuses_a_token_and_reads_without_range(arm: Arm) -> None:
    sas = await _sas(arm, (await _drp(arm))["id"])
    with_token = await arm.client.get(
        sas, headers={"Range": "bytes=0-9", "Authorization": "Bearer t"}
    )
    assert with_token.status_code == 400
    assert (await arm.client.get(sas)).status_code == 400


async def test_sas_stops_working_after_end_get_access(arm: Arm) -> None:
    drp = await _drp(arm)
    sas = await _sas(arm, drp["id"])
    end = await arm.post(drp["id"] + "/endGetAccess", None, api=DISK_API)
    assert end.status_code == 202
    await arm.advance(5)
    r = await arm.client.get(sas, headers={"Range": "bytes=0-9"})
    assert r.status_code == 403


async def test_sas_read_faults(arm: Arm) -> None:
    sas = await _sas(arm, (await _drp(arm))["id"])
    await arm.ctl.add_fault(operation="Sas_Read", kind="http", status=503, times=1)
    assert (await arm.client.get(sas, headers={"Range": "bytes=0-9"})).status_code == 503
    assert (await arm.client.get(sas, headers={"Range": "bytes=0-9"})).status_code == 206
    reads = await arm.ctl.requests("Sas_Read")
    entries = reads["entries"] if isinstance(reads, dict) else reads
    assert all("sig=" not in str(e) for e in entries)  # the signature is never recorded


async def test_the_unreplicated_restore_variant_allows_what_the_docs_say_azure_allows(
    make_arm,
) -> None:
    from .conftest import standard_scenario

    arm = await make_arm(standard_scenario(), unreplicated_restore="allow")
    await arm.target_rpc()
    assert (await arm.copy("rp1")).status_code in (200, 201)
    await arm.advance(10)
    copied = (
        await arm.get(rp_path("rpc1-dr", "rp1-copy") + "/diskRestorePoints", api=DISK_API)
    ).json()["value"][0]
    assert (await _restore(arm, "early", copied["id"], location="westus")).status_code == 202
