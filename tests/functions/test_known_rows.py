"""Stages acting on the job row as this process last wrote it (dispatch._KNOWN_ROW_WILL_DO),
against Azurite + the ARM emulator: the read they save, and a row changed meanwhile by another
instance, which must win (nothing committed over it, nothing sent for it)."""

from __future__ import annotations

from devstack.stack import Stack
from shared.arm.client import call_counts
from shared.jobs.operator_actions import cancel_job
from shared.jobs.stages import dispatch as stages
from shared.model.job import JobRecord, JobState
from shared.model.message import Stage
from shared.services import Services
from shared.storage import counting
from tests.conftest import MakeServices
from tests.functions.test_stage_failures import _take, start
from tests.support import seed_source


def _made(before: dict[str, int]) -> dict[str, int]:
    now = counting.snapshot()
    return {k: n - before.get(k, 0) for k, n in now.items() if n != before.get(k, 0)}


async def test_ensure_target_after_intake_in_the_same_process_does_not_read_the_row(
    make_services: MakeServices, stack: Stack
) -> None:
    services = await make_services()
    reads: list[int] = []
    for _ in range(2):
        source = seed_source(stack.arm_endpoint, data_disks=0)
        job_id = await start(services, source.restore_point_id)
        if reads:  # the second job: as if another process had admitted it
            services.ledger.known.forget(job_id)
        (text,) = _take(services, Stage.ENSURE_TARGET, stack.storage_connection)
        before = counting.snapshot()
        await stages.handle(services, Stage.ENSURE_TARGET, text)
        reads.append(_made(before).get("table:GET entity", 0))
        record = await services.ledger.get(job_id)
        assert record is not None
        assert record.state is JobState.STARTING
    remembered, forgotten = reads
    assert forgotten == remembered + 1  # the one read of the job row


async def test_a_row_cancelled_by_another_instance_wins_over_the_remembered_one(
    make_services: MakeServices, stack: Stack
) -> None:
    services = await make_services()
    source = seed_source(stack.arm_endpoint, data_disks=0)
    job_id = await start(services, source.restore_point_id)
    remembered = services.ledger.known.get(job_id)
    assert remembered is not None
    assert remembered[0].state is JobState.QUEUED

    other = Services.create(services.settings)  # another instance: its own clients and memory
    try:
        outcome = await cancel_job(other, job_id, delete_copy=False)
        assert outcome is not None
        assert outcome.record.state is JobState.CANCELLED
    finally:
        await other.close()
    cancelled = await other_view(services, job_id)
    services.ledger.known.remember(job_id, *remembered)  # this process has not seen the cancel

    (text,) = _take(services, Stage.ENSURE_TARGET, stack.storage_connection)
    arm_before = call_counts()
    await stages.handle(services, Stage.ENSURE_TARGET, text)
    # The stale memory was acted on (the target collection made, which the cancel leaves in
    # place anyway), and still lost to the stored row.
    assert call_counts().get("RestorePointCollections_CreateOrUpdate", 0) > arm_before.get(
        "RestorePointCollections_CreateOrUpdate", 0
    )

    record = await other_view(services, job_id)
    assert record.state is JobState.CANCELLED
    assert (record.step, record.run, record.updated_at) == (
        cancelled.step,
        cancelled.run,
        cancelled.updated_at,
    )
    assert _take(services, Stage.START_COPY, stack.storage_connection) == []


async def other_view(services: Services, job_id: str) -> JobRecord:
    """The row as stored (a fresh read, whatever this process remembers)."""
    services.ledger.known.forget(job_id)
    record = await services.ledger.get(job_id)
    assert record is not None
    return record
