"""The drills' workload: VMs with restore point collections in the emulator, and the three ways
copies get requested (HTTP, Event Grid via restore points the emulator creates, the sweep)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from devstack.stack import Stack
from drills.stack import (
    MANUAL_GROUP,
    MANUAL_REGION,
    POLICY_GROUP,
    POLICY_REGIONS,
    SOURCE_REGION,
    SUBSCRIPTION,
    TARGET_GROUP,
    Api,
)


@dataclass
class World:
    """What was seeded: collections under the policy (copied to both policy regions by Event
    Grid and the sweep) and manual collections (copied to one region when asked over HTTP)."""

    policy_collections: list[str] = field(default_factory=list)
    manual_collections: list[str] = field(default_factory=list)
    vm_of: dict[str, str] = field(default_factory=dict)  # collection id -> VM name
    seeded: dict[str, list[str]] = field(default_factory=dict)  # collection id -> rp ids
    created: dict[str, list[str]] = field(default_factory=dict)  # made during the drill

    def restore_points(self, collection_id: str) -> list[str]:
        return self.seeded.get(collection_id, []) + self.created.get(collection_id, [])

    def expected_copies(self) -> int:
        """Copy jobs the workload asks for (each restore point once per region)."""
        policy = sum(len(self.restore_points(c)) for c in self.policy_collections)
        manual = sum(len(self.restore_points(c)) for c in self.manual_collections)
        return policy * len(POLICY_REGIONS) + manual


def seed_world(
    arm_endpoint: str,
    *,
    policy_vms: int,
    manual_vms: int,
    seeded_per_vm: int,
    prefix: str = "d",
    data_disks: int = 0,
) -> World:
    scenario = (
        Scenario(SUBSCRIPTION)
        .resource_group(POLICY_GROUP, SOURCE_REGION)
        .resource_group(MANUAL_GROUP, SOURCE_REGION)
        .resource_group(TARGET_GROUP, MANUAL_REGION)
    )
    world = World()
    for kind, count, group in (("p", policy_vms, POLICY_GROUP), ("m", manual_vms, MANUAL_GROUP)):
        for index in range(count):
            vm = f"{prefix}{kind}vm{index:03d}"
            collection = f"{vm}-rpc"
            scenario.vm(
                vm,
                rg=group,
                location=SOURCE_REGION,
                os_disk=DiskSpec(size_gb=4, used_gb=1),
                data_disks=[DiskSpec(lun=i, size_gb=4, used_gb=1) for i in range(data_disks)],
            )
            scenario.collection(collection, vm=vm)
            points = []
            for n in range(1, seeded_per_vm + 1):
                # Older first, an hour apart, as a backup schedule would have made them.
                scenario.restore_point(
                    f"rp{n:03d}", collection, age_seconds=(seeded_per_vm - n + 1) * 3600
                )
                points.append(scenario.rp_id(collection, f"rp{n:03d}"))
            collection_id = scenario.rpc_id(collection)
            (world.policy_collections if kind == "p" else world.manual_collections).append(
                collection_id
            )
            world.vm_of[collection_id] = vm
            world.seeded[collection_id] = points
    with EmulatorControl(arm_endpoint) as control:
        control.seed(scenario)
    return world


def copy_request(world: World, collection_id: str, rp_id: str) -> list[dict[str, str]]:
    """The HTTP bodies that ask for a restore point's copies (the policy's regions and target
    group for a protected collection, so HTTP and automatic intake agree on the target)."""
    regions = POLICY_REGIONS if collection_id in world.policy_collections else (MANUAL_REGION,)
    return [
        {"sourceRestorePointId": rp_id, "targetRegion": r, "targetResourceGroup": TARGET_GROUP}
        for r in regions
    ]


def request_over_http(api: Api, body: dict[str, str]) -> int:
    response = api.post_copy(body)
    return response.status_code


def new_restore_point(stack: Stack, world: World, collection_id: str, name: str) -> str | None:
    """A restore point made in the source region as a backup schedule would (the emulator emits
    ResourceWriteSuccess to the app's webhook when it is created). None when the VM is still
    busy with the previous one (Azure refuses overlapping creates)."""
    with EmulatorControl(stack.arm_endpoint) as control:
        try:
            created = control.create_restore_point(collection_id, name)
        except Exception as exc:  # 409 while another create of this VM runs
            if "409" in str(exc) or "Conflict" in str(exc) or "VMRestorePoint" in str(exc):
                return None
            raise
    rp_id = str(created["id"])
    world.created.setdefault(collection_id, []).append(rp_id)
    return rp_id


def wait_created(stack: Stack, rp_id: str, timeout: float = 30) -> bool:
    """Wait until the restore point's create LRO ended (read from the emulator's control plane,
    which faults never touch, so this works during an ARM outage too)."""
    deadline = time.monotonic() + timeout
    wanted = rp_id.lower()
    with EmulatorControl(stack.arm_endpoint) as control:
        while time.monotonic() < deadline:
            for rpc in control.state()["restorePointCollections"]:
                for rp in rpc["restorePoints"]:
                    if rp["id"].lower() == wanted and rp["provisioningState"] != "Creating":
                        return True
            time.sleep(0.1)
    return False


def wait_all_terminal(
    api: Api,
    timeout: float,
    *,
    minimum: int = 0,
    every: float = 1.0,
    sweep_every: float | None = None,
) -> tuple[bool, list[dict[str, Any]]]:
    """Wait until at least `minimum` jobs exist and all are terminal. With `sweep_every`, run
    the sweep that often meanwhile, as its timer would (it repairs what a crash left half
    done: an outbox not sent for over a minute, a pair not released)."""
    from drills.observe import TERMINAL_STATES

    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic() + (sweep_every or 0)
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            jobs = api.all_jobs()
        except (RuntimeError, httpx.HTTPError):
            time.sleep(every)
            continue
        if len(jobs) >= minimum and all(j["state"] in TERMINAL_STATES for j in jobs):
            return True, jobs
        if sweep_every and time.monotonic() >= next_sweep:
            api.sweep()
            next_sweep = time.monotonic() + sweep_every
        time.sleep(every)
    return False, jobs


def request_seeded(api: Api, world: World, *, policy_too: bool = False) -> dict[str, Any]:
    """POST every seeded restore point of the manual collections (and, with `policy_too`, of
    the protected ones), oldest first; returns status counts and the accepted job ids."""
    statuses: dict[str, int] = {}
    accepted: list[str] = []
    collections = world.manual_collections + (world.policy_collections if policy_too else [])
    for collection in collections:
        for rp in world.seeded[collection]:
            for body in copy_request(world, collection, rp):
                response = api.post_copy(body)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
                if response.status_code in (200, 202):
                    accepted.append(response.json()["id"])
    return {"statuses": statuses, "accepted": accepted}


def create_restore_points(stack: Stack, world: World, per_vm: int, *, tag: str = "eg") -> int:
    """`per_vm` new restore points in every protected collection (Event Grid tells the app);
    one VM at a time is busy, so they are made round-robin."""
    made = 0
    for n in range(1, per_vm + 1):
        pending: list[str] = []
        for collection in world.policy_collections:
            for _ in range(100):
                rp = new_restore_point(stack, world, collection, f"rp-{tag}{n:03d}")
                if rp is not None:
                    pending.append(rp)
                    made += 1
                    break
                time.sleep(0.1)
        for rp in pending:
            wait_created(stack, rp)
    return made
