"""azure-mgmt-compute (the official SDK) against the emulator over HTTP: every operation the app
and the restore point docs use - collections, local create, cross-region copy, instance view,
disk restore points, SAS begin/end access, a disk from a disk restore point, deletes - at the
SDK's default api-versions and at the app's pinned ones. Every response must deserialize into
the SDK's models with no field the model does not know (the typed models keep unknown JSON keys
in their raw data: those must be none)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from azure.core.pipeline.policies import HeadersPolicy
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute._utils.model_base import Model

from arm_emulator import ids, versions
from arm_emulator.app import create_app
from arm_emulator.config import EmulatorConfig
from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from arm_emulator.server import build_server
from devstack.processes import free_port, wait_until

from .conftest import SUB

RG = "rg"
# (compute api-version, disk api-version); None = the SDK's own default for the operation.
VERSION_SETS = {
    "sdk-defaults": (None, None),
    "app-pinned": (versions.APP_COMPUTE_VERSION, versions.APP_DISK_VERSION),
}


class StaticCredential:
    """Never asked: the pipeline authenticates with a static bearer header (plain HTTP)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise AssertionError("the test pipeline sends a static token")


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    """A real emulator on a loopback port, 1,000x real time (LROs and replication in ms)."""
    app = create_app(EmulatorConfig(time_scale=1000.0))
    port = free_port()
    server = build_server(app, "127.0.0.1", port, "error")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the emulator to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def sdk_client(url: str) -> ComputeManagementClient:
    return ComputeManagementClient(
        StaticCredential(),  # type: ignore[arg-type]
        SUB,
        base_url=url,
        authentication_policy=HeadersPolicy({"Authorization": "Bearer sdk-conformance"}),
        polling_interval=0.05,
        retry_total=0,
    )


def unknown_fields(value: Any, path: str = "$") -> list[str]:
    """JSON keys the SDK's model has no field for, anywhere below `value`."""
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in unknown_fields(item, f"{path}[{i}]")]
    if not isinstance(value, Model):
        return []
    fields = type(value)._attr_to_rest_field
    known = {field._rest_name: attr for attr, field in fields.items()}
    found = [f"{path}.{key}" for key in value._data if key not in known]
    for rest_name, attr in known.items():
        if rest_name in value._data:
            found += unknown_fields(getattr(value, attr), f"{path}.{rest_name}")
    return found


def assert_known(value: Any, what: str) -> None:
    assert value is not None, f"{what}: no body"
    assert unknown_fields(value) == [], f"{what}: fields the SDK does not know"


def scenario(prefix: str) -> Scenario:
    s = Scenario(SUB).vm(
        f"{prefix}-vm",
        rg=RG,
        location="eastus",
        os_disk=DiskSpec(size_gb=32, used_gb=1),
        data_disks=[DiskSpec(lun=0, size_gb=32, used_gb=0.5)],
    )
    return s.collection(f"{prefix}-rpc", vm=f"{prefix}-vm").restore_point(
        "rp1", f"{prefix}-rpc", age_seconds=7200
    )


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("versions_name", sorted(VERSION_SETS))
def test_sdk_drives_every_operation(emulator_url: str, versions_name: str) -> None:
    compute_api, disk_api = VERSION_SETS[versions_name]
    cv = {"api_version": compute_api} if compute_api else {}
    dv = {"api_version": disk_api} if disk_api else {}
    prefix = versions_name
    with httpx.Client(base_url=emulator_url, trust_env=False, timeout=30) as http:
        EmulatorControl(client=http).seed(scenario(prefix))
    client = sdk_client(emulator_url)
    source_rpc, target_rpc = f"{prefix}-rpc", f"{prefix}-rpc-dr"
    source_rpc_id = ids.rpc_id(SUB, RG, source_rpc)

    # collections: create a copy target, read, list
    rpc = client.restore_point_collections.create_or_update(
        RG,
        target_rpc,
        {"location": "westus", "properties": {"source": {"id": source_rpc_id}}},
        **cv,
    )
    assert_known(rpc, "RestorePointCollections_CreateOrUpdate")
    assert rpc.properties.source.location == "eastus"
    got = client.restore_point_collections.get(RG, source_rpc, expand="restorePoints", **cv)
    assert_known(got, "RestorePointCollections_Get $expand=restorePoints")
    assert [rp.name for rp in got.properties.restore_points] == ["rp1"]
    listed = list(client.restore_point_collections.list(RG, **cv))
    assert {r.name for r in listed} >= {source_rpc, target_rpc}
    assert_known(listed, "RestorePointCollections_List")
    assert_known(list(client.restore_point_collections.list_all(**cv)), "..._ListAll")
    updated = client.restore_point_collections.update(RG, target_rpc, {"tags": {"k": "v"}}, **cv)
    assert_known(updated, "RestorePointCollections_Update")

    # a local restore point (the LRO) and a cross-region copy of the seeded one
    local = client.restore_points.begin_create(RG, source_rpc, "rp2", {}, **cv).result()
    assert_known(local, "RestorePoints_Create (local)")
    assert local.properties.provisioning_state == "Succeeded"
    body = {"properties": {"sourceRestorePoint": {"id": f"{source_rpc_id}/restorePoints/rp1"}}}
    copy = client.restore_points.begin_create(RG, target_rpc, "rp1-copy", body, **cv).result()
    assert_known(copy, "RestorePoints_Create (copy)")
    assert copy.properties.source_restore_point.id.endswith("/restorePoints/rp1")

    def replicated() -> bool:
        rp = client.restore_points.get(RG, target_rpc, "rp1-copy", expand="instanceView", **cv)
        assert_known(rp, "RestorePoints_Get $expand=instanceView")
        return rp.properties.instance_view.statuses[0].code == "ReplicationState/succeeded"

    eventually(replicated, "the copy to replicate")
    view = client.restore_points.get(RG, source_rpc, "rp2", expand="instanceView", **cv)
    assert_known(view, "RestorePoints_Get (local) $expand=instanceView")

    # disk restore points, SAS export, a disk restored from one
    drps = list(client.disk_restore_point.list_by_restore_point(RG, target_rpc, "rp1-copy", **dv))
    assert len(drps) == 2
    assert_known(drps, "DiskRestorePoint_ListByRestorePoint")
    drp = client.disk_restore_point.get(RG, target_rpc, "rp1-copy", drps[0].name, **dv)
    assert_known(drp, "DiskRestorePoint_Get")
    assert drp.properties.replication_state == "Succeeded"
    access = client.disk_restore_point.begin_grant_access(
        RG, target_rpc, "rp1-copy", drp.name, {"access": "Read", "durationInSeconds": 3600}, **dv
    ).result()
    assert_known(access, "DiskRestorePoint_GrantAccess")
    assert "/_sas/" in access.access_sas  # served by the emulator (arm_emulator/sas.py)
    disk = client.disks.begin_create_or_update(
        RG,
        f"{prefix}-restored",
        {
            "location": "westus",
            "properties": {"creationData": {"createOption": "Restore", "sourceResourceId": drp.id}},
        },
        **dv,
    ).result()
    assert_known(disk, "Disks_CreateOrUpdate")
    assert disk.properties.provisioning_state == "Succeeded"
    assert_known(client.disks.get(RG, f"{prefix}-restored", **dv), "Disks_Get")
    client.disk_restore_point.begin_revoke_access(
        RG, target_rpc, "rp1-copy", drp.name, **dv
    ).result()

    # the VM behind the collection, then deletes
    vm = client.virtual_machines.get(RG, f"{prefix}-vm", **cv)
    assert_known(vm, "VirtualMachines_Get")
    client.restore_points.begin_delete(RG, target_rpc, "rp1-copy", **cv).result()
    client.restore_point_collections.begin_delete(RG, target_rpc, **cv).result()
    remaining = [r.name for r in client.restore_point_collections.list(RG, **cv)]
    assert target_rpc not in remaining

    # The SDK sent what this case is about: every operation at the expected api-version.
    expected_compute = compute_api or versions.NEWEST_COMPUTE_VERSION
    expected_disk = disk_api or versions.NEWEST_DISK_VERSION
    with httpx.Client(base_url=emulator_url, trust_env=False, timeout=30) as http:
        log = EmulatorControl(client=http).requests()
    sent = {
        (entry["operation"], entry["query"].split("api-version=")[1].split("&")[0])
        for entry in log
        if prefix in entry["path"] and "api-version=" in entry["query"]
    }
    disk_ops = {o for o, _ in sent if o.startswith(("Disk", "Disks"))}
    assert {v for o, v in sent if o in disk_ops} == {expected_disk}, sorted(sent)
    assert {v for o, v in sent if o not in disk_ops} == {expected_compute}, sorted(sent)
    assert {o for o, _ in sent} >= {
        "RestorePointCollections_CreateOrUpdate",
        "RestorePointCollections_Get",
        "RestorePointCollections_Update",
        "RestorePointCollections_Delete",
        "RestorePoints_Create",
        "RestorePoints_Get",
        "RestorePoints_Delete",
        "DiskRestorePoint_ListByRestorePoint",
        "DiskRestorePoint_Get",
        "DiskRestorePoint_GrantAccess",
        "DiskRestorePoint_RevokeAccess",
        "Disks_CreateOrUpdate",
        "Disks_Get",
        "VirtualMachines_Get",
    }


def test_unknown_field_check_finds_unknown_fields() -> None:
    from azure.mgmt.compute import models

    rp = models.RestorePoint({"name": "x", "properties": {"provisioningState": "S", "oops": 1}})
    assert unknown_fields(rp) == ["$.properties.oops"]
