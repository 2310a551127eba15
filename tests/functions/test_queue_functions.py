"""Queue stage functions called directly with real `func.QueueMessage` objects, against Azurite
and the ARM emulator: the happy path, duplicates and replays, unreadable and poison messages."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

from shared.errors import ForeignHostError
from shared.model.job import JobRecord, JobState
from shared.model.message import decode_message
from shared.services import get_services
from tests.functions.conftest import FunctionApp
from tests.support import TARGET_REGION, arm_call_counts, seed_source

STAGE_FUNCTIONS = {
    "QUEUE_ENSURE_TARGET": "stage_ensure_target",
    "QUEUE_START_COPY": "stage_start_copy",
    "QUEUE_POLL": "stage_poll",
    "QUEUE_FINISH": "stage_finish",
}


async def _request(fn_app: FunctionApp, source_rp: str, region: str = TARGET_REGION) -> str:
    body = json.dumps({"sourceRestorePointId": source_rp, "targetRegion": region}).encode()
    response = await fn_app.http("copies_create", "POST", "/api/copies", body=body)
    assert response.status_code == 202, response.get_body()
    return json.loads(response.get_body())["id"]


async def _job(job_id: str) -> JobRecord:
    record = await (await get_services()).ledger.get(job_id)
    assert record is not None
    return record


async def deliver_visible(fn_app: FunctionApp) -> list[str]:
    """Hand every visible stage message to its function, as the host would; their texts."""
    delivered: list[str] = []
    for setting, function in STAGE_FUNCTIONS.items():
        for text in fn_app.receive(setting):
            delivered.append(text)
            await fn_app.deliver(function, text)
    return delivered


async def pump(
    fn_app: FunctionApp, job_id: str, *, timeout: float = 60.0
) -> tuple[JobRecord, list[str]]:
    """Act as the host: hand every visible stage message to its function until the job ends.
    Returns the final record and every message text that was delivered."""
    delivered: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        delivered += await deliver_visible(fn_app)
        record = await _job(job_id)
        if record.state.terminal:
            return record, delivered
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {record.state.value} after {timeout:.0f}s")
        await asyncio.sleep(0.2)


def _events(fn_app: FunctionApp, job_id: str) -> list[dict]:
    return [
        e for e in map(json.loads, fn_app.receive("EVENTS_QUEUE")) if e["data"]["jobId"] == job_id
    ]


async def test_a_copy_runs_through_every_stage(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=2)
    job_id = await _request(fn_app, source.restore_point_id)
    record, delivered = await pump(fn_app, job_id)

    assert record.state is JobState.SUCCEEDED, record.failure
    # Only this job's messages: an earlier test may have left another job's in a queue.
    mine = [m for m in map(decode_message, delivered) if m.job_id == job_id]
    stages = [m.stage.value for m in mine]
    assert stages[:2] == ["ensure-target", "start-copy"]
    assert stages[-1] == "finish"
    assert "poll" in stages
    assert len(record.disks) == 3
    assert all(d.percent == 100.0 for d in record.disks)
    assert record.replication_done_at is not None
    events = _events(fn_app, job_id)
    assert [e["type"] for e in events] == [
        "com.example.rpcopy.copy.started",
        "com.example.rpcopy.copy.succeeded",
    ]
    done = events[-1]
    assert done["data"]["target"]["restorePointId"] == record.target_restore_point_id
    # The subject is the source restore point in every copy event (README, "Events").
    assert {e["subject"] for e in events} == {source.restore_point_id}


async def test_duplicate_and_replayed_messages_change_nothing(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    job_id = await _request(fn_app, source.restore_point_id)
    (first,) = fn_app.receive("QUEUE_ENSURE_TARGET")
    # The same message delivered twice: the second finds the step taken and sends nothing.
    await fn_app.deliver("stage_ensure_target", first)
    await fn_app.deliver("stage_ensure_target", first, dequeue_count=2)
    start_messages = fn_app.receive("QUEUE_START_COPY")
    assert len(start_messages) == 1
    await fn_app.deliver("stage_start_copy", start_messages[0])
    record, _ = await pump(fn_app, job_id)
    assert record.state is JobState.SUCCEEDED
    before = await _job(job_id)
    calls_before = _arm_calls(fn_app)

    # Every message of the finished job replayed: nothing moves, ARM is not called.
    for text in [first, start_messages[0]]:
        await fn_app.deliver(
            STAGE_FUNCTIONS["QUEUE_ENSURE_TARGET" if "ensure" in text else "QUEUE_START_COPY"], text
        )
    after = await _job(job_id)
    assert after.step == before.step
    assert after.updated_at == before.updated_at
    assert _arm_calls(fn_app) == calls_before
    assert [e["type"] for e in _events(fn_app, job_id)] == [
        "com.example.rpcopy.copy.started",
        "com.example.rpcopy.copy.succeeded",
    ]


def _arm_calls(fn_app: FunctionApp) -> int:
    return sum(arm_call_counts(fn_app.stack.arm_endpoint).values())


@pytest.mark.parametrize(
    "raw",
    [b"not json at all", b'{"version": 1}', b'{"version": 9, "jobId": "x"}', b"\xff\xfe\x00"],
)
async def test_unreadable_messages_become_failed_jobs_with_an_event(
    fn_app: FunctionApp, raw: bytes
) -> None:
    fn_app.receive("EVENTS_QUEUE")
    await fn_app.deliver("stage_poll", raw)
    events = [json.loads(t) for t in fn_app.receive("EVENTS_QUEUE")]
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "com.example.rpcopy.copy.failed"
    assert event["data"]["reason"]["code"] == "InvalidMessage"
    record = await _job(event["data"]["jobId"])
    assert record.state is JobState.FAILED


async def test_a_bad_message_for_a_known_job_fails_that_job(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    job_id = await _request(fn_app, source.restore_point_id)
    (text,) = fn_app.receive("QUEUE_ENSURE_TARGET")
    tampered = json.loads(text)
    tampered["surprise"] = True  # unknown fields are refused, not half-understood
    await fn_app.deliver("stage_ensure_target", json.dumps(tampered))
    record = await _job(job_id)
    assert record.state is JobState.FAILED
    assert record.failure is not None
    assert "surprise" in record.failure.message
    (event,) = _events(fn_app, job_id)
    assert event["type"] == "com.example.rpcopy.copy.failed"


async def test_poison_message_fails_the_job_with_an_event(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    job_id = await _request(fn_app, source.restore_point_id)
    (text,) = fn_app.receive("QUEUE_ENSURE_TARGET")
    await fn_app.deliver("poison_ensure_target", text, dequeue_count=1)
    (finish,) = fn_app.receive("QUEUE_FINISH")
    await fn_app.deliver("stage_finish", finish)
    record = await _job(job_id)
    assert record.state is JobState.FAILED
    assert record.failure is not None
    assert record.failure.code == "StageFailedRepeatedly"
    (event,) = _events(fn_app, job_id)
    assert event["type"] == "com.example.rpcopy.copy.failed"
    assert event["data"]["reason"]["stage"] == "ensure-target"

    # A failed job asked for again starts a new run with a new target restore point name,
    # once the rerun stage has deleted the failed run's copy.
    again = await _request(fn_app, source.restore_point_id)
    assert again == job_id
    assert (await _job(job_id)).state is JobState.RERUN_PENDING
    (rerun,) = fn_app.receive("QUEUE_RERUN")
    await fn_app.deliver("stage_rerun", rerun)
    record = await _job(job_id)
    assert record.run == 2
    assert record.state is JobState.QUEUED
    assert record.target_restore_point_name.endswith("-run2")


async def test_operation_url_on_a_foreign_host_is_refused_without_sending_the_token(
    fn_app: FunctionApp,
) -> None:
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                received.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        services = await get_services()
        for url in (
            f"http://127.0.0.1:{port}/subscriptions/x/providers/Microsoft.Compute/locations/westus/operations/1",
            f"http://localhost:{fn_app.stack.emulator_port}/other-host-name",
            f"https://127.0.0.1:{fn_app.stack.emulator_port}/other-scheme",
            "//evil.example/steal",
        ):
            with pytest.raises(ForeignHostError):
                await services.arm.operation_status(url, operation="Operations_Get")
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert received == [], "nothing, least of all the token, may reach another host"
