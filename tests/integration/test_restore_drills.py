"""Restore drills end to end in the local host against Azurite and the emulator: a drill after
a copy creates, verifies and deletes its disks and reports success; a drill whose disk creation
or SAS read fails reports failure; every drill leaves no disk behind. The sweep starts due drills
and removes drill leftovers. One stack for this module, with a policy that has a drill section."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import Scenario
from devstack.stack import (
    EMULATOR_TOKEN,
    FAST_APP_SETTINGS,
    FAST_TIME_SCALE,
    Stack,
    StackOptions,
    running_stack,
)
from tests.support import (
    SOURCE_GROUP,
    SUBSCRIPTION,
    TARGET_GROUP,
    TARGET_REGION,
    EventLog,
    SeededSource,
    seed_source,
    wait_for,
)

DRILL_GROUP = "rg-drills"
POLICY = {
    "version": 1,
    "policies": [
        {
            "name": "drilled",
            "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": SOURCE_GROUP},
            "targets": [{"region": TARGET_REGION, "resourceGroup": TARGET_GROUP}],
            "drill": {"every": "1d", "resourceGroup": DRILL_GROUP},
        }
    ],
}
DISKS = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{DRILL_GROUP}/providers/Microsoft.Compute/disks"
)


@pytest.fixture(scope="module")
def drill_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("drill-stack"))
    (workdir / "policy.json").write_text(json.dumps(POLICY, indent=2))
    settings = {
        **FAST_APP_SETTINGS,
        "POLICY_FILE": str(workdir / "policy.json"),
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",  # the tests run the sweep themselves
    }
    options = StackOptions(time_scale=FAST_TIME_SCALE, app_settings=settings, workdir=workdir)
    with running_stack(options) as stack, EmulatorControl(stack.arm_endpoint) as control:
        control.seed(Scenario(SUBSCRIPTION).resource_group(DRILL_GROUP, TARGET_REGION))
        yield stack


@pytest.fixture(scope="module")
def api(drill_stack: Stack) -> Iterator[httpx.Client]:
    headers = {"x-functions-key": drill_stack.options.function_key}
    with httpx.Client(base_url=drill_stack.host_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def emulator(drill_stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(drill_stack.arm_endpoint) as control:
        yield control
        control.clear_faults()


@pytest.fixture(scope="module")
def events(drill_stack: Stack) -> EventLog:
    return EventLog(drill_stack.storage_connection, "copy-events")


def run_sweep(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.host_url}/admin/functions/sweep_timer",
        json={"input": ""},
        headers={"x-functions-key": stack.options.master_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text


def _copied_source(api: httpx.Client, stack: Stack, data_disks: int = 1) -> SeededSource:
    source = seed_source(stack.arm_endpoint, data_disks=data_disks)
    response = api.post(
        "/api/copies",
        json={
            "sourceRestorePointId": source.restore_point_id,
            "targetRegion": TARGET_REGION,
            "targetResourceGroup": TARGET_GROUP,
        },
    )
    assert response.status_code in (200, 202), response.text
    job_id = response.json()["id"]

    def done() -> dict[str, Any] | None:
        job = api.get(f"/api/copies/{job_id}").json()
        return job if job["state"] in ("Succeeded", "Failed") else None

    job = wait_for(done, timeout=90, what=f"copy {job_id}")
    assert job["state"] == "Succeeded", job
    return source


def _drill(api: httpx.Client, source: SeededSource) -> dict[str, Any]:
    response = api.post(
        "/api/drills",
        json={"sourceCollectionId": source.collection_id, "targetRegion": TARGET_REGION},
    )
    assert response.status_code == 202, response.text
    drill = response.json()
    assert response.headers["Location"] == f"/api/drills/{drill['id']}"

    def finished() -> dict[str, Any] | None:
        current = api.get(f"/api/drills/{drill['id']}").json()
        return current if current["state"] != "Running" else None

    return wait_for(finished, timeout=60, what=f"drill {drill['id']} to finish")


def _drill_event(events: EventLog, drill_id: str, event_type: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        events.poll()
        matches = [
            e
            for e in events.events
            if e["type"].endswith("." + event_type) and e.get("data", {}).get("drillId") == drill_id
        ]
        return matches[0] if matches else None

    return wait_for(found, timeout=30, what=f"a {event_type} event for drill {drill_id}")


def _nothing_left(emulator: EmulatorControl, drill: dict[str, Any]) -> None:
    """No disk of the drill remains, and every read access it opened was closed again."""
    left = [d for d in emulator.disks() if d["tags"].get("rpcopy-drill") == drill["id"]]
    assert left == [], left
    grants = emulator.requests("DiskRestorePoint_GrantAccess")
    revokes = emulator.requests("DiskRestorePoint_RevokeAccess")
    for disk in drill["disks"]:
        drp = disk["diskRestorePointId"].lower()
        opened = [r for r in grants if r["path"].lower().startswith(drp)]
        closed = [r for r in revokes if r["path"].lower().startswith(drp)]
        assert len(closed) >= len(opened), (disk["name"], len(opened), len(closed))


def test_drill_after_a_copy_creates_verifies_and_deletes_its_disks(
    api: httpx.Client, emulator: EmulatorControl, events: EventLog, drill_stack: Stack
) -> None:
    source = _copied_source(api, drill_stack, data_disks=1)
    drill = _drill(api, source)
    assert drill["resourceGroup"] == DRILL_GROUP
    assert drill["trigger"] == "http"
    assert drill["state"] == "Succeeded", drill
    assert drill["reason"] is None
    assert drill["pair"]["sourceCollectionId"] == source.collection_id
    assert drill["pair"]["targetRegion"] == TARGET_REGION
    assert len(drill["disks"]) == 2
    for disk in drill["disks"]:
        assert (disk["created"], disk["verified"], disk["cleaned"]) == (True, True, True)
        assert disk["bytesRead"] == 1024 * 1024
        # What the app read through the SAS is what the emulator served.
        expected = emulator.sas_content(disk["diskRestorePointId"])
        assert disk["sha256"] == expected["sha256"]
        for timing in ("createSeconds", "verifySeconds", "cleanSeconds"):
            assert disk[timing] is not None
    _nothing_left(emulator, drill)
    event = _drill_event(events, drill["id"], "drill.succeeded")
    assert event["data"]["restorePointId"] == drill["restorePointId"]
    assert "sig=" not in str(event)
    assert "sig=" not in str(drill)
    # The SAS reads were real HTTP reads (the emulator answers 400 to one that carries a
    # token, which would have failed the drill).
    reads = emulator.requests("Sas_Read")
    assert [r["status"] for r in reads][-2:] == [206, 206]
    # No SAS signature in the host's log (the app's logging, the host's and the libraries').
    host_log = (drill_stack.workdir / "host-0.log").read_text(encoding="utf-8", errors="replace")
    assert not re.search(r"sig=(?!\*\*\*)", host_log)
    assert "/_sas/" not in host_log

    listed = api.get("/api/drills").json()["drills"]
    assert listed[0]["id"] == drill["id"] or drill["id"] in {d["id"] for d in listed}
    pairs = api.get("/api/protection").json()["pairs"]
    row = next(
        p
        for p in pairs
        if p["sourceCollectionId"] == source.collection_id and p["targetRegion"] == TARGET_REGION
    )
    assert row["drill"]["status"] == "passed"
    assert row["drill"]["lastDrillId"] == drill["id"]
    assert row["drill"]["lastSucceededAt"] == drill["finishedAt"]


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"operation": "Disks_CreateOrUpdate", "kind": "lro_failure"}, "DiskCreationFailed"),
        (
            {"operation": "Disks_CreateOrUpdate", "kind": "http", "status": 409},
            "DiskCreationFailed",
        ),
        ({"operation": "Sas_Read", "kind": "http", "status": 403}, "SasReadFailed"),
        ({"operation": "Sas_Read", "kind": "drop"}, "SasReadFailed"),
    ],
    ids=["disk-lro-fails", "disk-put-refused", "sas-read-refused", "sas-connection-dropped"],
)
def test_a_failing_drill_reports_failure_and_leaves_nothing_behind(
    api: httpx.Client,
    emulator: EmulatorControl,
    events: EventLog,
    drill_stack: Stack,
    fault: dict[str, Any],
    code: str,
) -> None:
    source = _copied_source(api, drill_stack, data_disks=1)
    # This module's drills run one at a time: the fault hits this test's drill.
    where = "/_sas/" if fault["operation"] == "Sas_Read" else "/disks/rpcopy-drill-"
    match = {"pathContains": where}
    emulator.add_fault({**fault, "times": 1, "match": match})
    drill = _drill(api, source)
    assert drill["state"] == "Failed", drill
    assert drill["reason"]["code"] == code, drill["reason"]
    _nothing_left(emulator, drill)
    assert all(d["cleaned"] for d in drill["disks"] if d["createRequestedAt"]), drill["disks"]
    event = _drill_event(events, drill["id"], "drill.failed")
    assert event["data"]["reason"]["code"] == code
    assert "sig=" not in str(event)
    row = next(
        p
        for p in api.get("/api/protection").json()["pairs"]
        if p["sourceCollectionId"] == source.collection_id and p["targetRegion"] == TARGET_REGION
    )
    assert row["drill"]["status"] == "failed"


def test_drill_requests_that_cannot_run(api: httpx.Client, drill_stack: Stack) -> None:
    bad = api.post("/api/drills", json={"sourceCollectionId": "nope", "targetRegion": "westus"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    uncopied = seed_source(drill_stack.arm_endpoint, data_disks=0)
    none_yet = api.post(
        "/api/drills",
        json={"sourceCollectionId": uncopied.collection_id, "targetRegion": TARGET_REGION},
    )
    assert none_yet.status_code == 422, none_yet.text
    assert none_yet.json()["title"] == "No usable copy to drill"
    unprotected = api.post(
        "/api/drills",
        json={"sourceCollectionId": uncopied.collection_id, "targetRegion": "northeurope"},
    )
    assert unprotected.status_code == 422
    assert unprotected.json()["title"] == "Pair not protected"


def test_two_drill_requests_for_one_pair_at_the_same_moment_start_one_drill(
    api: httpx.Client, drill_stack: Stack
) -> None:
    """Two operators (or an operator and the schedule) ask at once: one 202 starts the drill,
    the other gets 200 with that same drill; the pair runs one drill."""
    source = _copied_source(api, drill_stack, data_disks=0)
    body = {"sourceCollectionId": source.collection_id, "targetRegion": TARGET_REGION}
    barrier = threading.Barrier(2)

    def ask() -> httpx.Response:
        barrier.wait()
        return api.post("/api/drills", json=body)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: ask(), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 202], [a.text for a in answers]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1
    listed = api.get(
        "/api/drills",
        params={"sourceCollectionId": source.collection_id, "targetRegion": TARGET_REGION},
    ).json()["drills"]
    assert [d["id"] for d in listed] == list(ids)
    drill_id = ids.pop()

    def finished() -> dict[str, Any] | None:
        current = api.get(f"/api/drills/{drill_id}").json()
        return current if current["state"] != "Running" else None

    assert wait_for(finished, timeout=60, what=f"drill {drill_id}")["state"] == "Succeeded"


def test_the_sweep_starts_due_drills_and_removes_drill_leftovers(
    api: httpx.Client, emulator: EmulatorControl, events: EventLog, drill_stack: Stack
) -> None:
    source = _copied_source(api, drill_stack, data_disks=0)
    # A disk a crashed drill left behind (its drill is unknown), and one that is not a drill's.
    with httpx.Client(
        base_url=drill_stack.arm_endpoint,
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        params={"api-version": "2025-01-02"},
        timeout=30,
    ) as arm:
        for name, tags in (
            ("left-behind", {"rpcopy-drill": "f" * 32}),
            ("not-a-drill-disk", {"owner": "someone"}),
        ):
            body = {
                "location": TARGET_REGION,
                "tags": tags,
                "sku": {"name": "Standard_LRS"},
                "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4},
            }
            assert arm.put(f"{DISKS}/{name}", json=body).status_code in (200, 201, 202)
    plan = api.get("/api/plan").json()["drills"]
    assert any(d["sourceCollectionId"] == source.collection_id for d in plan["due"]), plan
    assert any(d.endswith("/left-behind") for d in plan["leftoverDisks"]), plan
    run_sweep(drill_stack)

    def scheduled() -> dict[str, Any] | None:
        drills = api.get(
            "/api/drills",
            params={"sourceCollectionId": source.collection_id, "targetRegion": TARGET_REGION},
        ).json()["drills"]
        done = [d for d in drills if d["state"] != "Running"]
        return done[0] if done else None

    drill = wait_for(scheduled, timeout=60, what="the scheduled drill to finish")
    assert drill["trigger"] == "schedule"
    assert drill["state"] == "Succeeded", drill
    _drill_event(events, drill["id"], "drill.succeeded")

    def swept() -> bool:
        names = {d["name"] for d in emulator.disks()}
        return "left-behind" not in names

    wait_for(swept, timeout=30, what="the sweep to delete the drill leftover")
    assert "not-a-drill-disk" in {d["name"] for d in emulator.disks()}
    # The plan no longer finds the pair due.
    plan = api.get("/api/plan").json()["drills"]
    assert all(d["sourceCollectionId"] != source.collection_id for d in plan["due"])


def test_a_drill_step_that_fails_every_delivery_is_failed_by_its_poison_handler(
    api: httpx.Client, emulator: EmulatorControl, events: EventLog, drill_stack: Stack
) -> None:
    source = _copied_source(api, drill_stack, data_disks=0)
    # Every look at the drill's disks is refused: the wait step raises on every delivery, the
    # host moves its message to rpcopy-drill-poison, and poison_drill cleans up and fails it.
    emulator.add_fault(
        operation="Disks_Get",
        kind="http",
        status=400,
        code="InjectedRefusal",
        match={"pathContains": "/disks/rpcopy-drill-"},
    )
    drill = _drill(api, source)
    assert drill["state"] == "Failed", drill
    assert drill["reason"]["code"] == "DrillMessagePoisoned", drill["reason"]
    _nothing_left(emulator, drill)
    _drill_event(events, drill["id"], "drill.failed")
