"""shared/jobs/admission.py and shared/jobs/outbox.py against Azurite: jobs in and out of their
(source collection, target region) pair, and the outbox that sends what a step produced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.jobs.admission import admit_job, promote_waiting, release_and_promote
from shared.jobs.outbox import STALE_OUTBOX_SECONDS, deliver, outbox_is_stale
from shared.model.events import EventType, encode, job_event
from shared.model.ids import RestorePointId
from shared.model.job import JobRecord, JobState, Outbound
from shared.model.keys import job_id_for, pair_key
from shared.model.message import Stage, Trigger
from shared.services import Services
from tests.conftest import MakeServices
from tests.support import drain_queue

SUB = "00000000-0000-0000-0000-0000000000aa"
RPC = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/restorePointCollections/c1"
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def waiting(name: str, created_minutes: float, now: datetime = T0) -> JobRecord:
    source = RestorePointId.parse(f"{RPC}/restorePoints/{name}")
    return JobRecord(
        job_id=job_id_for(source, "westus"),
        run=1,
        state=JobState.WAITING,
        source_restore_point_id=str(source),
        source_collection_id=RPC,
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="c1-westus",
        target_restore_point_name=name,
        trigger=Trigger.SWEEP,
        correlation_id=f"corr-{name}",
        requested_at=now,
        updated_at=now,
        source_created_at=T0 + timedelta(minutes=created_minutes),
        detail="admission pending",
    )


def started_event(services: Services, record: JobRecord) -> str:
    """The copy.started event of `record` once its copy runs (a real event: every emitted
    event must meet the event contract, tests/event_contract.py)."""
    replicating = record.evolve(
        state=JobState.REPLICATING,
        target_restore_point_id=f"{RPC}-westus/restorePoints/{record.target_restore_point_name}",
    )
    return encode(
        job_event(
            EventType.STARTED,
            replicating,
            identity=services.settings.event_identity,
            time=replicating.requested_at,
        )
    )


async def stored(services: Services, record: JobRecord) -> JobRecord:
    created, _ = await services.ledger.create(record)
    return created


def connection(services: Services) -> str:
    import os

    return os.environ[services.settings.storage_connection]


async def test_the_first_job_of_a_pair_is_admitted_and_sent(make_services: MakeServices) -> None:
    services = await make_services()
    job = await admit_job(services, await stored(services, waiting("rp1", 0)))
    assert job.state is JobState.QUEUED
    assert (await services.ledger.get(job.job_id)).outbox_sent  # delivered and marked
    (text,) = drain_queue(
        connection(services), services.settings.queues.for_stage(Stage.ENSURE_TARGET)
    )
    message = json.loads(text)
    assert (message["jobId"], message["stage"], message["step"]) == (
        job.job_id,
        "ensure-target",
        job.step,
    )
    pair, _ = await services.pairs.update_pair(RPC, "westus", lambda p: None)
    assert pair.state.active_job_id == job.job_id


async def test_a_second_job_waits_and_says_for_whom(make_services: MakeServices) -> None:
    services = await make_services()
    first = await admit_job(services, await stored(services, waiting("rp1", 0)))
    second = await admit_job(services, await stored(services, waiting("rp2", 60)))
    assert second.state is JobState.WAITING
    assert second.detail == f"waiting for copy job {first.job_id} of the same collection"


async def test_an_older_restore_point_is_superseded_with_its_event(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    newer = await admit_job(services, await stored(services, waiting("rp2", 60)))
    older = await admit_job(services, await stored(services, waiting("rp1", 0)))
    assert newer.state is JobState.QUEUED
    assert older.state is JobState.SUPERSEDED
    assert "creation order" in (older.detail or "")
    events = [
        json.loads(t) for t in drain_queue(connection(services), services.settings.queues.events)
    ]
    assert [(e["type"], e["data"]["jobId"]) for e in events] == [
        ("com.example.rpcopy.copy.superseded", older.job_id)
    ]


async def test_release_admits_the_oldest_waiting_restore_point(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    first = await admit_job(services, await stored(services, waiting("rp1", 0)))
    third = await admit_job(services, await stored(services, waiting("rp3", 120)))
    second = await admit_job(services, await stored(services, waiting("rp2", 60)))
    assert (third.state, second.state) == (JobState.WAITING, JobState.WAITING)
    ended, _ = await services.ledger.update(
        first.job_id, lambda r: r.evolve(state=JobState.SUCCEEDED, finished_at=T0)
    )
    assert ended is not None
    await release_and_promote(services, ended)
    after = {
        r.source_restore_point_id.rsplit("/", 1)[-1]: r.state
        for r in await services.ledger.for_pair(pair_key(RPC, "westus"))
    }
    assert after == {"rp1": JobState.SUCCEEDED, "rp2": JobState.QUEUED, "rp3": JobState.WAITING}
    pair, _ = await services.pairs.update_pair(RPC, "westus", lambda p: None)
    assert pair.state.watermark == T0  # rp1's creation time: the newest copied


async def test_promote_repairs_a_pair_nobody_holds(make_services: MakeServices) -> None:
    """A crash between storing a Waiting job and admitting it is repaired by the next promote."""
    services = await make_services()
    job = await stored(services, waiting("rp1", 0))
    await promote_waiting(services, pair_key(RPC, "westus"))
    assert (await services.ledger.get(job.job_id)).state is JobState.QUEUED


# -- outbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "age", "stale"),
    [
        (True, 3600, False),
        (False, 0, False),
        (False, STALE_OUTBOX_SECONDS, False),
        (False, STALE_OUTBOX_SECONDS + 1, True),
    ],
)
def test_outbox_is_stale(sent: bool, age: float, stale: bool) -> None:
    record = waiting("rp1", 0).evolve(outbox_sent=sent)
    assert outbox_is_stale(record, T0 + timedelta(seconds=age)) is stale


async def test_deliver_sends_each_message_and_marks_the_step_sent(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    queues = services.settings.queues
    event = started_event(services, waiting("rp1", 0))
    record = await stored(
        services,
        waiting("rp1", 0).evolve(
            outbox=(
                Outbound(queues.poll, "to-poll"),
                Outbound(queues.events, event),
            ),
            outbox_sent=False,
        ),
    )
    await deliver(services, record)
    assert drain_queue(connection(services), queues.poll) == ["to-poll"]
    assert drain_queue(connection(services), queues.events) == [event]
    assert (await services.ledger.get(record.job_id)).outbox_sent


async def test_deliver_leaves_a_row_that_moved_on_alone(make_services: MakeServices) -> None:
    """A stale deliverer must not mark a later step's outbox as sent."""
    services = await make_services()
    record = await stored(
        services,
        waiting("rp1", 0).evolve(
            outbox=(Outbound(services.settings.queues.poll, "old"),), outbox_sent=False
        ),
    )
    await services.ledger.update(record.job_id, lambda r: r.evolve(step=r.step + 1))
    await deliver(services, record)
    assert not (await services.ledger.get(record.job_id)).outbox_sent


async def test_an_update_of_a_known_row_merges_what_changed_and_keeps_the_rest(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    record = await stored(
        services,
        waiting("rp1", 0).evolve(
            outbox=(Outbound(services.settings.queues.poll, "x"),), outbox_sent=False
        ),
    )
    await deliver(services, record)  # marks the outbox sent: one column changed
    again = await services.ledger.get(record.job_id)
    assert again == record.evolve(outbox_sent=True)
    # A column gone (the detail cleared) is a full write: the row holds no stale value.
    await services.ledger.update(record.job_id, lambda r: r.evolve(detail=None))
    assert (await services.ledger.get(record.job_id)).detail is None
    # The ETag the merge returned guards the next write without a read.
    _, changed = await services.ledger.update(record.job_id, lambda r: r.evolve(detail="next"))
    assert changed
    assert (await services.ledger.get(record.job_id)).detail == "next"


async def test_a_merge_on_a_row_changed_since_decides_on_the_stored_row(
    make_services: MakeServices,
) -> None:
    """Another instance moved the row on since this one wrote it: the merge's ETag fails and
    the mark is decided on the row as stored (a later step's outbox stays unsent)."""
    services = await make_services()
    record = await stored(
        services,
        waiting("rp1", 0).evolve(
            outbox=(Outbound(services.settings.queues.poll, "x"),), outbox_sent=False
        ),
    )
    moved = record.evolve(step=record.step + 1)
    # Straight to the table: this process's memory of the row is now stale.
    await services.ledger.overwrite(moved)
    services.ledger.known.remember(
        record.job_id, record, "W/\"datetime'2000-01-01T00%3A00%3A00Z'\""
    )
    await deliver(services, record)
    assert not (await services.ledger.get(record.job_id)).outbox_sent


# -- what the pair row keeps for later copies ------------------------------------------------

TARGET = f"{RPC.replace('/rg/', '/rg-dr/')}-westus"


async def test_a_job_into_the_last_verified_target_is_admitted_as_verified(
    make_services: MakeServices,
) -> None:
    """The pair's last successful copy went into c1-westus: the next job into it skips the
    target read; a job into another collection (or after a failure) does not."""
    services = await make_services()
    first = await admit_job(services, await stored(services, waiting("rp1", 0)))
    assert not first.target_collection_verified  # nothing proven yet
    ended, _ = await services.ledger.update(
        first.job_id,
        lambda r: r.evolve(state=JobState.SUCCEEDED, finished_at=T0, target_collection_id=TARGET),
    )
    assert ended is not None
    await release_and_promote(services, ended)
    second = await admit_job(services, await stored(services, waiting("rp2", 60)))
    assert second.state is JobState.QUEUED
    assert second.target_collection_verified
    assert (await services.ledger.get(second.job_id)).target_collection_verified
    elsewhere = waiting("rp3", 120).evolve(target_collection_name="other-westus")
    ended, _ = await services.ledger.update(
        second.job_id,
        lambda r: r.evolve(state=JobState.SUCCEEDED, finished_at=T0, target_collection_id=TARGET),
    )
    assert ended is not None
    await release_and_promote(services, ended)
    assert (await services.pairs.get(RPC, "westus")).verified_target_collection_id == TARGET
    third = await admit_job(services, await stored(services, elsewhere))
    assert third.state is JobState.QUEUED
    assert not third.target_collection_verified


@pytest.mark.parametrize(
    ("end", "verified"),
    [(JobState.SUCCEEDED, TARGET), (JobState.FAILED, None), (JobState.CANCELLED, None)],
)
async def test_release_records_the_target_of_a_successful_copy_only(
    make_services: MakeServices, end: JobState, verified: str | None
) -> None:
    services = await make_services()
    first = await admit_job(services, await stored(services, waiting("rp1", 0)))
    ended, _ = await services.ledger.update(
        first.job_id,
        lambda r: r.evolve(state=end, finished_at=T0, target_collection_id=TARGET),
    )
    assert ended is not None
    await release_and_promote(services, ended)
    assert (await services.pairs.get(RPC, "westus")).verified_target_collection_id == verified
