"""Schedules end to end: two local hosts, Azurite and the emulator in real time (time scale 1),
Event Grid delivered to the hosts, the schedule timer run through the hosts' admin API.

Schedules here fire every 20 or 30 seconds (NCRONTAB has a seconds field), so real slots come
by within a test; the tests wait for a slot boundary (a condition with a deadline), never for a
fixed time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from devstack.stack import FAST_APP_SETTINGS, Stack, StackOptions, running_stack
from shared.model.schedule import Schedule
from tests.integration.test_automatic_dr import EMULATOR_CONFIG, jobs_of, new_restore_point
from tests.support import (
    SOURCE_GROUP,
    SUBSCRIPTION,
    TARGET_GROUP,
    EventLog,
    seed_source,
    unique,
    wait_for,
)

pytestmark = pytest.mark.slow

COPY_CRON = "*/30 * * * * *"
CREATE_CRON = "*/20 * * * * *"
TERMINAL = {"Succeeded", "Failed", "Superseded", "SkippedBySchedule"}


def policy_file(copy_vm: str, create_vm: str) -> dict[str, Any]:
    rg = SOURCE_GROUP
    base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}"
    rpc = base + "/providers/Microsoft.Compute/restorePointCollections/rpc-{}"
    return {
        "version": 1,
        "policies": [
            {
                "name": "scheduled-copies",
                "match": {"collectionIds": [rpc.format(copy_vm)]},
                "targets": [
                    {
                        "region": "westus",
                        "resourceGroup": TARGET_GROUP,
                        "copySchedule": {"cron": COPY_CRON},
                    },
                    {"region": "northeurope", "resourceGroup": TARGET_GROUP},
                ],
            },
            {
                "name": "scheduled-creation",
                "match": {"collectionIds": [rpc.format(create_vm)]},
                "targets": [
                    {"region": "westus", "resourceGroup": TARGET_GROUP},
                    {"region": "northeurope", "resourceGroup": TARGET_GROUP},
                ],
                "create": {
                    "schedule": {"cron": CREATE_CRON},
                    "consistencyMode": "CrashConsistent",
                    "retention": {"keepLast": 2},
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def names() -> tuple[str, str]:
    return unique("vm-sched-copy"), unique("vm-sched-create")


@pytest.fixture(scope="module")
def sched_stack(
    tmp_path_factory: pytest.TempPathFactory, names: tuple[str, str]
) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("schedule-stack"))
    (workdir / "policy.json").write_text(json.dumps(policy_file(*names), indent=2))
    # Crash-consistent creation takes minutes in Azure; here well under a slot.
    config = {**EMULATOR_CONFIG, "crashConsistentCreateSeconds": 0.3}
    (workdir / "emulator.json").write_text(json.dumps(config))
    settings = {
        **FAST_APP_SETTINGS,
        "POLICY_FILE": str(workdir / "policy.json"),
        "COPY_PUTS_PER_WINDOW": "3",
        "COPY_PUT_WINDOW_SECONDS": "20",
        # The tests run both timers themselves, on whichever host they choose.
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",
        "SCHEDULE_TIMER": "0 0 0 1 1 *",
    }
    options = StackOptions(
        time_scale=1.0,
        hosts=2,
        app_settings=settings,
        emulator_config=workdir / "emulator.json",
        workdir=workdir,
    )
    with running_stack(options) as stack, EmulatorControl(stack.arm_endpoint) as control:
        control.subscribe_webhook(
            url=f"{stack.host_url}/runtime/webhooks/eventgrid"
            f"?functionName=restore_point_created&code={options.eventgrid_key}",
            schema="EventGridSchema",
        )
        yield stack


@pytest.fixture(scope="module")
def api(sched_stack: Stack) -> Iterator[httpx.Client]:
    headers = {"x-functions-key": sched_stack.options.function_key}
    with httpx.Client(base_url=sched_stack.hosts[0].url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def control(sched_stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(sched_stack.arm_endpoint) as client:
        yield client


@pytest.fixture(scope="module")
def events(sched_stack: Stack) -> EventLog:
    return EventLog(sched_stack.storage_connection, "copy-events")


def run_timer(stack: Stack, name: str, host: int = 0) -> None:
    response = httpx.post(
        f"{stack.hosts[host].url}/admin/functions/{name}",
        json={"input": ""},
        headers={"x-functions-key": stack.options.master_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text


def wait_for_slot_boundary(cron: str) -> datetime:
    """Wait until the next slot of `cron` has passed; returns that slot."""
    schedule = Schedule.parse(cron=cron)
    slot = schedule.next_after(datetime.now(UTC))
    wait_for(
        lambda: datetime.now(UTC) > slot or None,
        timeout=40,
        what=f"the slot at {slot.isoformat()}",
        interval=0.1,
    )
    return slot


def arm_get(stack: Stack, resource: str) -> dict[str, Any]:
    params = {"api-version": "2025-04-01"}
    if "/restorepoints/" not in resource.lower():
        params["$expand"] = "restorePoints"
    return httpx.get(
        f"{stack.arm_endpoint}{resource}",
        params=params,
        headers={"Authorization": "Bearer local-emulator-token"},
        timeout=30,
    ).json()


def short(rp_id: str) -> str:
    return rp_id.rsplit("/", 1)[-1]


def test_a_copy_schedule_copies_only_the_newest_at_each_slot_and_records_the_skipped(
    sched_stack: Stack,
    api: httpx.Client,
    control: EmulatorControl,
    events: EventLog,
    names: tuple[str, str],
) -> None:
    source = seed_source(sched_stack.arm_endpoint, restore_points=0, data_disks=1, name=names[0])
    cid = source.collection_id
    # Right after a slot boundary: three restore points within one slot's window (Event Grid
    # copies each to northeurope at once; westus waits for its schedule).
    wait_for_slot_boundary(COPY_CRON)
    made = [new_restore_point(control, cid, f"rp{i}") for i in (1, 2, 3)]
    assert all(j["targetRegion"] == "northeurope" for j in jobs_of(api, cid))

    slot = wait_for_slot_boundary(COPY_CRON)
    # Both hosts act on the slot at once: it still fires once.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda host: run_timer(sched_stack, "schedule_timer", host), (0, 1)))

    def westus_done() -> list[dict[str, Any]] | None:
        west = [j for j in jobs_of(api, cid) if j["targetRegion"] == "westus"]
        done = len(west) == 3 and all(j["state"] in TERMINAL for j in west)
        return west if done else None

    west = wait_for(westus_done, timeout=120, what="the scheduled westus copy and skips")
    states = {short(j["sourceRestorePointId"]): j["state"] for j in west}
    assert states == {"rp1": "SkippedBySchedule", "rp2": "SkippedBySchedule", "rp3": "Succeeded"}
    skipped = api.get(
        "/api/copies", params={"state": "SkippedBySchedule", "sourceCollectionId": cid}
    ).json()["value"]
    assert sorted(short(j["sourceRestorePointId"]) for j in skipped) == ["rp1", "rp2"]
    assert all(slot.isoformat()[:19] in j["detail"] for j in skipped)
    # northeurope has no schedule: every restore point was copied.
    north = [j for j in jobs_of(api, cid) if j["targetRegion"] == "northeurope"]

    def north_done() -> bool:
        north = [j for j in jobs_of(api, cid) if j["targetRegion"] == "northeurope"]
        return all(j["state"] == "Succeeded" for j in north)

    wait_for(north_done, timeout=120, what="the unscheduled northeurope copies")
    assert len(north) == 3
    events.poll()
    skip_events = [
        e
        for e in events.events
        if e["type"] == "com.example.rpcopy.copy.skipped"
        and e["data"]["source"]["collectionId"] == cid
    ]
    assert sorted(short(e["data"]["source"]["restorePointId"]) for e in skip_events) == [
        "rp1",
        "rp2",
    ]
    target = next(j for j in west if j["state"] == "Succeeded")["targetCollectionId"]
    copies = arm_get(sched_stack, target)["properties"]["restorePoints"]
    assert [short(c["properties"]["sourceRestorePoint"]["id"]) for c in copies] == ["rp3"]

    # The next slot copies the newest restore point made since (rp5), skipping rp4.
    wait_for_slot_boundary(COPY_CRON)
    made += [new_restore_point(control, cid, f"rp{i}") for i in (4, 5)]
    wait_for_slot_boundary(COPY_CRON)
    run_timer(sched_stack, "schedule_timer", 1)

    def second_slot() -> dict[str, str] | None:
        west = [j for j in jobs_of(api, cid) if j["targetRegion"] == "westus"]
        done = len(west) == 5 and all(j["state"] in TERMINAL for j in west)
        return {short(j["sourceRestorePointId"]): j["state"] for j in west} if done else None

    states = wait_for(second_slot, timeout=120, what="the second slot's copy")
    assert states["rp4"] == "SkippedBySchedule"
    assert states["rp5"] == "Succeeded"
    assert len(made) == 5


def test_a_creation_schedule_creates_on_time_copies_to_every_region_and_keeps_what_it_says(
    sched_stack: Stack,
    api: httpx.Client,
    control: EmulatorControl,
    events: EventLog,
    names: tuple[str, str],
) -> None:
    # One restore point the app did not create: retention must never touch it.
    source = seed_source(sched_stack.arm_endpoint, restore_points=1, data_disks=1, name=names[1])
    cid = source.collection_id
    slots: list[datetime] = []
    for _ in range(4):
        slots.append(wait_for_slot_boundary(CREATE_CRON))
        run_timer(sched_stack, "schedule_timer", len(slots) % 2)
        name = f"rpcopy-{slots[-1]:%Y%m%dT%H%M%S}Z"
        wait_for(
            lambda n=name: (
                (
                    arm_get(sched_stack, f"{cid}/restorePoints/{n}")
                    .get("properties", {})
                    .get("provisioningState")
                    == "Succeeded"
                )
                or None
            ),
            timeout=30,
            what=f"restore point {name}",
        )
    created = [f"rpcopy-{s:%Y%m%dT%H%M%S}Z" for s in slots]

    # Each new restore point's event requests its copies, as for any other restore point.
    def all_copied() -> list[dict[str, Any]] | None:
        jobs = [j for j in jobs_of(api, cid) if short(j["sourceRestorePointId"]) in created]
        done = len(jobs) == 2 * len(created) and all(j["state"] == "Succeeded" for j in jobs)
        return jobs if done else None

    jobs = wait_for(all_copied, timeout=180, what="every created restore point copied twice")
    assert sorted((short(j["sourceRestorePointId"]), j["targetRegion"]) for j in jobs) == sorted(
        (name, region) for name in created for region in ("northeurope", "westus")
    )

    # With every copy done, source retention keeps exactly the two newest it created (and the
    # restore point it did not create).
    run_timer(sched_stack, "sweep_timer")

    def remaining() -> list[str] | None:
        points = arm_get(sched_stack, cid)["properties"]["restorePoints"]
        left = sorted(short(p["id"]) for p in points)
        return left if not set(created[:2]) & set(left) else None

    left = wait_for(remaining, timeout=60, what="source retention to delete the oldest two")
    assert "rp1" in left
    # The sweep may have acted on a later slot too: what it created then is newer still.
    assert [n for n in left if n.startswith("rpcopy-")][:2] == created[2:]
    assert all(n > created[-1] for n in left if n.startswith("rpcopy-") and n not in created)
    events.poll()
    deleted = sorted(
        short(e["subject"])
        for e in events.events
        if e["type"] == "com.example.rpcopy.retention.source-deleted"
        and e["subject"].startswith(cid)
    )
    assert deleted == sorted(created)[:2]
    creation_events = [
        e
        for e in events.events
        if e["type"] == "com.example.rpcopy.creation.succeeded" and e["subject"].startswith(cid)
    ]
    assert sorted(short(e["subject"]) for e in creation_events) == sorted(created)
