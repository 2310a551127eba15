"""Every stable Compute and Disk RP api-version up to the newest in the public specs is accepted,
and each answers its own shape: a property appears only in the versions whose spec defines it
(`arm_emulator.versions.FEATURES`)."""

from __future__ import annotations

from typing import Any

import pytest

from arm_emulator import versions
from arm_emulator.scenarios import DiskSpec, Scenario

from .conftest import SUB, Arm, rp_path, rpc_path

# Read from Azure/azure-rest-api-specs: Microsoft.Compute/ComputeRP/stable/* (restorePoint.json,
# 2021-03-01 .. 2025-04-01) and Microsoft.Compute/Compute/stable/* (2025-11-01, 2026-03-01,
# 2026-04-01; DiskRP 2026-03-02). azure-mgmt-compute 39 defaults to 2026-04-01 / 2026-03-02.
SPEC_COMPUTE = [
    "2021-03-01", "2021-04-01", "2021-07-01", "2021-11-01", "2022-03-01", "2022-08-01",
    "2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01",
    "2024-11-01", "2025-04-01", "2025-11-01", "2026-03-01", "2026-04-01",
]  # fmt: skip
SPEC_DISK = [
    "2020-09-30", "2020-12-01", "2021-04-01", "2021-08-01", "2021-12-01", "2022-03-02",
    "2022-07-02", "2023-01-02", "2023-04-02", "2023-10-02", "2024-03-02", "2025-01-02",
    "2026-03-02",
]  # fmt: skip


def scenario() -> Scenario:
    """A VM with every metadata field some version has: userData, NVMe, a write-accelerated
    data disk; an instant-access collection with a local restore point and a copy target."""
    s = Scenario(SUB).vm(
        "vm1",
        os_disk=DiskSpec(size_gb=64, used_gb=1),
        data_disks=[DiskSpec(lun=0, size_gb=64, used_gb=1, write_accelerator=True)],
        diskControllerType="NVMe",
        userData="dXNlcg==",
    )
    s.collection("rpc1", vm="vm1", instant_access=True)
    s.restore_point("rp1", "rpc1", age_seconds=7200, instantAccessDurationMinutes=300)
    s.collection("rpc1-dr", source="rpc1", location="westus")
    return s


@pytest.fixture
async def varm(make_arm) -> Arm:
    arm = await make_arm(scenario())
    r = await arm.copy("rp1")
    assert r.status_code == 201, r.text
    await arm.advance(6 + 600)  # the copy has replicated (2 GiB in one tick)
    return arm


async def props(arm: Arm, path: str, api: str, expand: bool = False) -> dict[str, Any]:
    params = {"$expand": "instanceView"} if expand else None
    r = await arm.get(path, api=api, params=params)
    assert r.status_code == 200, (api, r.text)
    return r.json()["properties"]


def test_every_spec_version_is_known_and_the_newest_are_the_sdk_defaults() -> None:
    assert sorted(versions.RESTORE_POINT_VERSIONS) == SPEC_COMPUTE
    assert sorted(versions.DISK_VERSIONS) == SPEC_DISK
    assert versions.NEWEST_COMPUTE_VERSION == "2026-04-01"
    assert versions.NEWEST_DISK_VERSION == "2026-03-02"


@pytest.mark.parametrize("api", SPEC_COMPUTE)
async def test_every_compute_version_answers(varm: Arm, api: str) -> None:
    assert (await varm.get(rpc_path("rpc1"), api=api)).status_code == 200
    assert (await varm.get(rp_path("rpc1", "rp1"), api=api)).status_code == 200
    r = await varm.put(rp_path("rpc1", f"new-{api}"), {}, api=api)
    assert r.status_code == 201, r.text
    await varm.advance(40)


@pytest.mark.parametrize("api", SPEC_DISK)
async def test_every_disk_rp_version_answers(varm: Arm, api: str) -> None:
    r = await varm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api=api)
    assert r.status_code == 200, r.text
    assert len(r.json()["value"]) == 2


@pytest.mark.parametrize("api", ["2026-05-01", "2020-01-01", "2025-01-02"])
async def test_a_version_not_in_the_specs_is_refused(varm: Arm, api: str) -> None:
    r = await varm.get(rp_path("rpc1", "rp1"), api=api)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "InvalidApiVersionParameter"
    assert "2026-04-01" in error["message"]


@pytest.mark.parametrize(
    ("api", "present"),
    [("2025-04-01", False), ("2025-11-01", True), ("2026-03-01", False), ("2026-04-01", False)],
)
async def test_instant_access_status_only_in_2025_11_01(varm: Arm, api: str, present: bool) -> None:
    for path in (rp_path("rpc1", "rp1"), rp_path("rpc1-dr", "rp1-copy")):
        assert ("instantAccessStatus" in await props(varm, path, api)) is present
    if present:
        assert (await props(varm, rp_path("rpc1-dr", "rp1-copy"), api))[
            "instantAccessStatus"
        ] == "Available"


@pytest.mark.parametrize("api", ["2022-03-01", "2025-04-01", "2026-03-01", "2026-04-01"])
async def test_copy_from_2022_03_01_on(make_arm, api: str) -> None:
    arm = await make_arm(scenario())
    r = await arm.copy("rp1", api=api)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["sourceRestorePoint"]["id"].endswith("/restorePoints/rp1")


@pytest.mark.parametrize("api", ["2021-03-01", "2021-07-01", "2021-11-01"])
async def test_copy_before_2022_03_01_keeps_azures_error(make_arm, api: str) -> None:
    arm = await make_arm(scenario())
    r = await arm.copy("rp1", api=api)
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "BadRequest",
        "message": "This request can be made with api-version '2022-03-01' or newer",
    }


@pytest.mark.parametrize(
    ("feature", "before", "from_"),
    [
        ("userData", "2022-08-01", "2022-11-01"),
        ("hyperVGeneration", "2022-11-01", "2023-03-01"),
    ],
)
async def test_source_metadata_fields_by_version(
    varm: Arm, feature: str, before: str, from_: str
) -> None:
    path = rp_path("rpc1", "rp1")
    assert feature not in (await props(varm, path, before))["sourceMetadata"]
    assert feature in (await props(varm, path, from_))["sourceMetadata"]
    assert feature in (await props(varm, path, "2026-04-01"))["sourceMetadata"]


async def test_storage_profile_fields_by_version(varm: Arm) -> None:
    copy = rp_path("rpc1-dr", "rp1-copy")

    async def storage(api: str) -> dict[str, Any]:
        return (await props(varm, copy, api))["sourceMetadata"]["storageProfile"]

    old, mid, new = (
        await storage("2022-11-01"),
        await storage("2023-07-01"),
        await storage("2023-09-01"),
    )
    assert "writeAcceleratorEnabled" not in old["dataDisks"][0]
    assert old["osDisk"]["diskRestorePoint"] == {"id": old["osDisk"]["diskRestorePoint"]["id"]}
    assert mid["dataDisks"][0]["writeAcceleratorEnabled"] is True
    assert set(mid["osDisk"]["diskRestorePoint"]) == {"id", "encryption", "sourceDiskRestorePoint"}
    assert "diskControllerType" not in mid
    assert new["diskControllerType"] == "NVMe"


async def test_instance_view_by_version(varm: Arm) -> None:
    local, copy = rp_path("rpc1", "rp1"), rp_path("rpc1-dr", "rp1-copy")
    assert "instanceView" not in await props(varm, local, "2021-07-01", expand=True)
    old = (await props(varm, copy, "2021-11-01", expand=True))["instanceView"]
    assert old["diskRestorePoints"][0]["replicationStatus"] == {
        "status": {
            "code": "ReplicationState/succeeded",
            "level": "Info",
            "displayStatus": "Succeeded",
        }
    }  # completionPercent from 2022-03-01
    mid = (await props(varm, local, "2024-11-01", expand=True))["instanceView"]
    assert mid["diskRestorePoints"][0]["replicationStatus"]["completionPercent"] == 100
    assert "snapshotAccessState" not in mid["diskRestorePoints"][0]
    for api in ("2025-04-01", "2025-11-01", "2026-03-01", "2026-04-01"):
        new = (await props(varm, local, api, expand=True))["instanceView"]
        assert new["diskRestorePoints"][0]["snapshotAccessState"] == "AvailableWithInstantAccess"


async def test_instant_access_fields_from_2025_04_01(varm: Arm) -> None:
    for api, present in (("2024-11-01", False), ("2025-04-01", True), ("2026-04-01", True)):
        rpc = await props(varm, rpc_path("rpc1"), api)
        assert ("instantAccess" in rpc) is present
        rp = await props(varm, rp_path("rpc1", "rp1"), api)
        assert ("instantAccessDurationMinutes" in rp) is present


async def test_expanded_collection_renders_its_restore_points_in_the_same_version(
    varm: Arm,
) -> None:
    r = await varm.get(rpc_path("rpc1"), api="2025-11-01", params={"$expand": "restorePoints"})
    assert "instantAccessStatus" in r.json()["properties"]["restorePoints"][0]["properties"]
    r = await varm.get(rpc_path("rpc1"), api="2026-04-01", params={"$expand": "restorePoints"})
    assert "instantAccessStatus" not in r.json()["properties"]["restorePoints"][0]["properties"]


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("2020-09-30", set()),
        ("2021-04-01", {"networkAccessPolicy", "completionPercent"}),
        ("2021-08-01", {"networkAccessPolicy", "completionPercent", "replicationState"}),
        (
            "2024-03-02",
            {"networkAccessPolicy", "completionPercent", "replicationState", "logicalSectorSize"},
        ),
        (
            "2026-03-02",
            {
                "networkAccessPolicy",
                "completionPercent",
                "replicationState",
                "logicalSectorSize",
                "snapshotAccessState",
            },
        ),
    ],
)
async def test_disk_restore_point_fields_by_disk_rp_version(
    varm: Arm, api: str, expected: set[str]
) -> None:
    optional = {
        "networkAccessPolicy",
        "completionPercent",
        "replicationState",
        "logicalSectorSize",
        "snapshotAccessState",
    }
    r = await varm.get(rp_path("rpc1-dr", "rp1-copy") + "/diskRestorePoints", api=api)
    got = r.json()["value"][0]["properties"]
    assert set(got) & optional == expected
    assert {"timeCreated", "sourceResourceId", "familyId", "encryption"} <= set(got)
    if "snapshotAccessState" in expected:
        assert got["snapshotAccessState"] == "Available"  # replicated
        local = await varm.get(rp_path("rpc1", "rp1") + "/diskRestorePoints", api=api)
        assert local.json()["value"][0]["properties"]["snapshotAccessState"] == (
            "AvailableWithInstantAccess"
        )


async def test_operation_status_answers_in_every_version(varm: Arm) -> None:
    for api in ("2026-04-01", "2026-03-02"):
        r = await varm.put(rp_path("rpc1", f"op-{api}"), {}, api="2026-04-01")
        url = r.headers["azure-asyncoperation"].replace(
            "api-version=2026-04-01", f"api-version={api}"
        )
        status = await varm.client.get(url, headers={"Authorization": "Bearer t"})
        assert status.status_code == 200, status.text
        await varm.advance(40)
