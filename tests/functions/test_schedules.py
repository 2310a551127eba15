"""Schedules through the functions themselves: `schedule_timer` called with a real
`func.TimerRequest`, `restore_point_created` with a real `func.EventGridEvent`, and the plan and
protection HTTP functions, against Azurite and the emulator.

The app's clock is set from the emulator's (which runs 600x faster than real time) so each test
says exactly which slot is due; slot and creation rows live in a table of the test's own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from azure.data.tables.aio import TableServiceClient
from azure.functions.timer import TimerRequest

from arm_emulator.control import EmulatorControl
from shared.model.job import JobRecord, JobState
from shared.model.keys import pair_key
from shared.model.schedule import Schedule
from shared.model.times import from_iso
from shared.policies.loading import parse_policy_text
from shared.services import Services, get_services
from shared.storage.schedules import CreationState, CreationStore, SlotStore
from tests.functions.conftest import FunctionApp
from tests.functions.test_eventgrid_function import _data, grid_event
from tests.support import TARGET_GROUP, seed_source, unique, wait_for

HOURLY = Schedule.parse(cron="0 0 * * * *")
CONCURRENT = (
    "RestorePoint creation failed since a concurrent 'Create RestorePoint' operation was "
    "triggered on the VM"
)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def control(fn_app: FunctionApp) -> Iterator[EmulatorControl]:
    with EmulatorControl(fn_app.stack.arm_endpoint) as client:
        yield client
        client.clear_faults()


def arm_get(fn_app: FunctionApp, resource: str) -> dict[str, Any]:
    """A collection with its restore points, or one restore point."""
    params = {"api-version": "2025-04-01"}
    if "/restorepoints/" not in resource.lower():
        params["$expand"] = "restorePoints"
    return httpx.get(
        f"{fn_app.stack.arm_endpoint}{resource}",
        params=params,
        headers={"Authorization": "Bearer local-emulator-token"},
    ).json()


def emulator_now(control: EmulatorControl) -> datetime:
    now = from_iso(control.clock()["now"])
    assert now is not None
    return now


@pytest_asyncio.fixture(loop_scope="session")
async def scheduled(fn_app: FunctionApp) -> AsyncIterator[tuple[Services, Clock]]:
    """The worker's services with a test clock and fresh schedule tables; put back after."""
    services = await get_services()
    saved = (services.policies, services.clock, services.slots, services.creations)
    tables = TableServiceClient.from_connection_string(fn_app.connection)
    table = unique("sched").replace("-", "")
    clock = Clock(datetime.now().astimezone())
    services.clock = clock
    services.slots = SlotStore(tables, table)
    services.creations = CreationStore(tables, table)
    try:
        yield services, clock
    finally:
        await services.slots.close()
        await services.creations.close()
        await tables.close()
        services.policies, services.clock, services.slots, services.creations = saved
        # Jobs requested on the test clock must not run in a later test on the real one: their
        # queued messages and events go with the clock.
        for setting in [k for k in fn_app.settings if k.startswith("QUEUE_")]:
            fn_app.receive(setting)
        fn_app.receive("EVENTS_QUEUE")


def use_policy(services: Services, policy: dict[str, Any]) -> None:
    text = json.dumps({"version": 1, "policies": [policy]})
    services.policies = parse_policy_text(text, source_name="test-policy.json")


async def tick(fn_app: FunctionApp) -> None:
    await fn_app.function("schedule_timer")(TimerRequest(past_due=False))


async def pair_jobs(services: Services, collection: str, region: str) -> list[JobRecord]:
    return await services.ledger.for_pair(pair_key(collection, region))


def events_for(fn_app: FunctionApp, subject_part: str) -> list[dict[str, Any]]:
    found = [json.loads(t) for t in fn_app.receive("EVENTS_QUEUE")]
    return [e for e in found if subject_part.lower() in e["subject"].lower()]


async def test_a_copy_schedule_copies_only_the_newest_and_records_the_skipped(
    fn_app: FunctionApp, scheduled: tuple[Services, Clock], control: EmulatorControl
) -> None:
    services, clock = scheduled
    source = seed_source(
        fn_app.stack.arm_endpoint, restore_points=4, data_disks=0, spacing_seconds=600
    )
    use_policy(
        services,
        {
            "name": "hourly-dr",
            "match": {"collectionIds": [source.collection_id]},
            "targets": [
                {
                    "region": "westus",
                    "resourceGroup": TARGET_GROUP,
                    "copySchedule": {"cron": "0 0 * * * *"},
                    "rpoMinutes": 120,
                }
            ],
        },
    )
    newest = max(
        from_iso(rp["properties"]["timeCreated"])
        for rp in arm_get(fn_app, source.collection_id)["properties"]["restorePoints"]
    )
    assert newest is not None
    slot = HOURLY.next_after(newest)
    fn_app.receive("EVENTS_QUEUE")

    clock.now = slot + timedelta(seconds=1)
    await tick(fn_app)
    jobs = await pair_jobs(services, source.collection_id, "westus")
    by_source = {j.source_restore_point_id.rsplit("/", 1)[-1]: j for j in jobs}
    assert sorted(by_source) == ["rp1", "rp2", "rp3", "rp4"]
    assert by_source["rp4"].state not in (JobState.SKIPPED_BY_SCHEDULE, JobState.FAILED)
    for name in ("rp1", "rp2", "rp3"):
        job = by_source[name]
        assert job.state is JobState.SKIPPED_BY_SCHEDULE
        assert job.detail is not None
        assert "rp4 was copied instead" in job.detail
    skipped_events = [
        e
        for e in events_for(fn_app, source.collection_id)
        if e["type"] == "com.example.rpcopy.copy.skipped"
    ]
    assert sorted(e["data"]["source"]["restorePointId"] for e in skipped_events) == sorted(
        by_source[n].source_restore_point_id for n in ("rp1", "rp2", "rp3")
    )

    # A second tick in the same slot does nothing more: the slot fired once.
    clock.advance(20)
    await tick(fn_app)
    assert len(await pair_jobs(services, source.collection_id, "westus")) == 4
    assert events_for(fn_app, source.collection_id) == []

    # Asked for by hand (HTTP), a skipped restore point gets a new request after all; here rp4's
    # copy is newer and already under way, so Azure's order makes it Superseded, not skipped.
    response = await fn_app.http(
        "copies_create",
        "POST",
        "/api/copies",
        body=json.dumps(
            {
                "sourceRestorePointId": by_source["rp1"].source_restore_point_id,
                "targetRegion": "westus",
                "targetResourceGroup": TARGET_GROUP,
            }
        ).encode(),
    )
    assert response.status_code == 202, response.get_body()
    manual = json.loads(response.get_body())
    assert manual["trigger"] == "http"
    assert manual["state"] == "Superseded"

    # A new restore point's event waits for the schedule instead of copying at once.
    rp5 = control.create_restore_point(source.collection_id, "rp5")["id"]
    wait_for(
        lambda: arm_get(fn_app, rp5).get("properties", {}).get("provisioningState") == "Succeeded",
        timeout=30,
        what="rp5 to be created",
    )
    await fn_app.function("restore_point_created")(grid_event(rp5, _data(rp5)))
    assert len(await pair_jobs(services, source.collection_id, "westus")) == 4

    # The dry run and the protection status show the schedule, the next slot and the wait.
    plan = json.loads((await fn_app.http("sweep_plan", "GET", "/api/plan")).get_body())
    pair = next(
        p for p in plan["pairs"] if p["sourceCollectionId"].lower() == source.collection_id.lower()
    )
    assert pair["copySchedule"]["schedule"] == "0 0 * * * * (UTC)"
    assert "dueSlot" not in pair["copySchedule"]
    waiting = [s for s in pair["plan"]["skipped"] if s["reason"] == "waiting-for-schedule"]
    assert [s["sourceRestorePointId"].lower() for s in waiting] == [rp5.lower()]
    protection = json.loads(
        (await fn_app.http("protection_status", "GET", "/api/protection")).get_body()
    )
    status = next(
        p
        for p in protection["pairs"]
        if p["sourceCollectionId"].lower() == source.collection_id.lower()
    )
    assert status["copySchedule"] == "0 0 * * * * (UTC)"
    assert from_iso(status["nextCopyAt"]) == slot + timedelta(hours=1)


async def test_a_creation_schedule_creates_on_time_and_requests_a_copy_per_region(
    fn_app: FunctionApp, scheduled: tuple[Services, Clock], control: EmulatorControl
) -> None:
    services, clock = scheduled
    source = seed_source(fn_app.stack.arm_endpoint, restore_points=0, data_disks=1)
    use_policy(
        services,
        {
            "name": "create-hourly",
            "match": {"collectionIds": [source.collection_id]},
            "targets": [
                {"region": "westus", "resourceGroup": TARGET_GROUP},
                {"region": "northeurope", "resourceGroup": TARGET_GROUP},
            ],
            "create": {"schedule": {"intervalMinutes": 60}, "consistencyMode": "CrashConsistent"},
        },
    )
    slot = Schedule.parse(interval_minutes=60).next_after(emulator_now(control))
    clock.now = slot + timedelta(seconds=2)
    fn_app.receive("EVENTS_QUEUE")
    await tick(fn_app)
    assert services.creations is not None
    (record,) = await services.creations.for_collection(source.collection_id)
    assert record.slot == slot
    assert record.state is CreationState.CREATING
    assert record.restore_point_name == f"rpcopy-{slot:%Y%m%dT%H%M%S}Z"
    created = wait_for(
        lambda: (
            body
            if (body := arm_get(fn_app, record.restore_point_id))
            .get("properties", {})
            .get("provisioningState")
            == "Succeeded"
            else None
        ),
        timeout=30,
        what="the scheduled restore point to be created",
    )
    assert created["properties"]["consistencyMode"] == "CrashConsistent"

    clock.advance(30)
    await tick(fn_app)
    (record,) = await services.creations.for_collection(source.collection_id)
    assert record.state is CreationState.SUCCEEDED
    assert record.copies_requested
    for region in ("westus", "northeurope"):
        (job,) = await pair_jobs(services, source.collection_id, region)
        assert job.source_restore_point_id.lower() == record.restore_point_id.lower()
        assert job.trigger.value == "schedule"
    kinds = [e["type"] for e in events_for(fn_app, source.collection_id)]
    assert "com.example.rpcopy.creation.succeeded" in kinds
    protection = json.loads(
        (await fn_app.http("protection_status", "GET", "/api/protection")).get_body()
    )
    pairs = [
        p
        for p in protection["pairs"]
        if p["sourceCollectionId"].lower() == source.collection_id.lower()
    ]
    assert len(pairs) == 2
    assert {p["createSchedule"] for p in pairs} == {"every 60 minutes"}
    assert {from_iso(p["nextCreateAt"]) for p in pairs} == {slot + timedelta(hours=1)}

    # The same slot never creates twice, however often the timer ticks.
    clock.advance(60)
    await tick(fn_app)
    assert len(await services.creations.for_collection(source.collection_id)) == 1


async def test_a_refused_creation_is_retried_a_bounded_number_of_times_then_fails(
    fn_app: FunctionApp, scheduled: tuple[Services, Clock], control: EmulatorControl
) -> None:
    services, clock = scheduled
    source = seed_source(fn_app.stack.arm_endpoint, restore_points=1, data_disks=0)
    name = source.collection_id.rsplit("/", 1)[-1]
    control.add_fault(
        operation="RestorePoints_Create",
        kind="http",
        status=409,
        code="VMRestorePointClientError",
        message=CONCURRENT,
        match={"pathContains": f"/{name}/restorePoints/rpcopy-", "method": "PUT"},
    )
    use_policy(
        services,
        {
            "name": "create-refused",
            "match": {"collectionIds": [source.collection_id]},
            "targets": [{"region": "westus", "resourceGroup": TARGET_GROUP}],
            "create": {"schedule": {"cron": "0 30 * * * *"}},
        },
    )
    slot = Schedule.parse(cron="0 30 * * * *").next_after(emulator_now(control))
    clock.now = slot + timedelta(seconds=1)
    fn_app.receive("EVENTS_QUEUE")
    assert services.creations is not None
    attempts = services.settings.create_max_attempts
    for attempt in range(1, attempts + 1):
        await tick(fn_app)
        (record,) = await services.creations.for_collection(source.collection_id)
        assert record.attempts == attempt
        if attempt < attempts:
            assert record.state is CreationState.PENDING
            assert record.code == "ConcurrentCreation"
            assert record.next_attempt_at is not None
            # Not before its time: a tick in between does not try again.
            await tick(fn_app)
            (same,) = await services.creations.for_collection(source.collection_id)
            assert same.attempts == attempt
            clock.now = record.next_attempt_at + timedelta(seconds=1)
    assert record.state is CreationState.FAILED
    assert record.reason is not None
    assert "concurrent 'Create RestorePoint'" in record.reason
    assert f"gave up after {attempts} attempts" in record.reason
    failed = [
        e
        for e in events_for(fn_app, source.collection_id)
        if e["type"] == "com.example.rpcopy.creation.failed"
    ]
    assert len(failed) == 1
    assert failed[0]["data"]["code"] == "ConcurrentCreation"
    assert failed[0]["data"]["state"] == "Failed"
    # The failure shows in the dry run (the creations of the collection).
    plan = json.loads((await fn_app.http("sweep_plan", "GET", "/api/plan")).get_body())
    creation = next(
        c
        for c in plan["creations"]
        if c["sourceCollectionId"].lower() == source.collection_id.lower()
    )
    assert [c["state"] for c in creation["creations"]] == ["Failed"]


async def test_an_arm_refusal_that_cannot_pass_fails_the_creation_at_once(
    fn_app: FunctionApp, scheduled: tuple[Services, Clock], control: EmulatorControl
) -> None:
    services, clock = scheduled
    source = seed_source(fn_app.stack.arm_endpoint, restore_points=1, data_disks=0)
    name = source.collection_id.rsplit("/", 1)[-1]
    # The VM's other collections hold the 500 restore points Azure allows per VM.
    limit = (
        "The maximum allowed snapshot limit of one or more disk blobs has been reached: the "
        "virtual machine already has 500 restore points (limit 500)."
    )
    control.add_fault(
        operation="RestorePoints_Create",
        kind="http",
        status=409,
        code="VMRestorePointClientError",
        message=limit,
        match={"pathContains": f"/{name}/restorePoints/rpcopy-", "method": "PUT"},
    )
    use_policy(
        services,
        {
            "name": "create-at-limit",
            "match": {"collectionIds": [source.collection_id]},
            "targets": [{"region": "westus", "resourceGroup": TARGET_GROUP}],
            "create": {"schedule": {"intervalMinutes": 30}},
        },
    )
    clock.now = Schedule.parse(interval_minutes=30).next_after(emulator_now(control))
    fn_app.receive("EVENTS_QUEUE")
    await tick(fn_app)
    assert services.creations is not None
    (record,) = await services.creations.for_collection(source.collection_id)
    assert record.state is CreationState.FAILED
    assert record.attempts == 1
    assert record.code == "VMRestorePointClientError"
    assert record.reason is not None
    assert "500 restore points" in record.reason
    (failed,) = [
        e
        for e in events_for(fn_app, source.collection_id)
        if e["type"] == "com.example.rpcopy.creation.failed"
    ]
    assert failed["data"]["reason"] == record.reason


async def test_an_idle_tick_makes_no_arm_call(
    fn_app: FunctionApp, scheduled: tuple[Services, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, clock = scheduled
    use_policy(
        services,
        {
            "name": "daily",
            "match": {"subscriptionId": "00000000-0000-0000-0000-0000000000aa"},
            "targets": [{"region": "westus", "copySchedule": {"cron": "0 0 2 * * *"}}],
        },
    )
    # Count this worker's own ARM calls (the emulator also serves the session's host).
    calls: list[str] = []
    real_request = services.arm.request

    async def counted(method: str, url: str, **kwargs: Any) -> Any:
        calls.append(str(kwargs.get("operation")))
        return await real_request(method, url, **kwargs)

    monkeypatch.setattr(services.arm, "request", counted)
    clock.now = datetime(2026, 6, 10, 2, 0, 1, tzinfo=UTC)
    await tick(fn_app)  # the first tick acts on the slot of 02:00
    assert "RestorePointCollections_ListAll" in calls
    calls.clear()
    clock.advance(60)
    await tick(fn_app)  # nothing due since
    assert calls == []
    clock.now = datetime(2026, 6, 11, 2, 0, 0, tzinfo=UTC)
    await tick(fn_app)  # the next day's slot: the scheduled pairs are swept again
    assert "RestorePointCollections_ListAll" in calls
