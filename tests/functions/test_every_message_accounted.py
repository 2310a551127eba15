"""Every queue message ends as a job (or a failed placeholder job) with an event, or is dropped
only when it repeats a step its job already took (found by the bad-input drill,
`python -m drills bad-input`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage, Trigger
from shared.services import get_services
from tests.functions.conftest import FunctionApp

SOURCE = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-prod/providers/"
    "Microsoft.Compute/restorePointCollections/rpc-x/restorePoints/rp1"
)


def job_message(stage: Stage, *, job_id: str | None = None, step: int = 1, run: int = 1) -> str:
    return JobMessage(
        job_id=job_id or uuid.uuid4().hex,
        run=run,
        step=step,
        stage=stage,
        source_restore_point_id=SOURCE,
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="rpc-x-westus",
        target_restore_point_name="rp1",
        correlation_id=str(uuid.uuid4()),
        trigger=Trigger.HTTP,
        requested_at=datetime.now(UTC),
    ).encode()


def sha_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def test_messages_on_the_wrong_queue_each_become_their_own_failed_job(
    fn_app: FunctionApp,
) -> None:
    """Two different well-formed messages of unknown jobs, each on a queue that is not its
    stage's: both are unreadable here, and each must be kept, not folded into one."""
    fn_app.receive("EVENTS_QUEUE")
    texts = [job_message(Stage.FINISH), job_message(Stage.START_COPY)]
    for text in texts:
        await fn_app.deliver("stage_poll", text)
    events = [json.loads(t) for t in fn_app.receive("EVENTS_QUEUE")]
    assert sorted(e["data"]["jobId"] for e in events) == sorted(sha_id(t) for t in texts)
    ledger = (await get_services()).ledger
    for event in events:
        assert event["type"] == "com.example.rpcopy.copy.failed"
        assert event["data"]["reason"]["code"] == "InvalidMessage"
        assert "arrived on the poll queue" in event["data"]["reason"]["message"]
        record = await ledger.get(event["data"]["jobId"])
        assert record is not None
        assert record.state is JobState.FAILED


async def _finished_job(step: int = 5, run: int = 1) -> JobRecord:
    now = datetime.now(UTC)
    record = JobRecord(
        job_id=uuid.uuid4().hex,
        run=run,
        state=JobState.SUCCEEDED,
        source_restore_point_id=SOURCE,
        source_collection_id=SOURCE.rsplit("/restorePoints/", 1)[0],
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="rpc-x-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.HTTP,
        correlation_id=str(uuid.uuid4()),
        requested_at=now,
        updated_at=now,
        finished_at=now,
        step=step,
    )
    created, _ = await (await get_services()).ledger.create(record)
    return created


@pytest.mark.parametrize(
    ("step", "run", "why"),
    [
        (3, 3, "a run the job never had"),
        (9, 2, "a step the job never reached"),
        (5, 2, "the step of a job that ended (no message is ever sent for it)"),
    ],
)
async def test_a_message_ahead_of_its_job_is_kept_as_a_failed_placeholder(
    fn_app: FunctionApp, step: int, run: int, why: str
) -> None:
    job = await _finished_job(step=5, run=2)
    fn_app.receive("EVENTS_QUEUE")
    text = job_message(
        Stage.POLL, job_id=job.job_id, step=step, run=run + (why.startswith("a run"))
    )
    await fn_app.deliver("stage_poll", text)
    (event,) = [json.loads(t) for t in fn_app.receive("EVENTS_QUEUE")]
    assert event["type"] == "com.example.rpcopy.copy.failed", why
    assert event["data"]["jobId"] == sha_id(text)
    assert event["data"]["reason"]["code"] == "InvalidMessage"
    assert job.job_id in event["data"]["reason"]["message"]
    ledger = (await get_services()).ledger
    placeholder = await ledger.get(sha_id(text))
    assert placeholder is not None
    assert placeholder.state is JobState.FAILED
    after = await ledger.get(job.job_id)
    assert after is not None
    assert (after.state, after.step, after.run) == (job.state, job.step, job.run), "left alone"


@pytest.mark.parametrize(("step", "run"), [(4, 2), (0, 2), (9, 1)])
async def test_a_message_repeating_a_step_the_job_took_is_dropped(
    fn_app: FunctionApp, step: int, run: int
) -> None:
    job = await _finished_job(step=5, run=2)
    fn_app.receive("EVENTS_QUEUE")
    await fn_app.deliver(
        "stage_poll", job_message(Stage.POLL, job_id=job.job_id, step=step, run=run)
    )
    assert fn_app.receive("EVENTS_QUEUE") == []
    after = await (await get_services()).ledger.get(job.job_id)
    assert after is not None
    assert (after.state, after.step, after.updated_at) == (job.state, job.step, job.updated_at)


@pytest.mark.parametrize("stage", [Stage.ENSURE_TARGET, Stage.START_COPY, Stage.POLL, Stage.FINISH])
async def test_a_message_in_flight_when_its_job_was_cancelled_is_a_logged_no_op(
    fn_app: FunctionApp, stage: Stage, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancel moves the row one step on (DELETE /api/copies/{id}): the stage message sent for
    the step before is accounted for as belonging to a cancelled job, and changes nothing."""
    ledger = (await get_services()).ledger
    job = await _finished_job(step=5)
    cancelled, _ = await ledger.update(
        job.job_id, lambda r: r.evolve(state=JobState.CANCELLED, detail="cancelled")
    )
    assert cancelled is not None
    fn_app.receive("EVENTS_QUEUE")
    function = f"stage_{stage.value.replace('-', '_')}"
    with caplog.at_level("INFO"):
        await fn_app.deliver(function, job_message(stage, job_id=job.job_id, step=4))
    assert fn_app.receive("EVENTS_QUEUE") == []
    after = await ledger.get(job.job_id)
    assert after is not None
    assert (after.state, after.step, after.updated_at) == (
        JobState.CANCELLED,
        cancelled.step,
        cancelled.updated_at,
    )
    assert any("job was cancelled" in r.getMessage() for r in caplog.records)
