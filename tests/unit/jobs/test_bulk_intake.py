"""shared/jobs/bulk_intake.py: a pair's new jobs written in table transactions (against
Azurite) end exactly as one `request_copy` after the other leaves them, and the decision order
as a table of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.jobs.bulk_intake import NewCopy, _decide_in_order, request_new_copies
from shared.jobs.intake import CopyRequest, fresh_record, request_copy
from shared.model.ids import RestorePointId
from shared.model.job import JobState
from shared.model.keys import pair_key
from shared.model.message import Trigger
from shared.rules.copy_rules import PairState
from shared.storage import counting
from tests.conftest import MakeServices
from tests.support import unique

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REGION = "westus"


def collection(name: str) -> str:
    return (
        "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg"
        f"/providers/Microsoft.Compute/restorePointCollections/{name}"
    )


def copies(collection_id: str, count: int) -> list[NewCopy]:
    """`count` restore points of one collection, oldest first, an hour apart."""
    return [
        NewCopy(
            CopyRequest(
                source=RestorePointId.parse(f"{collection_id}/restorePoints/rp{i:03}"),
                target_region=REGION,
                target_resource_group="rg-dr",
                trigger=Trigger.SWEEP,
            ),
            ("eastus", T0 + timedelta(hours=i)),
        )
        for i in range(count)
    ]


def shape(jobs: list) -> list[tuple[str, str | None, int]]:
    """What admission decided for each job, with the job ids made relative (index in the
    list), so two pairs can be compared."""
    index = {job.job_id: i for i, job in enumerate(jobs)}

    def relative(detail: str | None) -> str | None:
        for job_id, i in index.items():
            detail = (detail or "").replace(job_id, f"#{i}") or None
        return detail

    return [(job.state.value, relative(job.detail), job.step) for job in jobs]


async def test_a_backlog_is_written_in_batches_and_ends_as_one_by_one(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    await services.ledger.ensure_table()
    await services.pairs.ensure_table()
    batched_collection = collection(unique("rpc"))
    backlog = copies(batched_collection, 150)
    before = counting.snapshot()
    jobs = await request_new_copies(services, backlog)
    work = {k: n - before.get(k, 0) for k, n in counting.snapshot().items()}

    stored = await services.ledger.for_pair(pair_key(batched_collection, REGION))
    assert len(stored) == len(jobs) == 150  # every job committed
    by_id = {job.job_id: job for job in stored}
    assert [by_id[job.job_id].state for job in jobs] == [JobState.QUEUED] + [JobState.WAITING] * 149
    # Two transactions (100 + 50 rows), no insert of a row on its own.
    assert work.get("table:POST batch") == 2
    assert work.get("table:POST insert", 0) == 1  # the pair row, claimed by admission

    # The same backlog through request_copy, one after the other, for another collection.
    one_by_one_collection = collection(unique("rpc"))
    sequential = []
    for copy in copies(one_by_one_collection, 150):
        job, _ = await request_copy(services, copy.request, known_source=copy.known_source)
        sequential.append(job)
    stored_batched = [by_id[job.job_id] for job in jobs]
    stored_sequential = [await services.ledger.get(job.job_id) for job in sequential]
    assert shape(stored_batched) == shape(stored_sequential)


async def test_a_job_created_meanwhile_sends_its_batch_the_one_by_one_way(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    collection_id = collection(unique("rpc"))
    backlog = copies(collection_id, 5)
    # Another way in (Event Grid, HTTP) created the third job after the sweep looked.
    raced, _ = await request_copy(
        services, backlog[2].request, known_source=backlog[2].known_source
    )
    jobs = await request_new_copies(services, backlog)
    assert [job.job_id for job in jobs] == [
        fresh_record(c.request, (REGION, "rg-dr", "x"), c.known_source, T0).job_id for c in backlog
    ]
    stored = {j.job_id: j for j in await services.ledger.for_pair(pair_key(collection_id, REGION))}
    assert len(stored) == 5
    # The raced job had taken the pair; the older ones are superseded by it, the newer wait.
    assert stored[raced.job_id].state is JobState.QUEUED
    states = [stored[job.job_id].state for job in jobs]
    assert states == [
        JobState.SUPERSEDED,
        JobState.SUPERSEDED,
        JobState.QUEUED,
        JobState.WAITING,
        JobState.WAITING,
    ]


async def test_copies_of_two_pairs_are_refused(make_services: MakeServices) -> None:
    services = await make_services()
    mixed = copies(collection(unique("rpc")), 1) + copies(collection(unique("rpc")), 1)
    with pytest.raises(ValueError, match="one pair"):
        await request_new_copies(services, mixed)


def _records(count: int) -> list:
    return [
        fresh_record(c.request, (REGION, "rg-dr", "rpc-westus"), c.known_source, T0)
        for c in copies(collection("rpc-cases"), count)
    ]


@pytest.mark.parametrize(
    ("pair", "admitted", "waiting_for"),
    [
        # A free pair: the oldest is admitted, the rest wait for it.
        (PairState(), [0], 0),
        # Held by another job: everyone waits for that one.
        (PairState("other-job", T0 - timedelta(hours=1), None), [], "other-job"),
        # A newer copy already landed: the older ones go to admit_job (to be superseded),
        # the first newer one is admitted and the rest wait for it.
        (PairState(None, None, T0 + timedelta(hours=1, minutes=30)), [0, 1, 2], 2),
    ],
)
def test_the_decisions_follow_the_copy_rules_in_order(
    pair: PairState, admitted: list[int], waiting_for: int | str
) -> None:
    records = _records(5)
    decided, to_admit = _decide_in_order(pair, records)
    assert sorted(i for i, r in enumerate(records) if r.job_id in to_admit) == admitted
    holder = records[waiting_for].job_id if isinstance(waiting_for, int) else waiting_for
    for i, record in enumerate(decided):
        if i in admitted:
            assert record.detail == "admission pending"
        else:
            assert record.detail == f"waiting for copy job {holder} of the same collection"
            assert record.state is JobState.WAITING
