"""Every queue message ends as a job (or a failed placeholder job) with an event, or is dropped
only when it repeats a step its job already took (found by the bad-input drill,
`python -m drills bad-input`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from shared.model.job import JobState
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
        assert event["type"] == "rpcopy.copy.failed"
        assert event["data"]["reason"]["code"] == "InvalidMessage"
        assert "arrived on the poll queue" in event["data"]["reason"]["message"]
        record = await ledger.get(event["data"]["jobId"])
        assert record is not None
        assert record.state is JobState.FAILED
