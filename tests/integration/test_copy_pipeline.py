"""A copy requested over HTTP, end to end through the local host, Azurite and the emulator,
including the failure paths: throttling and 503s retried, replication failure, poison."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from arm_emulator.control import EmulatorControl
from devstack.stack import Stack
from shared.model.ids import RestorePointId
from shared.model.keys import job_id_for, partition_of
from shared.model.message import JobMessage, Stage, Trigger
from tests.support import TARGET_REGION, EventLog, seed_source, unique, wait_for

TERMINAL = {"Succeeded", "Failed", "Superseded"}


def request_copy(api: httpx.Client, source_rp: str, **extra: str) -> dict[str, Any]:
    response = api.post(
        "/api/copies",
        json={"sourceRestorePointId": source_rp, "targetRegion": TARGET_REGION, **extra},
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/api/copies/{response.json()['id']}"
    return response.json()


def wait_until_done(api: httpx.Client, job_id: str, timeout: float = 90) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = api.get(f"/api/copies/{job_id}").json()
        return job if job["state"] in TERMINAL else None

    return wait_for(done, timeout=timeout, what=f"copy job {job_id} to finish")


def test_http_copy_completes_and_the_event_matches_ledger_and_arm(
    api: httpx.Client, arm: httpx.Client, events: EventLog, stack: Stack
) -> None:
    source = seed_source(stack.arm_endpoint, data_disks=2)
    job = request_copy(api, source.restore_point_id)
    done = wait_until_done(api, job["id"])
    assert done["state"] == "Succeeded", done
    event = events.wait_for(job["id"], "com.example.rpcopy.copy.succeeded", timeout=30)

    # The event agrees with the ledger...
    data = event["data"]
    assert data["target"]["restorePointId"] == done["targetRestorePointId"]
    assert data["source"]["restorePointId"] == source.restore_point_id
    assert data["source"]["region"] == "eastus"
    assert data["target"]["region"] == TARGET_REGION
    assert {d["id"] for d in data["disks"]} == {d["id"] for d in done["disks"]}
    timing = data["timing"]
    order = [timing[k] for k in ("requestedAt", "startedAt", "replicationDoneAt", "finishedAt")]
    assert order == sorted(order, key=datetime.fromisoformat)

    # ...and with what ARM says of the copy: every disk replicated, 100 %.
    rp = arm.get(done["targetRestorePointId"], params={"$expand": "instanceView"}).json()
    assert rp["properties"]["sourceRestorePoint"]["id"].lower() == source.restore_point_id.lower()
    disks = rp["properties"]["instanceView"]["diskRestorePoints"]
    assert len(disks) == 3
    for disk in disks:
        assert disk["replicationStatus"]["status"]["code"] == "ReplicationState/succeeded"
        assert disk["replicationStatus"]["completionPercent"] == 100
    assert {d["id"].lower() for d in disks} == {d["id"].lower() for d in data["disks"]}
    started = [
        e for e in events.for_job(job["id"]) if e["type"] == "com.example.rpcopy.copy.started"
    ]
    assert len(started) == 1

    # The target collection was created in the target region, pointing at the source.
    target_rpc = arm.get(done["targetCollectionId"]).json()
    assert target_rpc["location"] == TARGET_REGION
    assert target_rpc["properties"]["source"]["id"].lower() == source.collection_id.lower()


def test_function_key_is_required(stack: Stack) -> None:
    response = httpx.post(f"{stack.host_url}/api/copies", json={}, timeout=10)
    assert response.status_code == 401
    response = httpx.get(f"{stack.host_url}/api/copies", params={"code": "wrong"}, timeout=10)
    assert response.status_code == 401


def test_throttling_and_unavailability_are_retried(
    api: httpx.Client, emulator: EmulatorControl, events: EventLog, stack: Stack
) -> None:
    source = seed_source(stack.arm_endpoint, data_disks=1)
    vm = source.vm_id.rsplit("/", 1)[-1]
    match = {"pathContains": vm}
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="http",
        status=429,
        retryAfter=1,
        times=1,
        match=match,
    )
    emulator.add_fault(
        operation="RestorePointCollections_CreateOrUpdate",
        kind="http",
        status=503,
        times=2,
        match=match,
    )
    emulator.add_fault(
        operation="RestorePoints_Get",
        kind="http",
        status=503,
        times=2,
        match={**match, "method": "GET"},
    )
    emulator.add_fault(operation="RestorePoints_Get", kind="drop", times=1, match=match)
    job = request_copy(api, source.restore_point_id)
    done = wait_until_done(api, job["id"])
    assert done["state"] == "Succeeded", done
    puts = [r for r in emulator.requests("RestorePoints_Create") if vm in r["path"]]
    assert [r["status"] for r in puts] == [429, 201], puts
    events.wait_for(job["id"], "com.example.rpcopy.copy.succeeded", timeout=30)


def test_replication_failure_ends_failed_with_a_failure_event(
    api: httpx.Client, emulator: EmulatorControl, events: EventLog, stack: Stack
) -> None:
    source = seed_source(stack.arm_endpoint, data_disks=2)
    vm = source.vm_id.rsplit("/", 1)[-1]
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="replication_failure",
        lun=1,
        match={"pathContains": vm},
    )
    job = request_copy(api, source.restore_point_id)
    done = wait_until_done(api, job["id"], timeout=120)
    assert done["state"] == "Failed"
    assert done["error"]["code"] == "ReplicationFailed"
    # Every run failed the same way: the stack allows two (RERUN_MAX_RUNS), then gives up.
    assert done["run"] == 2
    event = events.wait_for(job["id"], "com.example.rpcopy.copy.failed", timeout=30)
    assert [e["type"] for e in events.for_job(job["id"])].count(
        "com.example.rpcopy.copy.failed"
    ) == 1
    assert "com.example.rpcopy.copy.retrying" in [e["type"] for e in events.for_job(job["id"])]
    assert event["data"]["reason"]["code"] == "ReplicationFailed"
    assert event["data"]["target"]["restorePointId"] == done["targetRestorePointId"]


@pytest.mark.slow
def test_a_message_that_keeps_failing_reaches_poison_and_fails_the_job(
    api: httpx.Client, events: EventLog, stack: Stack
) -> None:
    """A job whose ledger row cannot be read fails every delivery of its poll message: the host
    retries it maxDequeueCount times, moves it to the poison queue, and the poison handler
    replaces the unreadable row with a failed record and emits the failure event."""
    source = seed_source(stack.arm_endpoint, data_disks=0, name=unique("poisonvm"))
    job_id = job_id_for(RestorePointId.parse(source.restore_point_id), TARGET_REGION)
    with TableClient.from_connection_string(stack.storage_connection, "rpcopyjobs") as table:
        with contextlib.suppress(ResourceExistsError):
            table.create_table()
        # A row in the ledger's shape that cannot be read back (garbage where JSON belongs).
        table.upsert_entity(
            {
                "PartitionKey": partition_of(job_id),
                "RowKey": job_id,
                "State": "Replicating",
                "Disks": "{not json",
            }
        )
    message = JobMessage(
        job_id=job_id,
        step=2,
        stage=Stage.POLL,
        source_restore_point_id=source.restore_point_id,
        target_region=TARGET_REGION,
        target_resource_group="rg-dr",
        target_collection_name="poison-target",
        target_restore_point_name="rp1",
        correlation_id=str(uuid.uuid4()),
        trigger=Trigger.HTTP,
        requested_at=datetime.now(UTC),
    )
    queue = QueueClient.from_connection_string(
        stack.storage_connection, "rpcopy-poll", message_encode_policy=TextBase64EncodePolicy()
    )
    with queue:
        queue.send_message(message.encode())

    def failed() -> dict[str, Any] | None:
        response = api.get(f"/api/copies/{job_id}")
        return response.json() if response.status_code == 200 else None

    done = wait_for(failed, timeout=120, what="the poison handler to fail the job")
    assert done["state"] == "Failed", done
    assert done["error"]["code"] == "StageFailedRepeatedly"
    assert done["error"]["stage"] == "poll"
    event = events.wait_for(job_id, "com.example.rpcopy.copy.failed", timeout=30)
    assert event["data"]["reason"]["code"] == "StageFailedRepeatedly"


def test_a_replication_failure_is_followed_by_a_run_that_succeeds(
    api: httpx.Client, emulator: EmulatorControl, events: EventLog, stack: Stack
) -> None:
    """Through the local host: Azure fails the first copy; the app deletes it, runs again, and
    the job ends Succeeded on run 2 with its events in order."""
    source = seed_source(stack.arm_endpoint, data_disks=1)
    vm = source.vm_id.rsplit("/", 1)[-1]
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="replication_failure",
        lun=0,
        times=1,
        match={"pathContains": vm},
    )
    job = request_copy(api, source.restore_point_id)
    done = wait_until_done(api, job["id"], timeout=120)
    assert done["state"] == "Succeeded", done
    assert done["run"] == 2
    events.wait_for(job["id"], "com.example.rpcopy.copy.succeeded", timeout=30)
    order = [(e["type"], e["data"]["run"]) for e in events.for_job(job["id"])]
    assert order == [
        ("com.example.rpcopy.copy.started", 1),
        ("com.example.rpcopy.copy.retrying", 1),
        ("com.example.rpcopy.copy.started", 2),
        ("com.example.rpcopy.copy.succeeded", 2),
    ]


def test_later_copies_skip_the_collection_reads_and_survive_a_deleted_target(
    api: httpx.Client, arm: httpx.Client, emulator: EmulatorControl, stack: Stack
) -> None:
    """Through the local host: a later copy of a collection reads only its restore point and
    PUTs the copy; with the target collection deleted meanwhile, the PUT's 404 leads back to
    creating it and the copy still succeeds."""
    source = seed_source(stack.arm_endpoint, data_disks=0, restore_points=3)
    first, second, third = source.restore_point_ids
    name = source.collection_id.rsplit("/", 1)[-1]

    def calls_since(start: int) -> list[tuple[str, int]]:
        seen = [r for r in emulator.requests() if name in r["path"]][start:]
        return [
            (r["operation"], r["status"])
            for r in seen
            if "instanceview" not in str(r.get("query") or "").lower()  # not the polls
        ]

    done = wait_until_done(api, request_copy(api, first)["id"])
    assert done["state"] == "Succeeded", done
    start = len([r for r in emulator.requests() if name in r["path"]])
    done = wait_until_done(api, request_copy(api, second)["id"])
    assert done["state"] == "Succeeded", done
    assert calls_since(start) == [("RestorePoints_Get", 200), ("RestorePoints_Create", 201)]

    target = done["targetCollectionId"]
    assert arm.delete(target).status_code in (200, 202, 204)
    wait_for(lambda: arm.get(target).status_code == 404 or None, timeout=30, what="the delete")
    start = len([r for r in emulator.requests() if name in r["path"]])
    done = wait_until_done(api, request_copy(api, third)["id"])
    assert done["state"] == "Succeeded", done
    assert calls_since(start)[1:] == [
        ("RestorePoints_Create", 404),
        ("RestorePointCollections_Get", 404),
        ("RestorePointCollections_CreateOrUpdate", 201),
        ("RestorePoints_Create", 201),
    ]
    assert arm.get(target).json()["properties"]["source"]["id"] == source.collection_id
