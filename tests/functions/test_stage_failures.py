"""The stages' failure paths, driven through `shared.jobs.stages.dispatch.handle` against
Azurite and the ARM emulator: each ends in the outcome a user would expect, with an error that
says what to do.

Each test runs its own Services with settings that make the path quick to reach (one ARM attempt
per delivery, no backoff, a short copy timeout) and its own queue names and tables.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from azure.storage.queue import QueueClient

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import Scenario
from devstack.stack import EMULATOR_TOKEN, Stack
from shared.jobs.intake import CopyRequest, request_copy
from shared.jobs.stages import dispatch as stages
from shared.jobs.stages.step import Result
from shared.model.ids import RestorePointId
from shared.model.job import JobRecord
from shared.model.message import Stage
from shared.services import Services
from tests.conftest import QUEUE_SETTINGS, MakeServices
from tests.support import SOURCE_GROUP, SUBSCRIPTION, TARGET_REGION, seed_source


def _take(services: Services, stage: Stage, connection: str) -> list[str]:
    queue = getattr(services.settings.queues, stage.name.lower())
    client = QueueClient.from_connection_string(connection, queue)
    texts: list[str] = []
    try:
        for message in client.receive_messages(messages_per_page=32, visibility_timeout=60):
            texts.append(base64.b64decode(message.content).decode())
            client.delete_message(message)
    except Exception as exc:
        if "QueueNotFound" not in str(exc):
            raise
    return texts


async def run_job(
    services: Services,
    stack: Stack,
    job_id: str,
    timeout: float = 60,
    until: Callable[[JobRecord], bool] = lambda record: record.state.terminal,
) -> JobRecord:
    """Act as the host for this Services' queues until the job ends (or `until` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        for stage in QUEUE_SETTINGS:
            for text in _take(services, stage, stack.storage_connection):
                await stages.handle(services, stage, text)
        record = await services.ledger.get(job_id)
        assert record is not None
        if until(record):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {record.state.value} after {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def start(services: Services, rp: str, **extra: Any) -> str:
    request = CopyRequest(source=RestorePointId.parse(rp), target_region=TARGET_REGION, **extra)
    record, started = await request_copy(services, request)
    assert started
    return record.job_id


def events(services: Services, stack: Stack, job_id: str) -> list[dict[str, Any]]:
    client = QueueClient.from_connection_string(
        stack.storage_connection, services.settings.queues.events
    )
    found = [json.loads(base64.b64decode(m.content)) for m in client.peek_messages(max_messages=32)]
    return [e for e in found if e["data"].get("jobId") == job_id]


@pytest.fixture
def emulator(stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(stack.arm_endpoint) as control:
        yield control
        control.clear_faults()


async def test_an_existing_target_collection_of_another_source_fails_the_job(
    make_services: MakeServices, stack: Stack
) -> None:
    services = await make_services()
    source = seed_source(stack.arm_endpoint, data_disks=0)
    other = seed_source(stack.arm_endpoint, data_disks=0)
    # Someone else's copy target already has the name this job would use.
    taken = f"{source.collection_id.rsplit('/', 1)[-1]}-{TARGET_REGION}"
    scenario = Scenario(SUBSCRIPTION).collection(
        taken, source=other.collection_id, rg=SOURCE_GROUP, location=TARGET_REGION
    )
    with EmulatorControl(stack.arm_endpoint) as control:
        control.seed(scenario)
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state.value == "Failed"
    assert record.failure is not None
    assert record.failure.code == "TargetCollectionConflict"
    assert "choose another targetCollectionName" in record.failure.message
    assert [e["type"] for e in events(services, stack, job_id)] == [
        "com.example.rpcopy.copy.failed"
    ]


async def test_transient_arm_errors_are_retried_then_the_job_fails_saying_so(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl
) -> None:
    services = await make_services(STAGE_MAX_ATTEMPTS="3")
    source = seed_source(stack.arm_endpoint, data_disks=0)
    vm = source.vm_id.rsplit("/", 1)[-1]
    emulator.add_fault(
        operation="RestorePointCollections_Get",
        kind="http",
        status=503,
        match={"pathContains": f"rpc-{vm}-{TARGET_REGION}"},
    )
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state.value == "Failed"
    assert record.failure is not None
    assert record.failure.code == "ServiceUnavailable"
    assert record.failure.message.startswith("gave up after 3 attempts")
    target_reads = [
        r
        for r in emulator.requests("RestorePointCollections_Get")
        if f"rpc-{vm}-{TARGET_REGION}" in r["path"]
    ]
    assert len(target_reads) == 3, "one ARM attempt per delivery, three deliveries"


async def test_a_long_retry_after_reenqueues_instead_of_blocking(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl
) -> None:
    services = await make_services(ARM_MAX_INLINE_WAIT_SECONDS="1")
    source = seed_source(stack.arm_endpoint, data_disks=0)
    vm = source.vm_id.rsplit("/", 1)[-1]
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="http",
        status=429,
        retryAfter=120,
        times=1,
        match={"pathContains": vm},
    )
    job_id = await start(services, source.restore_point_id)
    for stage in (Stage.ENSURE_TARGET, Stage.START_COPY):
        (text,) = _take(services, stage, stack.storage_connection)
        began = time.monotonic()
        result = await stages.handle(services, stage, text)
        assert time.monotonic() - began < 10, "no worker sleeps through a long Retry-After"
    assert result is Result.WAITING
    record = await services.ledger.get(job_id)
    assert record is not None
    assert record.state.value == "Starting"
    assert record.attempts.get("throttled") == 1
    # The start-copy message is back in its queue, invisible for the Retry-After.
    queue = QueueClient.from_connection_string(
        stack.storage_connection, services.settings.queues.start_copy
    )
    assert queue.get_queue_properties().approximate_message_count == 1
    assert _take(services, Stage.START_COPY, stack.storage_connection) == []


async def test_a_copy_past_its_deadline_fails_as_timed_out(
    make_services: MakeServices, stack: Stack
) -> None:
    services = await make_services(
        COPY_TIMEOUT_SECONDS="1", POLL_INITIAL_SECONDS="2", POLL_MIN_SECONDS="2"
    )
    source = seed_source(stack.arm_endpoint, data_disks=0)
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state.value == "Failed"
    assert record.failure is not None
    assert record.failure.code == "CopyTimedOut"
    assert "14 days" in record.failure.message


async def test_a_failed_copy_operation_reports_the_operations_error(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl
) -> None:
    services = await make_services()
    source = seed_source(stack.arm_endpoint, data_disks=1)
    vm = source.vm_id.rsplit("/", 1)[-1]
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="lro_failure",
        code="VMRestorePointInternalError",
        message="internal error while copying",
        match={"pathContains": vm},
    )
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state.value == "Failed"
    assert record.failure is not None
    assert record.failure.code == "VMRestorePointInternalError"
    assert record.failure.message == "internal error while copying"


async def test_a_target_deleted_while_replicating_fails_the_job(
    make_services: MakeServices, stack: Stack
) -> None:
    services = await make_services()
    source = seed_source(stack.arm_endpoint, data_disks=0)
    job_id = await start(services, source.restore_point_id)
    for stage in (Stage.ENSURE_TARGET, Stage.START_COPY):
        (text,) = _take(services, stage, stack.storage_connection)
        await stages.handle(services, stage, text)
    record = await services.ledger.get(job_id)
    assert record is not None
    assert record.target_restore_point_id
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"}) as arm:
        deleted = await arm.delete(
            f"{stack.arm_endpoint}{record.target_restore_point_id}",
            params={"api-version": "2025-04-01"},
        )
    assert deleted.status_code in (200, 202, 204)
    with EmulatorControl(stack.arm_endpoint) as control:
        control.advance_clock(60)  # let the delete's operation finish
    record = await run_job(services, stack, job_id)
    assert record.state.value == "Failed"
    assert record.failure is not None
    assert record.failure.code == "TargetRestorePointMissing"
