"""The restore drill functions called directly with real func.* objects against Azurite and the
emulator: bad input is a 4xx problem+json, never a 500; a drill message that cannot be processed
is accounted for and never crashes the function."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from devstack.stack import EMULATOR_TOKEN
from shared.model.drills import (
    DrillDisk,
    DrillPair,
    DrillPhase,
    DrillRecord,
    DrillState,
    encode_drill_message,
    new_drill_id,
)
from shared.model.keys import pair_key
from shared.services import get_services
from shared.storage import drills as drill_store
from shared.sweep.drills import sweep_drills
from tests.functions.conftest import FunctionApp
from tests.support import SUBSCRIPTION, TARGET_GROUP, TARGET_REGION, seed_source

RPC = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/c"
)


def _json(response) -> dict:
    return json.loads(response.get_body())


async def _post(fn_app: FunctionApp, body: object) -> tuple[int, dict, str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await fn_app.http("drills_create", "POST", "/api/drills", body=raw)
    return response.status_code, _json(response), str(response.mimetype)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"", None),
        (b"[1]", None),
        ({}, "sourceCollectionId"),
        ({"sourceCollectionId": "/x", "targetRegion": "westus"}, "sourceCollectionId"),
        ({"sourceCollectionId": RPC}, "targetRegion"),
        ({"sourceCollectionId": RPC, "targetRegion": 5}, "targetRegion"),
        ({"sourceCollectionId": RPC, "targetRegion": "westus", "extra": 1}, "extra"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, None),
    ],
    ids=["malformed", "empty", "array", "missing", "bad-id", "no-region", "region-type",
         "unknown-field", "too-deep"],
)  # fmt: skip
async def test_bad_drill_requests_are_400_problems(
    fn_app: FunctionApp, body: object, field: str | None
) -> None:
    status, problem, mimetype = await _post(fn_app, body)
    assert status == 400, problem
    assert mimetype == "application/problem+json"
    assert problem["status"] == 400
    assert problem["detail"]
    if field is not None:
        assert field in {e["field"] for e in problem["errors"]}


async def test_drills_of_pairs_that_cannot_be_drilled_are_422(fn_app: FunctionApp) -> None:
    missing = await _post(fn_app, {"sourceCollectionId": RPC, "targetRegion": "westus"})
    assert missing[0] == 422
    assert missing[1]["title"] == "Source collection not found"
    tags = {"rpcopy-targets": TARGET_REGION, "rpcopy-target-resource-group": TARGET_GROUP}
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, tags=tags)
    no_copy = await _post(
        fn_app, {"sourceCollectionId": source.collection_id, "targetRegion": TARGET_REGION}
    )
    assert no_copy[0] == 422
    assert no_copy[1]["title"] == "No usable copy to drill"
    other = await _post(
        fn_app, {"sourceCollectionId": source.collection_id, "targetRegion": "northeurope"}
    )
    assert other[0] == 422
    assert other[1]["title"] == "Pair not protected"


@pytest.mark.parametrize(("drill_id", "status"), [("nope", 400), ("A" * 32, 400), ("0" * 32, 404)])
async def test_get_drill(fn_app: FunctionApp, drill_id: str, status: int) -> None:
    response = await fn_app.http(
        "drills_get", "GET", f"/api/drills/{drill_id}", route_params={"id": drill_id}
    )
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 200),
        ({"state": "Running"}, 200),
        ({"limit": "5", "targetRegion": "westus"}, 200),
        ({"state": "Done"}, 400),
        ({"limit": "0"}, 400),
        ({"limit": "500"}, 400),
        ({"sourceCollectionId": "x"}, 400),
        ({"bogus": "1"}, 400),
    ],
)
async def test_list_drills(fn_app: FunctionApp, params: dict[str, str], status: int) -> None:
    response = await fn_app.http("drills_list", "GET", "/api/drills", params=params)
    assert response.status_code == status, response.get_body()
    if status == 200:
        assert isinstance(_json(response)["drills"], list)


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        json.dumps({"version": 1, "drillId": "0" * 32, "step": 0}),  # an unknown drill
        json.dumps({"version": 1, "drillId": "0" * 32, "step": "x"}),
    ],
)
async def test_drill_messages_that_cannot_run_end_quietly(fn_app: FunctionApp, text: str) -> None:
    await fn_app.deliver("stage_drill", text)
    await fn_app.deliver("poison_drill", text, dequeue_count=5)


def _drill(source: str, drill_id: str, now: datetime) -> DrillRecord:
    """A drill of the pair (source -> westus) just started at `now`."""
    return DrillRecord(
        id=drill_id,
        state=DrillState.RUNNING,
        phase=DrillPhase.CREATE,
        pair=DrillPair(source_collection_id=source, target_region=TARGET_REGION),
        trigger="http",
        subscription_id=SUBSCRIPTION,
        resource_group=TARGET_GROUP,
        started_at=now,
        updated_at=now,
        restore_point_id=f"{source}-westus/restorePoints/rp1",
        source_restore_point_id=f"{source}/restorePoints/rp1",
        step=0,
    )


async def _running_drill(
    fn_app: FunctionApp, salt: str, *, age: timedelta = timedelta(0)
) -> tuple[DrillRecord, str]:
    """A running drill (at step 2, waiting for its one disk) and its disk in the emulator."""
    services = await get_services()
    seed_source(fn_app.stack.arm_endpoint, data_disks=0)  # makes the target resource group
    now = datetime.now(UTC) - age
    drill_id = new_drill_id(now, salt)
    disk_id = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{TARGET_GROUP}"
        f"/providers/Microsoft.Compute/disks/rpcopy-drill-{drill_id}-0"
    )
    async with httpx.AsyncClient(
        base_url=fn_app.stack.arm_endpoint,
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        params={"api-version": "2025-01-02"},
    ) as arm:
        body = {
            "location": TARGET_REGION,
            "tags": {"rpcopy-drill": drill_id},
            "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4},
        }
        assert (await arm.put(disk_id, json=body)).status_code == 202
    record = _drill(RPC, drill_id, now).model_copy(
        update={
            "phase": DrillPhase.WAIT,
            "step": 2,
            "disks": (DrillDisk(name="d0", disk_id=disk_id, disk_restore_point_id=RPC + "/x"),),
        }
    )
    await services.drills.create(record)
    return record, disk_id


async def test_poison_drill_cleans_up_and_fails_a_running_drill(fn_app: FunctionApp) -> None:
    """A running drill whose message was poisoned: its disk is deleted, it ends Failed with its
    event, and a repeated poison delivery changes nothing."""
    services = await get_services()
    record, disk_id = await _running_drill(fn_app, "poison-test")
    drill_id = record.id
    message = encode_drill_message(drill_id, 2)
    await fn_app.deliver("poison_drill", message, dequeue_count=5)
    failed = await services.drills.get(drill_id)
    assert failed is not None
    assert failed.state is DrillState.FAILED
    assert failed.reason is not None
    assert failed.reason.code == "DrillMessagePoisoned"
    assert failed.disks[0].cleaned
    with EmulatorControl(fn_app.stack.arm_endpoint) as control:
        assert all(d["id"].lower() != disk_id.lower() for d in control.disks())
    events = [json.loads(t) for t in fn_app.receive("EVENTS_QUEUE")]
    mine = [e for e in events if e.get("data", {}).get("drillId") == drill_id]
    assert [e["type"].rsplit(".", 2)[-2:] for e in mine] == [["drill", "failed"]]
    await fn_app.deliver("poison_drill", message, dequeue_count=5)
    again = await services.drills.get(drill_id)
    assert again == failed


async def test_the_sweep_fails_and_cleans_up_a_drill_that_stopped_moving(
    fn_app: FunctionApp,
) -> None:
    """A crash left a drill Running with nothing to move it on: the plan names it, the sweep
    cleans it up and fails it (DrillStalled)."""
    services = await get_services()
    record, disk_id = await _running_drill(fn_app, "stalled-test", age=timedelta(minutes=90))
    plan = await sweep_drills(services, [], dry_run=True)
    assert record.id in plan.stalled
    assert (await services.drills.get(record.id)).state is DrillState.RUNNING
    done = await sweep_drills(services, [], dry_run=False)
    assert record.id in done.stalled
    failed = await services.drills.get(record.id)
    assert failed is not None
    assert failed.state is DrillState.FAILED
    assert failed.reason is not None
    assert failed.reason.code == "DrillStalled"
    with EmulatorControl(fn_app.stack.arm_endpoint) as control:
        assert all(d["id"].lower() != disk_id.lower() for d in control.disks())
    # Its drill.failed event (and any other drill's) must not reach the copy tests' queue reads.
    events = [json.loads(t) for t in fn_app.receive("EVENTS_QUEUE")]
    assert any(e["data"].get("drillId") == record.id for e in events)


def _pair_drill(source: str, salt: str, now: datetime) -> DrillRecord:
    return _drill(source, new_drill_id(now, salt), now)


def _unique_source() -> str:
    return f"{RPC}-{uuid.uuid4().hex[:12]}"


async def test_drills_asked_for_one_pair_at_the_same_moment_start_one_drill() -> None:
    """Two requests race for a pair with no drill: one starts its drill, the other answers
    that one; once it has ended, the pair can be drilled again."""
    services = await get_services()
    source, now = _unique_source(), datetime.now(UTC)
    first, second = _pair_drill(source, "a", now), _pair_drill(source, "b", now)
    (one, one_started), (two, two_started) = await asyncio.gather(
        services.drills.start(first, services.clock), services.drills.start(second, services.clock)
    )
    assert sorted([one_started, two_started]) == [False, True]
    assert one.id == two.id
    listed = await services.drills.list(source_collection_id=source, target_region=TARGET_REGION)
    assert [d.id for d in listed] == [one.id]

    again, started = await services.drills.start(_pair_drill(source, "c", now), services.clock)
    assert (again.id, started) == (one.id, False)  # still running: answered, not doubled

    await services.drills.update(
        one.id, lambda r: r.model_copy(update={"state": DrillState.SUCCEEDED})
    )
    later = _pair_drill(source, "d", now + timedelta(seconds=1))
    after, started = await services.drills.start(later, services.clock)
    assert (after.id, started) == (later.id, True)


async def test_a_drill_id_made_again_answers_the_drill_made_under_it() -> None:
    """A scheduled slot's drill id is made again by every sweep of the slot: the drill made
    the first time answers, running or ended, and no second one starts."""
    services = await get_services()
    source, now = _unique_source(), datetime.now(UTC)
    record = _pair_drill(source, "slot", now)
    assert (await services.drills.start(record, services.clock))[1] is True
    await services.drills.update(
        record.id, lambda r: r.model_copy(update={"state": DrillState.FAILED})
    )
    answered, started = await services.drills.start(record, services.clock)
    assert (answered.id, answered.state, started) == (record.id, DrillState.FAILED, False)


@pytest.mark.parametrize("age_seconds", [0.0, 30.0], ids=["claimer-on-its-way", "claimer-crashed"])
async def test_a_claim_whose_drill_never_came_is_taken_over(age_seconds: float) -> None:
    """A claim names a drill whose row is not there: a claimer between its two writes is
    waited for (within the grace), one that crashed between them is taken over after it; the
    new drill starts either way once the claim is stale."""
    services = await get_services()
    source, now = _unique_source(), datetime.now(UTC)
    table = services.drills.table
    await services.drills.ensure_table()
    await table.create_entity(
        {
            "PartitionKey": drill_store.CLAIMS,
            "RowKey": pair_key(source, TARGET_REGION),
            "DrillId": new_drill_id(now, "lost"),
            "ClaimedAt": now - timedelta(seconds=age_seconds),
        }
    )
    ticks: list[datetime] = []

    def clock() -> datetime:  # each look at the clock is 2 s later: the grace runs out
        ticks.append(now + timedelta(seconds=2 * len(ticks)))
        return ticks[-1]

    record = _pair_drill(source, "new", now)
    stored, started = await services.drills.start(record, clock)
    assert (stored.id, started) == (record.id, True)
    claim = await table.get_entity(drill_store.CLAIMS, pair_key(source, TARGET_REGION))
    assert claim["DrillId"] == record.id
    waited = len(ticks) > 2
    assert waited is (age_seconds < drill_store.CLAIM_GRACE.total_seconds())
