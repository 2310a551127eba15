"""Automatic re-runs of failed copies, driven through the stages against Azurite and the ARM
emulator: a run that Azure failed is followed by a new run (after its failed copy is deleted)
until one succeeds or the run limit ends the job with one terminal failure event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import Scenario
from devstack.stack import Stack
from shared.model.job import JobState
from tests.conftest import MakeServices
from tests.functions.test_stage_failures import events, run_job, start
from tests.support import (
    SOURCE_GROUP,
    SUBSCRIPTION,
    TARGET_REGION,
    arm_call_counts,
    seed_source,
)


@pytest.fixture
def emulator(stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(stack.arm_endpoint) as control:
        yield control
        control.clear_faults()


def vm_of(source) -> str:
    return source.vm_id.rsplit("/", 1)[-1]


def types_and_runs(found: list[dict]) -> list[tuple[str, int]]:
    return [(e["type"].rsplit(".", 1)[-1], e["data"]["run"]) for e in found]


@pytest.mark.parametrize(
    ("fault", "first_failure"),
    [
        ({"kind": "lro_failure", "code": "InternalError", "message": "copy died"}, "InternalError"),
        ({"kind": "replication_failure", "os": True}, "ReplicationFailed"),
    ],
    ids=["failed copy operation", "replication failure"],
)
async def test_a_failed_run_is_followed_by_one_that_succeeds(
    make_services: MakeServices,
    stack: Stack,
    emulator: EmulatorControl,
    fault: dict,
    first_failure: str,
) -> None:
    services = await make_services(RERUN_MAX_RUNS="3")
    source = seed_source(stack.arm_endpoint, data_disks=0)
    emulator.add_fault(
        operation="RestorePoints_Create", times=1, match={"pathContains": vm_of(source)}, **fault
    )
    before = arm_call_counts(stack.arm_endpoint)
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)

    assert record.state is JobState.SUCCEEDED
    assert record.run == 2
    assert record.target_restore_point_name.endswith("-run2")
    found = events(services, stack, job_id)
    assert types_and_runs(found) == [
        ("started", 1),
        ("retrying", 1),
        ("started", 2),
        ("succeeded", 2),
    ]
    retrying = found[1]["data"]
    assert retrying["reason"]["code"] == first_failure
    assert retrying["nextRunAt"]
    # The failed run's copy was deleted before the new run made its own.
    after = arm_call_counts(stack.arm_endpoint)
    assert after.get("RestorePoints_Delete", 0) - before.get("RestorePoints_Delete", 0) == 1


async def test_the_run_limit_ends_in_one_terminal_failure_event(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl
) -> None:
    services = await make_services(RERUN_MAX_RUNS="2")
    source = seed_source(stack.arm_endpoint, data_disks=0)
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="replication_failure",
        os=True,
        match={"pathContains": vm_of(source)},
    )
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state is JobState.FAILED
    assert record.run == 2
    assert record.runs_failed == 2
    assert types_and_runs(events(services, stack, job_id)) == [
        ("started", 1),
        ("retrying", 1),
        ("started", 2),
        ("failed", 2),
    ]


async def test_a_permanent_failure_does_not_rerun(
    make_services: MakeServices, stack: Stack
) -> None:
    """The target collection belongs to another source: no run could ever succeed."""
    services = await make_services(RERUN_MAX_RUNS="3")
    source = seed_source(stack.arm_endpoint, data_disks=0)
    other = seed_source(stack.arm_endpoint, data_disks=0)
    taken = f"{source.collection_id.rsplit('/', 1)[-1]}-{TARGET_REGION}"
    with EmulatorControl(stack.arm_endpoint) as control:
        control.seed(
            Scenario(SUBSCRIPTION).collection(
                taken, source=other.collection_id, rg=SOURCE_GROUP, location=TARGET_REGION
            )
        )
    job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state is JobState.FAILED
    assert record.run == 1
    assert record.failure is not None
    assert record.failure.code == "TargetCollectionConflict"
    assert types_and_runs(events(services, stack, job_id)) == [("failed", 1)]


async def test_a_copy_terminated_at_14_days_is_run_again(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl
) -> None:
    """Azure terminates a copy still running after 14 days; the next run starts from scratch."""
    services = await make_services(RERUN_MAX_RUNS="3")
    source = seed_source(stack.arm_endpoint, data_disks=1, used_gb=100)
    # A copy longer than this emulator's (shortened) 14-day limit is terminated...
    emulator.update_config(max_copy_seconds=60.0)
    try:
        job_id = await start(services, source.restore_point_id)

        # ...and once the first run has failed that way, the limit is back to Azure's.
        record = await run_job(
            services, stack, job_id, timeout=60, until=lambda r: r.state is JobState.RERUN_PENDING
        )
        assert record.failure is not None
        assert record.failure.code == "ReplicationFailed"
    finally:
        emulator.update_config(max_copy_seconds=14 * 24 * 3600.0)
    record = await run_job(services, stack, job_id, timeout=90)
    assert record.state is JobState.SUCCEEDED
    assert record.run == 2
