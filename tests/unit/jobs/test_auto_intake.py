"""shared/jobs/auto_intake.py against Azurite and the ARM emulator: what an Event Grid event
for a restore point write turns into."""

from __future__ import annotations

from shared.jobs.auto_intake import on_restore_point_written
from shared.model.arm_events import read_event
from shared.model.job import JobState
from tests.conftest import MakeServices
from tests.support import arm_call_counts, seed_source

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
OPERATION = "Microsoft.Compute/restorePointCollections/restorePoints/write"


def event(resource: str, event_type: str = WRITE, operation: str = OPERATION):
    data = {"operationName": operation, "resourceUri": resource, "status": "Succeeded"}
    return read_event("evt-1", event_type, resource, data)


async def test_a_protected_restore_point_is_copied_to_every_policy_region(
    make_services: MakeServices, stack
) -> None:
    source = seed_source(
        stack.arm_endpoint, tags={"rpcopy-targets": "westus:rg-dr centralus:rg-dr"}
    )
    services = await make_services()
    jobs = await on_restore_point_written(services, event(source.restore_point_id))
    assert sorted(j.target_region for j in jobs) == ["centralus", "westus"]
    assert all(j.state is JobState.QUEUED for j in jobs)
    # The same event delivered again (Event Grid is at least once) starts nothing new.
    again = await on_restore_point_written(services, event(source.restore_point_id))
    assert sorted(j.job_id for j in again) == sorted(j.job_id for j in jobs)
    assert all(j.run == 1 for j in again)


async def test_an_unprotected_collection_is_not_copied(make_services: MakeServices, stack) -> None:
    source = seed_source(stack.arm_endpoint)
    services = await make_services()
    assert await on_restore_point_written(services, event(source.restore_point_id)) == []


async def test_other_and_malformed_events_cost_no_arm_call(
    make_services: MakeServices, stack
) -> None:
    source = seed_source(stack.arm_endpoint, tags={"rpcopy-targets": "westus:rg-dr"})
    services = await make_services()
    before = arm_call_counts(stack.arm_endpoint)
    assert await on_restore_point_written(services, event(source.restore_point_id, "Other")) == []
    assert (
        await on_restore_point_written(
            services, event(source.restore_point_id, operation="Microsoft.Compute/disks/write")
        )
        == []
    )
    assert await on_restore_point_written(services, event("/not/an/id")) == []
    assert arm_call_counts(stack.arm_endpoint) == before


async def test_a_deleted_restore_point_is_not_copied(make_services: MakeServices, stack) -> None:
    source = seed_source(stack.arm_endpoint, tags={"rpcopy-targets": "westus:rg-dr"})
    services = await make_services()
    gone = source.restore_point_id.rsplit("/", 1)[0] + "/never-existed"
    assert await on_restore_point_written(services, event(gone)) == []
