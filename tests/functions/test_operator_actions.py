"""Cancel, retry and the runs of a job, through the HTTP functions called directly with real
`func.HttpRequest` objects, against Azurite and the ARM emulator; the stages are driven by hand
(the tests deliver each queue message) so a test can stop a job exactly where it wants."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from devstack.stack import EMULATOR_TOKEN
from shared.jobs.admission import job_event_out, stage_message
from shared.jobs.stages.dispatch import commit
from shared.jobs.stages.step import Announce, Result, step
from shared.model.events import EventType
from shared.model.ids import CollectionId
from shared.model.job import JobState
from shared.model.message import Stage, decode_message
from shared.services import get_services
from shared.sweep import reconcile
from tests.functions.conftest import FunctionApp
from tests.functions.test_queue_functions import _request, pump
from tests.support import TARGET_REGION, seed_source

STAGE_OF_QUEUE = {
    "QUEUE_ENSURE_TARGET": "stage_ensure_target",
    "QUEUE_START_COPY": "stage_start_copy",
    "QUEUE_POLL": "stage_poll",
    "QUEUE_FINISH": "stage_finish",
    "QUEUE_RERUN": "stage_rerun",
}


def _json(response: Any) -> dict:
    return json.loads(response.get_body())


async def _cancel(fn_app: FunctionApp, job_id: str, **params: str) -> Any:
    return await fn_app.http(
        "copies_cancel",
        "DELETE",
        f"/api/copies/{job_id}",
        params=params,
        route_params={"id": job_id},
    )


async def _retry(fn_app: FunctionApp, job_id: str) -> Any:
    return await fn_app.http(
        "copies_retry", "POST", f"/api/copies/{job_id}/retry", route_params={"id": job_id}
    )


async def _runs(fn_app: FunctionApp, job_id: str) -> Any:
    return await fn_app.http(
        "copies_runs", "GET", f"/api/copies/{job_id}/runs", route_params={"id": job_id}
    )


def _take(fn_app: FunctionApp, setting: str, job_id: str) -> list[str]:
    return [t for t in fn_app.receive(setting) if decode_message(t).job_id == job_id]


def _events(fn_app: FunctionApp, job_id: str) -> list[dict]:
    found = map(json.loads, fn_app.receive("EVENTS_QUEUE"))
    return [e for e in found if e["data"]["jobId"] == job_id]


async def _step_until(fn_app: FunctionApp, job_id: str, state: JobState) -> None:
    """Deliver the job's messages, one stage at a time, until its row is in `state`."""
    ledger = (await get_services()).ledger
    for _ in range(40):
        record = await ledger.get(job_id)
        assert record is not None
        if record.state is state:
            return
        assert not record.state.terminal, f"{job_id} ended {record.state} before {state}"
        for setting, function in STAGE_OF_QUEUE.items():
            texts = _take(fn_app, setting, job_id)
            for text in texts:
                await fn_app.deliver(function, text)
            if texts:
                break  # one stage at a time: look at the row again
        else:
            await asyncio.sleep(0.25)  # a poll re-enqueued with a delay is not visible yet
    raise AssertionError(f"job {job_id} never reached {state.value}")


def _arm_get(fn_app: FunctionApp, resource_id: str) -> int:
    with httpx.Client(
        base_url=fn_app.stack.arm_endpoint,
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        params={"api-version": "2025-04-01"},
    ) as arm:
        return arm.get(resource_id).status_code


async def test_cancel_a_queued_job_ends_it_with_an_event_and_its_messages_become_no_ops(
    fn_app: FunctionApp,
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    job_id = await _request(fn_app, source.restore_point_id)
    in_flight = _take(fn_app, "QUEUE_ENSURE_TARGET", job_id)
    assert len(in_flight) == 1

    response = await _cancel(fn_app, job_id)
    assert response.status_code == 200, response.get_body()
    job = _json(response)
    assert job["state"] == "Cancelled"
    assert job["copy"] == {"status": "none"}
    assert "before its copy started" in job["detail"]
    (event,) = _events(fn_app, job_id)
    assert event["type"] == "com.example.rpcopy.copy.cancelled"
    assert event["data"]["state"] == "Cancelled"

    # The message in flight when the job was cancelled is dropped: no event, no placeholder job.
    await fn_app.deliver("stage_ensure_target", in_flight[0])
    record = await (await get_services()).ledger.get(job_id)
    assert record is not None
    assert record.state is JobState.CANCELLED
    assert _events(fn_app, job_id) == []
    assert fn_app.receive("QUEUE_START_COPY") == []

    # Cancelling again is harmless: the same job, no second event.
    again = await _cancel(fn_app, job_id)
    assert again.status_code == 200
    assert _json(again)["state"] == "Cancelled"
    assert _events(fn_app, job_id) == []


async def test_cancel_frees_the_pair_for_the_next_restore_point(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, restore_points=2)
    older, newer = source.restore_point_ids
    first = await _request(fn_app, older)
    second = await _request(fn_app, newer)
    ledger = (await get_services()).ledger
    waiting = await ledger.get(second)
    assert waiting is not None
    assert waiting.state is JobState.WAITING
    assert (await _cancel(fn_app, first)).status_code == 200
    admitted = await ledger.get(second)
    assert admitted is not None
    assert admitted.state is JobState.QUEUED


@pytest.mark.parametrize(("delete_copy", "status"), [(False, "left"), (True, "deleting")])
async def test_cancel_a_replicating_copy_leaves_it_or_deletes_it(
    fn_app: FunctionApp, delete_copy: bool, status: str
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1, used_gb=120)
    job_id = await _request(fn_app, source.restore_point_id)
    await _step_until(fn_app, job_id, JobState.REPLICATING)
    params = {"deleteCopy": "true"} if delete_copy else {}
    response = await _cancel(fn_app, job_id, **params)
    assert response.status_code == 200, response.get_body()
    job = _json(response)
    assert job["state"] == "Cancelled"
    copy_id = job["targetRestorePointId"]
    assert job["copy"]["id"] == copy_id
    # The DELETE may be accepted (202) or done at once (200).
    allowed = {status, "deleted"} if delete_copy else {status}
    assert job["copy"]["status"] in allowed
    if delete_copy:
        assert "being deleted" in job["detail"]
    else:
        assert "left to Azure and no longer tracked" in job["detail"]
        assert _arm_get(fn_app, copy_id) == 200
    # The poll message in flight is dropped; the row stays cancelled.
    for text in _take(fn_app, "QUEUE_POLL", job_id):
        await fn_app.deliver("stage_poll", text)
    record = await (await get_services()).ledger.get(job_id)
    assert record is not None
    assert record.state is JobState.CANCELLED
    assert fn_app.receive("QUEUE_FINISH") == []


@pytest.mark.parametrize(
    ("job_id", "params", "status"),
    [
        ("not-a-job", {}, 400),
        ("0" * 32, {}, 404),
        ("0" * 32, {"deleteCopy": "maybe"}, 400),
        ("0" * 32, {"colour": "blue"}, 400),
    ],
)
async def test_cancel_refuses_bad_input(
    fn_app: FunctionApp, job_id: str, params: dict[str, str], status: int
) -> None:
    response = await _cancel(fn_app, job_id, **params)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert _json(response)["detail"]


async def test_a_job_that_ended_cannot_be_cancelled_and_a_running_one_cannot_be_retried(
    fn_app: FunctionApp,
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    job_id = await _request(fn_app, source.restore_point_id)
    busy = await _retry(fn_app, job_id)
    assert busy.status_code == 409
    assert "only a Failed or Cancelled job" in _json(busy)["detail"]
    record, _ = await pump(fn_app, job_id)
    assert record.state is JobState.SUCCEEDED
    ended = await _cancel(fn_app, job_id)
    assert ended.status_code == 409
    assert ended.mimetype == "application/problem+json"
    assert "Succeeded" in _json(ended)["detail"]
    for bad, status in (("nope", 400), ("1" * 32, 404)):
        assert (await _retry(fn_app, bad)).status_code == status
        assert (await _runs(fn_app, bad)).status_code == status


async def test_retry_a_cancelled_job_runs_it_again_and_each_run_keeps_its_record(
    fn_app: FunctionApp,
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    job_id = await _request(fn_app, source.restore_point_id)
    await _step_until(fn_app, job_id, JobState.REPLICATING)
    assert (await _cancel(fn_app, job_id)).status_code == 200
    first_copy = (await (await get_services()).ledger.get(job_id)).target_restore_point_id
    fn_app.receive("QUEUE_POLL")

    response = await _retry(fn_app, job_id)
    assert response.status_code == 202, response.get_body()
    assert response.headers["Location"] == f"/api/copies/{job_id}"
    assert _json(response)["state"] == "RerunPending"
    runs = _json(await _runs(fn_app, job_id))["value"]
    assert [(r["run"], r["state"]) for r in runs] == [(1, "Cancelled"), (2, "RerunPending")]

    record, _ = await pump_with_rerun(fn_app, job_id)
    assert record.state is JobState.SUCCEEDED
    assert record.run == 2
    # The rerun stage deleted the cancelled run's copy before run 2 made its own.
    assert _arm_get(fn_app, first_copy) == 404
    runs = _json(await _runs(fn_app, job_id))["value"]
    assert [(r["run"], r["state"]) for r in runs] == [(1, "Cancelled"), (2, "Succeeded")]
    assert runs[0]["targetRestorePointId"] == first_copy
    assert "cancelled in state Replicating" in runs[0]["detail"]
    assert runs[1]["targetRestorePointId"] == record.target_restore_point_id
    assert runs[1]["targetRestorePointId"].endswith("-run2")


async def pump_with_rerun(fn_app: FunctionApp, job_id: str) -> tuple[Any, list[str]]:
    for text in _take(fn_app, "QUEUE_RERUN", job_id):
        await fn_app.deliver("stage_rerun", text)
    return await pump(fn_app, job_id)


async def test_a_start_without_copy_put_budget_waits_in_its_own_state(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    job_id = await _request(fn_app, source.restore_point_id)
    await _step_until(fn_app, job_id, JobState.STARTING)
    services = await get_services()
    record = await services.ledger.get(job_id)
    assert record is not None
    assert record.target_collection_id
    target = str(CollectionId.parse(record.target_collection_id))
    window = timedelta(seconds=services.settings.copy_put_window_seconds)
    for _ in range(services.settings.copy_puts_per_window):
        assert await services.budget.reserve_copy_put(target, services.clock(), 99, window) == 0
    for text in _take(fn_app, "QUEUE_START_COPY", job_id):
        await fn_app.deliver("stage_start_copy", text)
    response = await fn_app.http(
        "copies_get", "GET", f"/api/copies/{job_id}", route_params={"id": job_id}
    )
    job = _json(response)
    assert job["state"] == "WaitingForBudget"
    assert job["nextAttemptAt"] > job["updatedAt"]
    assert "budget" in job["detail"]
    listed = _json(
        await fn_app.http("copies_list", "GET", "/api/copies", params={"state": "waitingforbudget"})
    )
    assert job_id in [j["id"] for j in listed["value"]]
    # Cancelled while it waits: the start message that would try again becomes a no-op.
    assert (await _cancel(fn_app, job_id)).status_code == 200
    for text in _take(fn_app, "QUEUE_START_COPY", job_id):
        await fn_app.deliver("stage_start_copy", text)
    after = await services.ledger.get(job_id)
    assert after is not None
    assert after.state is JobState.CANCELLED


async def test_the_list_is_newest_first(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, restore_points=3)
    ids = [await _request(fn_app, rp, "northeurope") for rp in source.restore_point_ids]
    fn_app.receive("QUEUE_ENSURE_TARGET")
    params = {"sourceCollectionId": source.collection_id, "pageSize": "2"}
    first = _json(await fn_app.http("copies_list", "GET", "/api/copies", params=params))
    from urllib.parse import parse_qsl, urlsplit

    rest = dict(parse_qsl(urlsplit(first["nextLink"]).query))
    second = _json(await fn_app.http("copies_list", "GET", first["nextLink"], params=rest))
    assert [j["id"] for j in first["value"] + second["value"]] == list(reversed(ids))
    assert TARGET_REGION not in {j["targetRegion"] for j in first["value"]}


async def test_a_stage_that_was_running_when_the_job_was_cancelled_commits_nothing(
    fn_app: FunctionApp,
) -> None:
    """The stage read the row before the cancel and finished after it: its commit is refused by
    the row's step (under the ETag), so nothing it meant to send goes out."""
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    job_id = await _request(fn_app, source.restore_point_id)
    await _step_until(fn_app, job_id, JobState.REPLICATING)
    services = await get_services()
    read_before = await services.ledger.get(job_id)
    assert read_before is not None
    # The poll message of that step, as the stage holds it.
    message = decode_message(stage_message(services, read_before, Stage.POLL).text)
    assert (await _cancel(fn_app, job_id)).status_code == 200
    _events(fn_app, job_id)

    finishing = step(
        Result.ADVANCED,
        {"state": JobState.SUCCEEDED, "percent": 100.0},
        Announce(EventType.SUCCEEDED),
    )
    await commit(services, message, read_before, finishing)
    after = await services.ledger.get(job_id)
    assert after is not None
    assert after.state is JobState.CANCELLED
    assert after.step == read_before.step + 1
    assert _events(fn_app, job_id) == []


async def _cut_short_cancel(job_id: str, *, age_seconds: float = 0.0) -> None:
    """The row as a cancel leaves it when the process dies right after its commit: Cancelled,
    one step on, its event still in the unsent outbox, the pair not yet freed."""
    services = await get_services()
    when = services.clock() - timedelta(seconds=age_seconds)

    def commit_only(current: Any) -> Any:
        ended = current.evolve(
            state=JobState.CANCELLED,
            step=current.step + 1,
            # Backdated so the outbox is stale; a job cannot end before it was requested.
            requested_at=min(current.requested_at, when),
            finished_at=when,
            updated_at=when,
            detail="cancelled in state Queued, before its copy started",
        )
        return ended.evolve(
            outbox=(job_event_out(services, ended, EventType.CANCELLED),), outbox_sent=False
        )

    stored, changed = await services.ledger.update(job_id, commit_only)
    assert changed
    assert stored is not None


@pytest.mark.parametrize("repair", ["a repeated cancel", "the sweep"])
async def test_a_cancel_cut_short_after_its_commit_is_finished(
    fn_app: FunctionApp, repair: str
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, restore_points=2)
    older, newer = source.restore_point_ids
    first = await _request(fn_app, older)
    second = await _request(fn_app, newer)
    fn_app.receive("QUEUE_ENSURE_TARGET")
    await _cut_short_cancel(first, age_seconds=120)
    services = await get_services()
    if repair == "a repeated cancel":
        response = await _cancel(fn_app, first)
        assert response.status_code == 200
    else:
        record = await services.ledger.get(first)
        assert record is not None
        await reconcile._repair(services, record.pair_key, [record])
    (event,) = _events(fn_app, first)
    assert event["type"] == "com.example.rpcopy.copy.cancelled"
    after = await services.ledger.get(first)
    assert after is not None
    assert after.outbox_sent
    admitted = await services.ledger.get(second)
    assert admitted is not None
    assert admitted.state is JobState.QUEUED, "the pair the cancelled job held was freed"
