"""`python -m devstack demo` (`make demo`): the product end to end on one machine, in a minute.

Part 1: a manual copy requested over HTTP, with live per-disk progress and the completion event.
Part 2: automatic DR: a new restore point made in the source region reaches the app through
Event Grid and is copied to both policy regions with no manual call; then the protection status.

Everything started here is stopped by PID on success, failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient
from rich.console import Console as RichConsole

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from devstack import demo_drill, realtime
from devstack.console import Console, ignore_interrupts, interrupt_on_signals
from devstack.stack import Stack
from rpcopy_cli.progress import FollowTimeout, ProgressView, follow
from rpcopy_cli.render import disk_name, outcome_reason
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType

T = TypeVar("T")
# The demo's host runs with the default EVENT_TYPE_PREFIX.
SUCCEEDED_EVENT = EventIdentity().type_of(EventType.SUCCEEDED)
FAILED_EVENT = EventIdentity().type_of(EventType.FAILED)
MANUAL_TARGET = "westus"


class DemoError(RuntimeError):
    """The demo cannot go on; the message says what went wrong or what it waited for."""


@dataclass(frozen=True)
class Disk:
    role: str  # "os" or "lun N"
    name: str
    size_gb: int
    used_gb: int


VM_NAME = "vm-app01"
COLLECTION = f"{VM_NAME}-rpc"
DISKS = (
    Disk("os", f"{VM_NAME}-osdisk", 128, 30),
    Disk("lun 0", f"{VM_NAME}-data-sql", 1024, 420),
    Disk("lun 1", f"{VM_NAME}-data-logs", 512, 150),
)


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.5) -> T:
    """Poll `probe` until it returns something; on timeout say what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class CopyEvents:
    """The app's CloudEvents from the `copy-events` queue in Azurite (received and deleted, as a
    consumer would; the host writes them base64-encoded)."""

    def __init__(self, connection_string: str, queue: str = realtime.EVENTS_QUEUE) -> None:
        self.client = QueueClient.from_connection_string(connection_string, queue)
        self.received: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        try:
            for message in self.client.receive_messages(
                messages_per_page=32, visibility_timeout=30
            ):
                self.received.append(json.loads(base64.b64decode(message.content)))
                self.client.delete_message(message)
        except ResourceNotFoundError:  # no event sent yet: the queue does not exist yet
            pass
        return self.received

    def wait_for_outcome(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        def outcome() -> dict[str, Any] | None:
            for event in self.poll():
                if event.get("data", {}).get("jobId") == job_id and event["type"] in (
                    SUCCEEDED_EVENT,
                    FAILED_EVENT,
                ):
                    return event
            return None

        return wait_for(outcome, timeout=timeout, what=f"the completion event of job {job_id}")

    def close(self) -> None:
        self.client.close()


def _short_time(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%H:%M:%S") if value else "-"


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _disk_of(disk_restore_point_name: str | None) -> Disk | None:
    # A disk restore point is named `<disk name>_<guid>`.
    for disk in DISKS:
        if (disk_restore_point_name or "").lower().startswith(disk.name.lower() + "_"):
            return disk
    return None


def disk_label(disk_restore_point_name: str | None) -> str:
    """The demo's disks by role ("os", "lun 0") in the progress display."""
    disk = _disk_of(disk_restore_point_name)
    if disk is None:
        return f"{'disk':<6} {disk_name(disk_restore_point_name):<19}"
    return f"{disk.role:<6} {disk.name:<19}"


@dataclass
class Demo:
    stack: Stack
    console: Console
    api: httpx.Client = field(init=False)
    control: EmulatorControl = field(init=False)
    events: CopyEvents = field(init=False)
    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    collection_id: str = ""
    drill: dict[str, Any] | None = None  # Part 3 (devstack/demo_drill.py)

    def __post_init__(self) -> None:
        self.api = httpx.Client(
            base_url=self.stack.host_url,
            headers={"x-functions-key": self.stack.options.function_key},
            timeout=30,
            trust_env=False,  # loopback only: never through a proxy from the environment
        )
        self.control = EmulatorControl(self.stack.arm_endpoint)
        self.events = CopyEvents(self.stack.storage_connection)

    def close(self) -> None:
        self.api.close()
        self.control.close()
        self.events.close()

    # -- helpers ----------------------------------------------------------------------------

    def get(self, path: str, **params: str) -> Any:
        response = self.api.get(path, params=params)
        if response.status_code != 200:
            raise DemoError(f"GET {path} answered {response.status_code}: {response.text}")
        return response.json()

    def follow(
        self, job_ids: list[str], labels: dict[str, str], timeout: float
    ) -> list[dict[str, Any]]:
        """Poll the jobs' status URLs until all are finished, showing live per-disk progress
        (the `rpcopy` command line's progress display: `rpcopy copy --wait` shows the same)."""
        view = ProgressView(RichConsole(file=self.console.stream), disk_label=disk_label)
        try:
            jobs = follow(
                lambda job_id: self.get(f"/api/copies/{job_id}"),
                job_ids,
                labels,
                view,
                timeout=timeout,
                interval=0.5,
            )
        except FollowTimeout as exc:
            raise DemoError(str(exc)) from None
        failed = [job for job in jobs if job["state"] != "Succeeded"]
        if failed:
            raise DemoError(
                "copy did not succeed: "
                + "; ".join(f"{j['id']} {j['state']}: {outcome_reason(j)}" for j in failed)
            )
        return [dict(job) for job in jobs]

    def show_event(self, event: dict[str, Any], *, excerpt: bool = False) -> None:
        if event["type"] != SUCCEEDED_EVENT:
            self.console.json(event)
            raise DemoError(f"job {event['data'].get('jobId')} ended with {event['type']}")
        if not excerpt:
            self.console.json(event)
            return
        data = event["data"]
        self.console.json(
            {
                **{k: event[k] for k in ("specversion", "id", "type", "subject", "time")},
                "data": {
                    **{k: data[k] for k in ("jobId", "state", "trigger")},
                    "target": {k: data["target"][k] for k in ("region", "resourceGroup")},
                    "disks": [f"{d['name']}: {d.get('percent') or 0:.0f} %" for d in data["disks"]],
                    "timing": data["timing"],
                },
            }
        )

    # -- the story ----------------------------------------------------------------------------

    def seed(self) -> str:
        """The source VM, its collection with a restore point made 10 minutes ago, and the
        DR resource groups; returns the restore point's id."""
        created = datetime.now(UTC) - timedelta(minutes=10)
        rp_name = f"rp-{created:%Y%m%d-%H%M%S}"
        scenario = Scenario(realtime.SUBSCRIPTION).resource_group(
            realtime.SOURCE_GROUP, realtime.SOURCE_REGION
        )
        for region, group in realtime.TARGET_GROUPS.items():
            scenario.resource_group(group, region)
        os_disk, *data = DISKS
        scenario.vm(
            VM_NAME,
            rg=realtime.SOURCE_GROUP,
            location=realtime.SOURCE_REGION,
            vm_size="Standard_E8s_v5",
            os_disk=DiskSpec(size_gb=os_disk.size_gb, used_gb=os_disk.used_gb, name=os_disk.name),
            data_disks=[
                DiskSpec(lun=i, size_gb=d.size_gb, used_gb=d.used_gb, name=d.name)
                for i, d in enumerate(data)
            ],
        ).collection(COLLECTION, vm=VM_NAME).restore_point(rp_name, COLLECTION, age_seconds=600)
        self.control.seed(scenario)
        self.collection_id = scenario.rpc_id(COLLECTION)
        rp_id = scenario.rp_id(COLLECTION, rp_name)
        c = self.console
        c.line(f"Seeded in the ARM emulator ({realtime.SOURCE_REGION}, {realtime.SOURCE_GROUP}):")
        c.line(f"  VM {VM_NAME} (Standard_E8s_v5, Linux)")
        for disk in DISKS:
            c.line(
                f"    {disk.role:<6} {disk.name:<20} {disk.size_gb:>5} GiB, "
                f"{disk.used_gb:>4} GiB used"
            )
        c.line(f"  restore point collection {COLLECTION}")
        c.line(f"    restore point {rp_name} (10 minutes old, all 3 disks)")
        groups = ", ".join(f"{g} ({r})" for r, g in realtime.TARGET_GROUPS.items())
        c.line(f"  DR resource groups: {groups}")
        return rp_id

    def part1(self) -> None:
        c = self.console
        c.heading("Part 1: a manual copy over HTTP")
        rp_id = self.seed()
        body = {
            "sourceRestorePointId": rp_id,
            "targetRegion": MANUAL_TARGET,
            "targetResourceGroup": realtime.TARGET_GROUPS[MANUAL_TARGET],
        }
        c.line()
        c.line("POST /api/copies   (x-functions-key: <function key>)")
        c.json(body, indent=4)
        response = self.api.post("/api/copies", json=body)
        if response.status_code != 202:
            raise DemoError(f"POST /api/copies answered {response.status_code}: {response.text}")
        job = response.json()
        location = response.headers["Location"]
        c.line(f"<- {response.status_code} Accepted   Location: {location}   state: {job['state']}")
        c.line()
        c.line(f"GET {location} until every disk reports ReplicationState/succeeded at 100 %:")
        (done,) = self.follow([job["id"]], {job["id"]: MANUAL_TARGET}, timeout=90)
        took = _seconds_between(done.get("requestedAt"), done.get("replicationDoneAt"))
        c.line(f"Copy usable in {MANUAL_TARGET} ({took or 0:.0f} s from request to replicated):")
        c.line(f"  {done['targetRestorePointId']}")
        c.line()
        c.line(f"Completion event from the '{realtime.EVENTS_QUEUE}' queue (CloudEvents 1.0):")
        self.show_event(self.events.wait_for_outcome(job["id"]))
        self.results.append(("manual HTTP request", done))

    def part2(self) -> None:
        c = self.console
        c.heading("Part 2: automatic DR through Event Grid")
        policy = json.loads(realtime.DEMO_POLICY.read_text(encoding="utf-8"))["policies"][0]
        regions = [t["region"] for t in policy["targets"]]
        c.line(f"Policy '{policy['name']}' ({realtime.display_path(realtime.DEMO_POLICY)}):")
        c.line(f"  every collection in {realtime.SOURCE_GROUP} -> " + ", ".join(regions))
        realtime.subscribe_app(self.stack)
        c.line("Event Grid subscription in the emulator -> the host's webhook")
        c.line(
            "  /runtime/webhooks/eventgrid?functionName=restore_point_created (Event Grid schema)"
        )
        c.line()
        name = f"rp-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        c.line(f"The backup schedule makes a new restore point {name} in {realtime.SOURCE_REGION}")
        c.line("(POST /_emulator/restore-points: the same LRO and event as an ARM PUT):")
        created = self.control.create_restore_point(self.collection_id, name, changed_fraction=0.04)
        rp_id = created["id"]
        c.line(
            f"  {created['provisioningState']}, completes at {_short_time(created['completesAt'])}"
        )

        delivered = wait_for(
            lambda: self._delivery(rp_id),
            timeout=30,
            what=f"Event Grid delivery of ResourceWriteSuccess for {rp_id}",
        )
        c.line(f"  Event Grid delivered {delivered} to the host")

        def requested() -> list[dict[str, Any]] | None:
            jobs = [
                j
                for j in self.get("/api/copies", sourceCollectionId=self.collection_id)["value"]
                if j["sourceRestorePointId"].lower() == rp_id.lower()
            ]
            return jobs if len(jobs) >= len(regions) else None

        jobs = sorted(
            wait_for(requested, timeout=30, what=f"copy jobs of {name} in {', '.join(regions)}"),
            key=lambda j: j["targetRegion"],
        )
        c.line()
        c.line("No manual call: the app requested the copies itself.")
        c.line(f"GET /api/copies?sourceCollectionId=.../{COLLECTION}")
        for job in self.get("/api/copies", sourceCollectionId=self.collection_id)["value"]:
            source = job["sourceRestorePointId"].rsplit("/", 1)[-1]
            c.line(
                f"  {job['id']}  {source:<22} -> {job['targetRegion']:<12} "
                f"trigger={job['trigger']:<9} {job['state']}"
            )
        c.line()
        c.line(f"Progress ({MANUAL_TARGET} copies only the changes since the copy of Part 1;")
        c.line(" the first copy into the other region moves every used byte):")
        labels = {j["id"]: j["targetRegion"] for j in jobs}
        done = self.follow([j["id"] for j in jobs], labels, timeout=90)
        for job in done:
            c.line()
            c.line(
                f"Completion event for {job['targetRegion']} "
                "(excerpt; the full event has the shape shown in Part 1):"
            )
            self.show_event(self.events.wait_for_outcome(job["id"]), excerpt=True)
            self.results.append(("Event Grid + policy", job))
        self.show_protection()

    def _delivery(self, rp_id: str) -> str | None:
        log = self.control.events()
        ids = {
            e["id"]
            for e in log["events"]
            if e["subject"].lower() == rp_id.lower()
            and e["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
        }
        for delivery in log["deliveries"]:
            if ids & set(delivery["eventIds"]) and delivery["status"] == "delivered":
                status = delivery["attempts"][-1].get("status")
                return f"Microsoft.Resources.ResourceWriteSuccess (HTTP {status})"
        return None

    def show_protection(self) -> None:
        c = self.console
        c.line()
        c.line(f"GET /api/protection   (the pairs of {COLLECTION}):")
        status = self.get("/api/protection")
        pairs = [
            p
            for p in status["pairs"]
            if p["sourceCollectionId"].lower() == self.collection_id.lower()
        ]
        if not pairs:
            raise DemoError(f"GET /api/protection does not list {self.collection_id}")
        c.line(
            f"  {'target':<12} {'policy':<10} {'RPO':>6}  {'newest usable copy':<20} "
            f"{'age':>7}  {'in flight':>9}  state"
        )
        for pair in pairs:
            newest = pair.get("newestUsable") or {}
            name = (newest.get("sourceRestorePointId") or "-").rsplit("/", 1)[-1]
            age = pair.get("ageMinutes")
            c.line(
                f"  {pair['targetRegion']:<12} {pair['policy']:<10} "
                f"{pair.get('rpoMinutes') or '-':>4} m  {name:<20} "
                f"{'-' if age is None else f'{age:.1f} m':>7}  {len(pair['inFlight']):>9}  "
                f"{pair['rpoState']}"
            )
        c.line(f"  ({pairs[0]['reason']})")

    def event_grid_summary(self) -> str:
        """What Event Grid delivered, and proof that the app's own writes started nothing."""
        log = self.control.events()
        by_id = {e["id"]: e for e in log["events"]}
        delivered = [by_id[i] for d in log["deliveries"] for i in d["eventIds"] if i in by_id]
        source = self.collection_id.lower() + "/"
        in_source = [e for e in delivered if e["subject"].lower().startswith(source)]
        jobs = self.get("/api/copies", pageSize="1000")["value"]
        own = {j["targetRestorePointId"].lower() for j in jobs if j.get("targetRestorePointId")}
        if any(j["sourceRestorePointId"].lower() in own for j in jobs):
            raise DemoError("the app copied one of its own copies (copy-of-copy)")
        return (
            f"Event Grid delivered {len(delivered)} events to the host: {len(in_source)} for the "
            f"new restore point,\n  {len(delivered) - len(in_source)} for the app's own writes in "
            f"the DR regions, which started no copy-of-copy ({len(jobs)} copy jobs in all)"
        )

    def summary(self, workdir: Path) -> None:
        c = self.console
        event_grid = self.event_grid_summary()
        c.heading(f"Done in {c.elapsed():.0f} s")
        for how, job in self.results:
            took = _seconds_between(job.get("requestedAt"), job.get("replicationDoneAt"))
            source = job["sourceRestorePointId"].rsplit("/", 1)[-1]
            c.line(
                f"  {how:<20} {source} {job['sourceRegion']} -> {job['targetRegion']:<12} "
                f"{job['state']}" + (f" in {took:.0f} s" if took is not None else "")
            )
        if self.drill is not None:
            c.line(f"  {demo_drill.summary_line(self.drill)}")
        c.line(f"  {event_grid}")
        c.line(f"  Logs (azurite, emulator, host-0): {realtime.display_path(workdir)}/")


def run_demo(workdir: Path | None = None) -> int:
    console = Console()
    workdir = workdir or realtime.new_workdir("demo")
    workdir.mkdir(parents=True, exist_ok=True)
    # The timer sweep stays off: the demo shows the Event Grid path alone, and a sweep firing
    # at a quarter past would also copy older restore points and change the story mid-way.
    options = realtime.stack_options(
        workdir, extra_settings={"AzureWebJobs.sweep_timer.Disabled": "true"}
    )
    stack = Stack(options, workdir)
    demo: Demo | None = None
    console.line("rpcopy demo: cross-region copies of Azure VM restore points, offline")
    console.line("  Azurite (queues, tables) + the ARM emulator (Azure) + devhost (Functions host)")
    try:
        with interrupt_on_signals():
            console.heading("Starting the local stack")
            stack.start()
            for name, pid in realtime.processes(stack):
                console.line(f"  {name:<16} pid {pid}")
            console.line(f"  function host    {stack.host_url}")
            console.line(
                f"  ARM emulator     {stack.arm_endpoint}  (real time; replication sped up)"
            )
            console.line(f"  logs             {realtime.display_path(workdir)}/")
            console.line(f"  ready after {console.elapsed():.1f} s")
            demo = Demo(stack, console)
            demo.part1()
            demo.part2()
            demo.drill = demo_drill.part3(demo)
            demo.summary(workdir)
        return 0
    except KeyboardInterrupt:
        console.line()
        console.line("Interrupted: stopping everything the demo started.")
        return 130
    except Exception as exc:
        console.line()
        known = (DemoError, demo_drill.DrillFailed)
        reason = str(exc) if isinstance(exc, known) else f"{type(exc).__name__}: {exc}"
        for line in realtime.log_tails(workdir):
            console.line(line)
        console.line(f"demo failed: {reason}")
        console.line(
            f"Logs: {realtime.display_path(workdir)}/ (azurite.log, emulator.log, host-0.log)"
        )
        return 1
    finally:
        ignore_interrupts()
        if demo is not None:
            demo.close()
        stack.stop()
        console.line(
            f"Stopped azurite, the ARM emulator and the function host ({console.elapsed():.0f} s)."
        )
