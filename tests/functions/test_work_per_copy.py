"""The ARM work of one completed copy, outside the replication polls, counted twice: by the
app's own counter (`shared.arm.client.call_counts`, this process) and by the ARM emulator's
request log (every request whose path names the copy's VM). Issue #3: at most 4."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx

from arm_emulator.control import EmulatorControl
from devstack.stack import EMULATOR_TOKEN, Stack
from shared.arm import bodies, source_check
from shared.arm.client import call_counts
from shared.arm.operations import ArmOperation
from shared.jobs.stages import dispatch as stages
from shared.jobs.stages import start_copy
from shared.jobs.stages.step import Result
from shared.model.ids import CollectionId, RestorePointId
from shared.model.job import JobRecord, JobState
from shared.model.keys import job_id_for
from shared.model.message import JobMessage, Stage, decode_message
from shared.services import Services, get_services
from shared.settings import DEFAULT_ARM_API_VERSION
from tests.conftest import MakeServices
from tests.functions.conftest import FunctionApp
from tests.functions.test_queue_functions import _request, deliver_visible, pump
from tests.functions.test_stage_failures import _take, start
from tests.support import seed_source

POLL = "RestorePoints_Get?$expand=instanceView"
MAX_ARM_CALLS_OUTSIDE_POLLS = 4


def emulator_calls(fn_app: FunctionApp, name: str) -> list[dict[str, Any]]:
    with EmulatorControl(fn_app.stack.arm_endpoint) as control:
        return [r for r in control.requests() if name.lower() in r["path"].lower()]


async def _drain(fn_app: FunctionApp) -> None:
    """Hand on the stage messages earlier tests left visible, so that the calls counted next
    are this copy's alone (the counter is the whole process's)."""
    deadline = time.monotonic() + 60.0
    while await deliver_visible(fn_app) and time.monotonic() < deadline:
        pass


async def _copy_and_count(fn_app: FunctionApp, restore_point_id: str) -> tuple[dict[str, int], int]:
    """Copy one restore point to the end; the app's ARM calls by operation, and its polls."""
    await _drain(fn_app)
    before = call_counts()
    job_id = await _request(fn_app, restore_point_id)
    record, _ = await pump(fn_app, job_id)
    assert record.state is JobState.SUCCEEDED, record.failure
    made = {op: n - before.get(op, 0) for op, n in call_counts().items()}
    made = {op: n for op, n in made.items() if n}
    polls = made.pop(POLL, 0)
    assert polls >= 1
    return made, polls


async def test_a_completed_copy_makes_at_most_four_arm_calls_outside_the_polls(
    fn_app: FunctionApp,
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1, restore_points=2)
    first, second = source.restore_point_ids
    name = source.collection_id.rsplit("/", 1)[-1]

    # The first copy from a collection the app has not seen: intake reads the source
    # collection with its restore points (region, lineage and the restore point in one GET);
    # ensure-target reads and creates the target; start-copy only PUTs.
    made, _ = await _copy_and_count(fn_app, first)
    assert made == {
        "RestorePointCollections_Get?$expand=restorePoints": 1,
        "RestorePointCollections_Get": 1,
        "RestorePointCollections_CreateOrUpdate": 1,
        "RestorePoints_Create": 1,
    }

    # Every later copy of the collection (hourly restore points of the same VM): the process
    # knows the source collection, and the pair row the target collection the last copy went
    # into (this app made it for this source), so neither is read.
    seen_before = len(emulator_calls(fn_app, name))
    made, polls = await _copy_and_count(fn_app, second)
    assert made == {"RestorePoints_Get": 1, "RestorePoints_Create": 1}
    assert sum(made.values()) <= MAX_ARM_CALLS_OUTSIDE_POLLS

    # The emulator saw the same: the collection names carry the VM's unique name.
    seen = emulator_calls(fn_app, name)[seen_before:]
    outside = [
        r
        for r in seen
        if not (r["operation"] == "RestorePoints_Get" and "instanceview" in r["query"].lower())
    ]
    assert len(outside) <= MAX_ARM_CALLS_OUTSIDE_POLLS
    assert len(seen) - len(outside) == polls


async def _at_start_copy(services: Services, stack: Stack) -> tuple[JobMessage, JobRecord]:
    """A new job moved through ensure-target; its start-copy message (not yet handled)."""
    source = seed_source(stack.arm_endpoint, data_disks=0)
    job_id = await start(services, source.restore_point_id)
    for text in _take(services, Stage.ENSURE_TARGET, stack.storage_connection):
        await stages.handle(services, Stage.ENSURE_TARGET, text)
    (text,) = _take(services, Stage.START_COPY, stack.storage_connection)
    record = await services.ledger.get(job_id)
    assert record is not None
    return decode_message(text), record


async def test_start_copy_redelivered_with_the_budget_spent_carries_on_with_its_copy(
    make_services: MakeServices, stack: Stack
) -> None:
    """A crash between the copy PUT and the commit: the redelivery finds the copy-PUT budget
    spent (by that very PUT and others), sees its own copy and goes on instead of waiting."""
    services = await make_services()
    message, record = await _at_start_copy(services, stack)
    first = await start_copy.run(services, message, record)  # the PUT; then "the crash"
    assert first.result is Result.ADVANCED
    target = str(CollectionId.parse(record.target_collection_id))
    settings = services.settings
    window = timedelta(seconds=settings.copy_put_window_seconds)
    while (
        await services.budget.reserve_copy_put(
            target, services.clock(), settings.copy_puts_per_window, window
        )
        == 0
    ):
        pass  # spend the rest of the window's budget
    before = call_counts()
    again = await start_copy.run(services, message, record)
    made = {op: n - before.get(op, 0) for op, n in call_counts().items() if n != before.get(op, 0)}
    assert again.result is Result.ADVANCED
    assert again.changes["state"] is JobState.REPLICATING
    assert made == {"RestorePoints_Get": 1}  # no second PUT


async def test_start_copy_of_a_new_target_restore_point_only_puts(
    make_services: MakeServices, stack: Stack
) -> None:
    services = await make_services()
    message, record = await _at_start_copy(services, stack)
    before = call_counts()
    step = await start_copy.run(services, message, record)
    made = {op: n - before.get(op, 0) for op, n in call_counts().items() if n != before.get(op, 0)}
    assert step.result is Result.ADVANCED
    assert made == {"RestorePoints_Create": 1}


# -- later copies in another process, and a target collection deleted in between ----------------


async def _cold_process() -> None:
    """What a new worker process starts with: no clients, no remembered rows or collections."""
    import shared.services

    if shared.services._services is not None:
        await shared.services._services.close()
    shared.services._services = None
    source_check._KNOWN_COLLECTIONS.clear()


def _delete_collection(stack: Stack, collection_id: str) -> None:
    """Someone deletes the target collection (the app itself never does): a raw ARM DELETE."""
    url = f"{stack.arm_endpoint}{collection_id}"
    params = {"api-version": DEFAULT_ARM_API_VERSION}
    headers = {"Authorization": f"Bearer {EMULATOR_TOKEN}"}
    with httpx.Client(headers=headers, params=params, timeout=30, trust_env=False) as arm:
        assert arm.delete(url).status_code in (200, 202, 204)
        deadline = time.monotonic() + 30
        while arm.get(url).status_code != 404:
            assert time.monotonic() < deadline, f"{collection_id} was not deleted"
            time.sleep(0.2)


async def test_a_later_copy_in_a_new_process_reads_neither_collection(
    fn_app: FunctionApp,
) -> None:
    """A new process knows nothing of the collection: it reads it once with its restore points
    (region, lineage and the restore point in one GET); the pair row tells it the target
    collection the last copy went into, so that is not read."""
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, restore_points=2)
    first, second = source.restore_point_ids
    await _copy_and_count(fn_app, first)
    await _cold_process()
    made, _ = await _copy_and_count(fn_app, second)
    assert made == {
        "RestorePointCollections_Get?$expand=restorePoints": 1,
        "RestorePoints_Create": 1,
    }
    job = await (await get_services()).ledger.get(
        job_id_for(RestorePointId.parse(second), "westus")
    )
    assert job is not None
    assert job.options.source_vm_id == source.vm_id  # lineage from the collection read
    assert job.target_collection_verified


async def test_a_target_collection_deleted_between_copies_is_made_again(
    fn_app: FunctionApp,
) -> None:
    """ensure-target skipped the read (the last copy proved the collection); the copy PUT's
    404 leads back to creating it, with its tags, and the copy goes on."""
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, restore_points=2)
    first, second = source.restore_point_ids
    await _copy_and_count(fn_app, first)
    services = await get_services()
    done = await services.ledger.get(job_id_for(RestorePointId.parse(first), "westus"))
    assert done is not None
    assert done.target_collection_id
    target = done.target_collection_id
    _delete_collection(fn_app.stack, target)

    seen_before = len(emulator_calls(fn_app, target))
    made, _ = await _copy_and_count(fn_app, second)
    assert made == {
        "RestorePoints_Get": 1,
        "RestorePoints_Create": 2,  # 404, then 201 into the new collection
        "RestorePointCollections_Get": 1,  # 404
        "RestorePointCollections_CreateOrUpdate": 1,
    }
    on_target = [(r["method"], r["status"]) for r in emulator_calls(fn_app, target)[seen_before:]]
    assert on_target[:4] == [("PUT", 404), ("GET", 404), ("PUT", 201), ("PUT", 201)]
    body = await services.arm.get(target, operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET)
    assert bodies.collection_source_id(body) == source.collection_id
    assert bodies.collection_tags(body)  # lineage and managed tags, as on a first creation


async def test_a_missing_restore_point_of_a_known_collection_is_still_a_422(
    fn_app: FunctionApp,
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, restore_points=1)
    missing = source.collection_id + "/restorePoints/never-made"

    async def post_missing() -> dict[str, Any]:
        body = json.dumps({"sourceRestorePointId": missing, "targetRegion": "westus"}).encode()
        response = await fn_app.http("copies_create", "POST", "/api/copies", body=body)
        assert response.status_code == 422
        assert response.mimetype == "application/problem+json"
        return json.loads(response.get_body())

    # The collection not seen yet: read with its restore points, the one asked for not among
    # them; its own GET (404) has the last word.
    first = await post_missing()
    assert first["title"] == "Source restore point not found"
    await _copy_and_count(fn_app, source.restore_point_id)
    # Now the collection's facts are known: the restore point's GET alone, the same answer.
    assert await post_missing() == first
