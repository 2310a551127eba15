"""Automatic DR end to end: Event Grid from the emulator to the local hosts, policies, the sweep,
Azure's copy rules, retention and the protection status.

This stack runs the emulator in real time (time scale 1) with fast replication, so restore
point creation times and the app's clock agree and RPO ages mean what they say. Two local hosts
share the queues, as two function instances would.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.data.tables import TableClient

from arm_emulator.control import EmulatorControl
from devstack.stack import FAST_APP_SETTINGS, Stack, StackOptions, running_stack
from tests.support import SOURCE_GROUP, SUBSCRIPTION, EventLog, seed_source, wait_for

pytestmark = pytest.mark.slow

REGIONS = ("northeurope", "westus")
TERMINAL = {"Succeeded", "Failed", "Superseded"}
BUDGET_WINDOW = 20  # seconds: 3 copy PUTs per target collection per 20 s (Azure: per hour)

EMULATOR_CONFIG = {
    "progressIntervalSeconds": 1,
    "replicationBandwidthMbps": 40000,
    "copyLroSeconds": 0.3,
    "localCreateSeconds": 0.3,
    "deleteSeconds": 0.3,
    # Looser than the app's own budget: the app must hold itself back before Azure would.
    "copyPutsPerHour": 3,
    "copyThrottleWindowSeconds": 4,
}

POLICY = {
    "version": 1,
    "policies": [
        {
            "name": "prod",
            "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": SOURCE_GROUP},
            "targets": [
                {
                    "region": "westus",
                    "resourceGroup": "rg-dr",
                    "retention": {"keepLast": 2},
                    "rpoMinutes": 60,
                },
                {"region": "northeurope", "resourceGroup": "rg-dr"},
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def dr_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("dr-stack"))
    (workdir / "policy.json").write_text(json.dumps(POLICY, indent=2))
    (workdir / "emulator.json").write_text(json.dumps(EMULATOR_CONFIG))
    settings = {
        **FAST_APP_SETTINGS,
        "POLICY_FILE": str(workdir / "policy.json"),
        "COPY_PUTS_PER_WINDOW": "3",
        "COPY_PUT_WINDOW_SECONDS": str(BUDGET_WINDOW),
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",  # the tests run the sweep themselves
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
def api(dr_stack: Stack) -> Iterator[httpx.Client]:
    headers = {"x-functions-key": dr_stack.options.function_key}
    with httpx.Client(base_url=dr_stack.hosts[1].url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def control(dr_stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(dr_stack.arm_endpoint) as client:
        yield client


@pytest.fixture(scope="module")
def events(dr_stack: Stack) -> EventLog:
    return EventLog(dr_stack.storage_connection, "copy-events")


def jobs_of(api: httpx.Client, collection_id: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    url: str | None = "/api/copies"
    params: dict[str, str] | None = {"sourceCollectionId": collection_id, "pageSize": "100"}
    while url:
        page = api.get(url, params=params).json()
        jobs.extend(page["value"])
        url, params = page.get("nextLink"), None
    return jobs


def wait_jobs_done(
    api: httpx.Client, collection_id: str, count: int, timeout: float = 120
) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        jobs = jobs_of(api, collection_id)
        finished = len(jobs) >= count and all(j["state"] in TERMINAL for j in jobs)
        return jobs if finished else None

    return wait_for(done, timeout=timeout, what=f"{count} finished copy jobs of {collection_id}")


def run_sweep(dr_stack: Stack) -> None:
    """Run the timer function now, as the portal's 'Test/Run' or the admin API does."""
    response = httpx.post(
        f"{dr_stack.host_url}/admin/functions/sweep_timer",
        json={"input": ""},
        headers={"x-functions-key": dr_stack.options.master_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text


def new_restore_point(control: EmulatorControl, collection_id: str, name: str) -> str:
    """A restore point made in the source region as a backup schedule would (emits the event
    when it is created). Azure refuses a second create on a VM while one runs, so wait."""
    rp_id = control.create_restore_point(collection_id, name)["id"]
    base = str(control.client.base_url).rstrip("/")

    def created() -> bool:
        body = httpx.get(
            f"{base}{rp_id}",
            params={"api-version": "2025-04-01"},
            headers={"Authorization": "Bearer local-emulator-token"},
        ).json()
        return body.get("properties", {}).get("provisioningState") == "Succeeded"

    wait_for(created, timeout=30, what=f"restore point {name} to be created", interval=0.1)
    return rp_id


def test_a_new_restore_point_is_copied_to_every_policy_region(
    api: httpx.Client, control: EmulatorControl, events: EventLog, dr_stack: Stack
) -> None:
    source = seed_source(dr_stack.arm_endpoint, restore_points=0, data_disks=1)
    rp = new_restore_point(control, source.collection_id, "rp-auto-1")
    jobs = wait_jobs_done(api, source.collection_id, len(REGIONS))
    assert sorted(j["targetRegion"] for j in jobs) == list(REGIONS)
    assert all(j["state"] == "Succeeded" for j in jobs), jobs
    assert all(j["trigger"] == "eventgrid" for j in jobs)
    assert all(j["sourceRestorePointId"].lower() == rp.lower() for j in jobs)
    for job in jobs:
        events.wait_for(job["id"], "com.example.rpcopy.copy.succeeded", timeout=30)

    # The app's own writes in the target regions (collections, copies) were delivered to it too,
    # and started nothing: every job of this VM copies the source restore point.
    targets = [j["targetRestorePointId"].lower() for j in jobs]
    delivered = json.dumps(control.events()).lower()
    assert all(t in delivered for t in targets), "the emulator announced the copies' writes"
    everything = api.get("/api/copies", params={"pageSize": "1000"}).json()["value"]
    assert not [j for j in everything if j["sourceRestorePointId"].lower() in targets]


def test_the_sweep_copies_what_events_missed_oldest_first(
    api: httpx.Client, dr_stack: Stack, events: EventLog
) -> None:
    # Seeded restore points produce no events: only the sweep can find them.
    source = seed_source(dr_stack.arm_endpoint, restore_points=3, data_disks=1)
    plan = api.get("/api/plan").json()
    pairs = [
        p for p in plan["pairs"] if p["sourceCollectionId"].lower() == source.collection_id.lower()
    ]
    assert sorted(p["targetRegion"] for p in pairs) == list(REGIONS)
    for pair in pairs:
        planned = [c["sourceRestorePointId"] for c in pair["plan"]["copies"]]
        assert planned == list(source.restore_point_ids), "oldest first"
    assert jobs_of(api, source.collection_id) == [], "a dry run requests nothing"

    run_sweep(dr_stack)
    jobs = wait_jobs_done(api, source.collection_id, 3 * len(REGIONS), timeout=180)
    assert all(j["state"] == "Succeeded" for j in jobs), [
        j for j in jobs if j["state"] != "Succeeded"
    ]
    assert all(j["trigger"] == "sweep" for j in jobs)
    for region in REGIONS:
        in_region = sorted(
            (j for j in jobs if j["targetRegion"] == region), key=lambda j: j["startedAt"]
        )
        assert [j["sourceRestorePointId"] for j in in_region] == list(source.restore_point_ids)
        # One at a time: each copy started after the previous one had replicated.
        for earlier, later in itertools.pairwise(in_region):
            assert datetime.fromisoformat(later["startedAt"]) >= datetime.fromisoformat(
                earlier["replicationDoneAt"]
            )


def test_restore_points_in_a_row_go_one_at_a_time_in_order_within_the_put_budget(
    api: httpx.Client, control: EmulatorControl, dr_stack: Stack
) -> None:
    source = seed_source(dr_stack.arm_endpoint, restore_points=0, data_disks=1)
    made = [new_restore_point(control, source.collection_id, f"rp-row-{i}") for i in range(1, 5)]
    jobs = wait_jobs_done(api, source.collection_id, 4 * len(REGIONS), timeout=180)
    assert all(j["state"] == "Succeeded" for j in jobs), [
        j for j in jobs if j["state"] != "Succeeded"
    ]
    for region in REGIONS:
        in_region = sorted(
            (j for j in jobs if j["targetRegion"] == region), key=lambda j: j["startedAt"]
        )
        assert [j["sourceRestorePointId"].lower() for j in in_region] == [m.lower() for m in made]
        # Never four copy PUTs into one target collection within one budget window...
        starts = [datetime.fromisoformat(j["startedAt"]) for j in in_region]
        assert (starts[3] - starts[0]).total_seconds() >= BUDGET_WINDOW - 1
        # ...and when the 4th was ready before the window ended, it waited for the budget.
        third_done = datetime.fromisoformat(in_region[2]["finishedAt"])
        if (third_done - starts[0]).total_seconds() < BUDGET_WINDOW - 2:
            assert in_region[3]["attempts"].get("budget"), in_region[3]
    # Azure (the emulator) never had to refuse a copy PUT: the app held itself back.
    puts = [
        r
        for r in control.requests("RestorePoints_Create")
        if source.vm_id.rsplit("/", 1)[-1] in r["path"]
    ]
    assert puts
    assert all(r["status"] == 201 for r in puts), [r["status"] for r in puts]


def test_retention_keeps_exactly_the_newest_copies_the_policy_says(
    api: httpx.Client, control: EmulatorControl, dr_stack: Stack, events: EventLog
) -> None:
    source = seed_source(dr_stack.arm_endpoint, restore_points=0, data_disks=0)
    made = [new_restore_point(control, source.collection_id, f"rp-ret-{i}") for i in range(1, 5)]
    jobs = wait_jobs_done(api, source.collection_id, 4 * len(REGIONS), timeout=180)
    by_region = {r: [j for j in jobs if j["targetRegion"] == r] for r in REGIONS}
    westus = by_region["westus"][0]["targetCollectionId"]
    northeurope = by_region["northeurope"][0]["targetCollectionId"]

    def copies(collection: str) -> list[str]:
        body = httpx.get(
            f"{dr_stack.arm_endpoint}{collection}",
            params={"api-version": "2025-04-01", "$expand": "restorePoints"},
            headers={"Authorization": "Bearer local-emulator-token"},
            timeout=30,
        ).json()
        return [
            rp["properties"]["sourceRestorePoint"]["id"].lower()
            for rp in body["properties"].get("restorePoints", [])
        ]

    # westus keeps the last 2; northeurope has no retention and keeps all 4.
    wait_for(lambda: len(copies(westus)) == 2 or None, timeout=60, what="retention in westus")
    assert sorted(copies(westus)) == sorted(m.lower() for m in made[-2:])
    assert sorted(copies(northeurope)) == sorted(m.lower() for m in made)

    def deletion_events() -> list[dict[str, Any]] | None:
        deleted = [
            e
            for e in events.poll()
            if e["type"] == "com.example.rpcopy.retention.deleted"
            and e["data"]["targetRestorePointId"].lower().startswith(westus.lower())
        ]
        return deleted if len(deleted) >= 2 else None

    deleted = wait_for(deletion_events, timeout=30, what="two retention.deleted events")
    # Each deletion is also recorded (the audit rows behind the events).
    with TableClient.from_connection_string(dr_stack.storage_connection, "rpcopyrules") as table:
        recorded = {
            row["TargetRestorePointId"].lower()
            for row in table.query_entities("PartitionKey eq 'deletion'")
        }
    assert {e["data"]["targetRestorePointId"].lower() for e in deleted} <= recorded
    # The subject is the source restore point, as in the copy events (README, "Events").
    assert all(e["subject"] == e["data"]["sourceRestorePointId"] for e in deleted)
    assert sorted(e["data"]["sourceRestorePointId"].lower() for e in deleted) == sorted(
        m.lower() for m in made[:2]
    )


def test_an_older_restore_point_after_a_newer_copy_is_superseded(
    api: httpx.Client, dr_stack: Stack, events: EventLog
) -> None:
    source = seed_source(dr_stack.arm_endpoint, restore_points=2, data_disks=0, name="vm-order")
    older, newer = source.restore_point_ids
    response = api.post(
        "/api/copies", json={"sourceRestorePointId": newer, "targetRegion": "eastus2"}
    )
    assert response.status_code == 202
    job = response.json()
    wait_for(
        lambda: api.get(f"/api/copies/{job['id']}").json()["state"] == "Succeeded" or None,
        timeout=60,
        what="the newer restore point's copy",
    )
    response = api.post(
        "/api/copies", json={"sourceRestorePointId": older, "targetRegion": "eastus2"}
    )
    assert response.status_code == 202
    late = response.json()
    assert late["state"] == "Superseded", late
    assert "creation order" in late["detail"]
    event = events.wait_for(late["id"], "com.example.rpcopy.copy.superseded", timeout=30)
    assert event["data"]["source"]["restorePointId"] == older


def test_two_hosts_start_each_copy_exactly_once(
    api: httpx.Client, control: EmulatorControl, dr_stack: Stack, events: EventLog
) -> None:
    sources = [seed_source(dr_stack.arm_endpoint, restore_points=1, data_disks=0) for _ in range(6)]
    clients = [
        httpx.Client(
            base_url=h.url, headers={"x-functions-key": dr_stack.options.function_key}, timeout=60
        )
        for h in dr_stack.hosts
    ]
    try:
        ids = set()
        for index, source in enumerate(sources):
            body = {"sourceRestorePointId": source.restore_point_id, "targetRegion": "eastus2"}
            for client in clients:  # every request sent to both hosts: one job each
                response = client.post("/api/copies", json=body)
                assert response.status_code in (200, 202)
                ids.add(response.json()["id"])
            del index
        assert len(ids) == len(sources)
        for job_id in ids:
            wait_for(
                lambda job_id=job_id: (
                    api.get(f"/api/copies/{job_id}").json()["state"] in TERMINAL or None
                ),
                timeout=90,
                what=f"job {job_id}",
            )
    finally:
        for client in clients:
            client.close()
    for job_id in ids:
        job = api.get(f"/api/copies/{job_id}").json()
        assert job["state"] == "Succeeded"
        target = job["targetRestorePointId"].lower()
        puts = [r for r in control.requests("RestorePoints_Create") if r["path"].lower() == target]
        assert len(puts) == 1, [
            (r["status"], r["time"], r.get("fault"), r.get("correlationId")) for r in puts
        ]
        started = [
            e for e in events.for_job(job_id) if e["type"] == "com.example.rpcopy.copy.started"
        ]
        assert len(started) == 1


def test_protection_status_and_the_rpo_breach_event_follow_the_clock(
    api: httpx.Client, control: EmulatorControl, dr_stack: Stack, events: EventLog
) -> None:
    # A restore point two hours old, copied now: the newest usable copy is 120 min old (> 60).
    vm = "vm-rpo"
    source = seed_source(
        dr_stack.arm_endpoint, restore_points=1, data_disks=0, name=vm, spacing_seconds=7200
    )
    run_sweep(dr_stack)
    wait_jobs_done(api, source.collection_id, len(REGIONS), timeout=120)

    def westus_status() -> dict[str, Any]:
        pairs = api.get("/api/protection").json()["pairs"]
        return next(
            p
            for p in pairs
            if p["sourceCollectionId"].lower() == source.collection_id.lower()
            and p["targetRegion"] == "westus"
        )

    status = westus_status()
    assert status["rpoState"] == "breached", status
    assert status["newestUsable"]["sourceRestorePointId"].lower() == source.restore_point_id.lower()
    assert status["ageMinutes"] >= 119

    run_sweep(dr_stack)
    breach = wait_for(
        lambda: (
            [
                e
                for e in events.poll()
                if e["type"] == "com.example.rpcopy.rpo.breached"
                and e["subject"].lower() == source.collection_id.lower()
            ]
            or None
        ),
        timeout=30,
        what="the RPO breach event",
    )
    run_sweep(dr_stack)  # a second sweep does not announce the same breach again

    # A fresh restore point is copied (Event Grid) and the pair is protected again.
    new_restore_point(control, source.collection_id, "rp-fresh")
    wait_jobs_done(api, source.collection_id, 2 * len(REGIONS), timeout=120)
    wait_for(lambda: westus_status()["rpoState"] == "ok" or None, timeout=30, what="RPO ok")
    assert westus_status()["ageMinutes"] < 5
    events.poll()
    again = [
        e
        for e in events.events
        if e["type"] == "com.example.rpcopy.rpo.breached"
        and e["subject"].lower() == source.collection_id.lower()
    ]
    assert len(again) == len(breach) == 1
