"""Copy pipeline benchmark (issue #3): 100 copies requested at once through the HTTP API.

    python -m benchmarks.bench_pipeline [--copies 100] [--hosts 1] [--runs 2] [--timeout 300]

Each run starts its own stack (Azurite, the ARM emulator at --time-scale, --hosts local function
hosts; free loopback ports, stopped by PID also on failure), seeds one VM per copy (each with its
own collection and one restore point; a single small OS disk, so replication finishes at the
emulator's first progress tick), then POSTs every copy concurrently (round-robin over the hosts)
and waits for every completion event on the `copy-events` queue (round 1: the first copy of each
collection). Round 2 (unless --no-later-copies) then gives each VM a new restore point and copies
it the same way, measured apart: a later copy of a collection the app already copies. Each round
measures:

(a) POST -> copy PUT: from sending each `POST /api/copies` to the `RestorePoints_Create` of its
    target restore point arriving at the emulator (request log: `time` is the real clock at the
    end of the request, minus `durationMs` gives the arrival);
(b) ARM calls per completed copy by operation (the emulator's counts / completed copies);
(c) replication end -> completion event: the emulator has no "replication finished" timestamp,
    so it is computed from its model: the copy's replication starts when its LRO ends
    (`copyLroSeconds` after the PUT) and a disk is reported done at the first progress tick
    (`progressIntervalSeconds`) after its transfer time (`/_emulator/state` gives each disk's
    `seconds`); simulated seconds / time scale = real seconds after the PUT's arrival. Compared
    with the app noticing it (`replicationDoneAt`), emitting the event (the CloudEvent `time`) and
    the event being seen on the queue by this script (polled every 50 ms);
plus total wall time and throughput. (c) depends on the poll schedule: the app settings used are
recorded with the results. Results: benchmarks/results/pipeline-benchmark.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import psutil
from azure.storage.queue import QueueClient

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from benchmarks.common import (
    fmt_summary,
    git_commit,
    load_labelled,
    machine,
    machine_line,
    now_iso,
    summary,
    table,
    write_results,
)
from devstack.stack import (
    FAST_APP_SETTINGS,
    FAST_TIME_SCALE,
    Stack,
    StackOptions,
    running_stack,
)
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000b1"
SOURCE_REGION = "eastus"
TARGET_REGION = "westus"
SOURCE_GROUP = "rg-bench"
TARGET_GROUP = "rg-bench-dr"
EVENTS_QUEUE = "copy-events"
# The benchmark's hosts run with the default EVENT_TYPE_PREFIX.
SUCCEEDED_EVENT = EventIdentity().type_of(EventType.SUCCEEDED)
TERMINAL_EVENTS = {
    SUCCEEDED_EVENT,
    EventIdentity().type_of(EventType.FAILED),
    EventIdentity().type_of(EventType.SUPERSEDED),
}

# The emulator runs 600x real time; the poll schedule is scaled to match (shared with the tests).
TIME_SCALE = FAST_TIME_SCALE
APP_SETTINGS: dict[str, str] = dict(FAST_APP_SETTINGS)


# ---- seeding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    vm: str
    collection: str
    restore_point_id: str


def seed(emulator_url: str, copies: int, disk_gb: int) -> list[Source]:
    """One VM per copy, each with its own collection and one restore point (one seed call)."""
    scenario = (
        Scenario(SUBSCRIPTION)
        .resource_group(SOURCE_GROUP, SOURCE_REGION)
        .resource_group(TARGET_GROUP, TARGET_REGION)
    )
    sources: list[Source] = []
    for i in range(copies):
        vm, collection = f"vm{i:03d}", f"rpc-vm{i:03d}"
        # A small disk: its transfer ends before the first 10-minute progress tick.
        scenario.vm(
            vm,
            rg=SOURCE_GROUP,
            location=SOURCE_REGION,
            os_disk=DiskSpec(size_gb=disk_gb, used_gb=disk_gb / 4),
        )
        scenario.collection(collection, vm=vm)
        scenario.restore_point("rp1", collection, age_seconds=3600)
        sources.append(Source(vm, collection, scenario.rp_id(collection, "rp1")))
    with EmulatorControl(emulator_url) as control:
        control.seed(scenario)
        control.reset_requests()  # count only what the app does
    return sources


# ---- watching the events queue ---------------------------------------------------------------


@dataclass
class EventWatcher:
    """Receives every CloudEvent from the events queue in a thread, noting when it was seen."""

    connection_string: str
    interval: float = 0.05
    seen: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> EventWatcher:
        self._thread = threading.Thread(target=self._run, name="event-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def terminal(self) -> dict[str, tuple[float, dict[str, Any]]]:
        """jobId -> (seen at, first terminal event)."""
        with self._lock:
            found: dict[str, tuple[float, dict[str, Any]]] = {}
            for at, event in self.seen:
                if event.get("type") in TERMINAL_EVENTS:
                    found.setdefault(event["data"]["jobId"], (at, event))
            return found

    def _run(self) -> None:
        client = QueueClient.from_connection_string(self.connection_string, EVENTS_QUEUE)
        try:
            while not self._stop.is_set():
                got = 0
                try:
                    # A long visibility timeout instead of deletes: half the queue calls.
                    for message in client.receive_messages(
                        messages_per_page=32, visibility_timeout=3600
                    ):
                        at = time.time()
                        event = json.loads(base64.b64decode(message.content))
                        with self._lock:
                            self.seen.append((at, event))
                        got += 1
                except Exception as exc:  # the app creates the queue on its first event
                    if "QueueNotFound" not in str(exc):
                        raise
                if not got:
                    self._stop.wait(self.interval)
        except BaseException as exc:
            self.error = exc
        finally:
            client.close()


# ---- the run -----------------------------------------------------------------------------------


@dataclass
class Posted:
    source: Source
    host: str
    sent_at: float  # time.time() just before the request went out
    answered_at: float
    status: int
    job: dict[str, Any]


async def post_all(stack: Stack, sources: list[Source]) -> list[Posted]:
    """Every POST at once, over one client with enough connections for all of them."""
    limits = httpx.Limits(max_connections=len(sources), max_keepalive_connections=len(sources))
    headers = {"x-functions-key": stack.options.function_key}
    async with httpx.AsyncClient(
        headers=headers, timeout=120, limits=limits, trust_env=False
    ) as client:

        async def one(index: int, source: Source) -> Posted:
            host = stack.hosts[index % len(stack.hosts)].url
            body = {"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION}
            body["targetResourceGroup"] = TARGET_GROUP
            sent = time.time()
            response = await client.post(f"{host}/api/copies", json=body)
            answered = time.time()
            job = response.json() if response.content else {}
            return Posted(source, host, sent, answered, response.status_code, job)

        return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(sources))))


def wait_for_events(watcher: EventWatcher, jobs: set[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if watcher.error is not None:
            raise RuntimeError(f"reading {EVENTS_QUEUE} failed: {watcher.error}")
        if jobs <= set(watcher.terminal()):
            return True
        time.sleep(0.1)
    return False


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def replication_seconds(disks: list[dict[str, Any]], config: Mapping[str, Any]) -> float:
    """Simulated seconds from the copy PUT to the emulator reporting every disk replicated:
    the LRO, then each disk's transfer rounded up to the next progress tick (never the start)."""
    interval = float(config["progressIntervalSeconds"])
    lro = float(config["copyLroSeconds"])
    longest = max((float(d["seconds"]) for d in disks), default=0.0)
    ticks = max(1, math.ceil(longest / interval - 1e-9))
    return lro + ticks * interval


def run_once(args: argparse.Namespace) -> dict[str, Any]:
    """Round 1: the first copy of every collection (nothing known about it yet). Round 2 (on
    the same stack, after round 1 has ended): each VM gets a new restore point, copied too and
    measured apart (`laterCopies`): a later copy of a collection this app already copies."""
    counts_dir = Path(tempfile.mkdtemp(prefix="rpcopy-counts-"))
    settings = dict(APP_SETTINGS) | {"WORK_COUNTS_DIR": str(counts_dir)}
    options = StackOptions(time_scale=args.time_scale, hosts=args.hosts, app_settings=settings)
    with running_stack(options) as stack:
        sources = seed(stack.arm_endpoint, args.copies, args.disk_gb)
        first = run_round(args, stack, sources, counts_dir)
        if args.later_copies:
            later_sources = new_restore_points(stack.arm_endpoint, sources, "rp2")
            first["laterCopies"] = run_round(args, stack, later_sources, counts_dir)
        return first


def new_restore_points(emulator_url: str, sources: list[Source], name: str) -> list[Source]:
    """A new restore point in each source collection (the emulator's control API, not ARM:
    the request log is reset afterwards so only the app's calls are counted)."""
    out = []
    with EmulatorControl(emulator_url) as control:
        for source in sources:
            collection = source.restore_point_id.rsplit("/restorePoints/", 1)[0]
            created = control.create_restore_point(collection, name)
            out.append(
                Source(
                    source.vm,
                    source.collection,
                    str(created.get("id") or (f"{collection}/restorePoints/{name}")),
                )
            )
        control.reset_requests()
    return out


def run_round(
    args: argparse.Namespace, stack: Stack, sources: list[Source], counts_dir: Path
) -> dict[str, Any]:
    """POST a copy of every source at once, wait for every completion event, then read what
    the emulator and the hosts counted during the round."""
    watcher = EventWatcher(stack.storage_connection).start()
    work_before = read_work_counts(counts_dir)
    cpu_before = cpu_seconds(stack)
    try:
        started = time.time()
        posted = asyncio.run(post_all(stack, sources))
        accepted = {p.job["id"]: p for p in posted if p.status in (200, 202)}
        complete = wait_for_events(watcher, set(accepted), args.timeout)
        finished = time.time()
    finally:
        watcher.stop()
    cpu = {k: round(v - cpu_before.get(k, 0.0), 2) for k, v in cpu_seconds(stack).items()}
    with httpx.Client(base_url=stack.arm_endpoint, timeout=60, trust_env=False) as control:
        settle(control)
        # The whole request log payload: counts and status counts as well as entries.
        log = control.get("/_emulator/requests").raise_for_status().json()
        state = control.get("/_emulator/state").raise_for_status().json()
        config = control.get("/_emulator/config").raise_for_status().json()
        control.delete("/_emulator/requests")  # the next round counts its own
    time.sleep(WORK_COUNTS_INTERVAL + 0.5)  # the hosts rewrite their counts every second
    work = work_delta(work_before, read_work_counts(counts_dir))
    result = analyse(args, posted, accepted, watcher, log, state, config, started, finished)
    result["work"] = work_per_copy(work, log, cpu, result["completed"])
    return result | {"complete": complete, "cpuSeconds": cpu}


WORK_COUNTS_INTERVAL = 1.0
POLL_QUERY = "$expand=instanceview"


def read_work_counts(directory: Path) -> dict[str, dict[str, Any]]:
    """Each host's counts file (`shared.work_counts`), by pid."""
    out: dict[str, dict[str, Any]] = {}
    for path in directory.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            out[path.stem] = json.loads(path.read_text())
    return out


def work_delta(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> dict[str, dict[str, int]]:
    """ARM calls and storage transactions of every host during the run, summed by kind."""
    total: dict[str, dict[str, int]] = {"armCalls": {}, "storageTransactions": {}}
    for pid, counts in after.items():
        for what, by_kind in total.items():
            earlier = before.get(pid, {}).get(what, {})
            for kind, n in counts.get(what, {}).items():
                delta = int(n) - int(earlier.get(kind, 0))
                if delta:
                    by_kind[kind] = by_kind.get(kind, 0) + delta
    return total


def work_per_copy(
    work: dict[str, dict[str, int]], log: dict[str, Any], cpu: dict[str, float], completed: int
) -> dict[str, Any]:
    """Issue #3 part 4: per completed copy, ARM calls outside the replication polls (the
    emulator's log: every request but the poll stage's `$expand=instanceView` reads), storage
    transactions (the hosts' counting policy) and host CPU seconds."""
    polls = sum(
        1
        for entry in log["requests"]
        if entry["operation"] == "RestorePoints_Get"
        and POLL_QUERY in unquote(str(entry.get("query") or "")).lower()
    )
    arm_total = sum(log["counts"].values())
    host_cpu = sum(v for k, v in cpu.items() if k.startswith("host"))
    storage = work["storageTransactions"]

    def per(n: float) -> float | None:
        return round(n / completed, 2) if completed else None

    return {
        "armCallsOutsidePolls": arm_total - polls,
        "replicationPolls": polls,
        "armCallsOutsidePollsPerCopy": per(arm_total - polls),
        "appArmCallsByOperation": dict(sorted(work["armCalls"].items())),
        "storageTransactions": sum(storage.values()),
        "storageTransactionsPerCopy": per(sum(storage.values())),
        "storageTransactionsByKind": dict(sorted(storage.items())),
        "storageTransactionsPerCopyByKind": {k: per(v) for k, v in sorted(storage.items())},
        "hostCpuSeconds": round(host_cpu, 2),
        "hostCpuMsPerCopy": round(host_cpu * 1000 / completed, 1) if completed else None,
    }


def settle(control: httpx.Client, quiet: float = 1.0, limit: float = 15.0) -> None:
    """The finish stage still reads ARM (retention check) just after emitting the event: wait
    until the request log stops growing, so those calls are counted too."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        total = control.get("/_emulator/requests", params={"limit": 1}).json()["total"]
        if total == last:
            return
        last = total
        time.sleep(quiet)


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user + system) used so far by each process of the stack: on a small machine
    the app, Azurite and the emulator compete for the same cores."""
    processes = {
        "emulator": stack.emulator,
        "azurite": stack.azurite.process if stack.azurite else None,
    }
    processes |= {f"host{i}": h.process for i, h in enumerate(stack.hosts)}
    out: dict[str, float] = {}
    for name, proc in processes.items():
        if proc is None or not proc.running():
            continue
        try:
            times = psutil.Process(proc.pid).cpu_times()
            out[name] = times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            continue
    return out


def analyse(
    args: argparse.Namespace,
    posted: list[Posted],
    accepted: dict[str, Posted],
    watcher: EventWatcher,
    log: dict[str, Any],
    state: dict[str, Any],
    config: dict[str, Any],
    started: float,
    finished: float,
) -> dict[str, Any]:
    scale = float(config.get("timeScale") or args.time_scale)
    # The first accepted copy PUT (201) of each target collection; each job has its own.
    puts = first_by_collection(log, "RestorePoints_Create")
    target_puts = first_by_collection(log, "RestorePointCollections_CreateOrUpdate")
    disks_by_rp = {
        rp["id"].lower(): rp.get("disks", [])
        for rpc in state["restorePointCollections"]
        for rp in rpc["restorePoints"]
    }
    terminal = watcher.terminal()
    to_put: list[float] = []
    to_target: list[float] = []  # POST answered -> target collection PUT (ensure-target stage)
    target_to_put: list[float] = []  # target collection PUT -> copy PUT (start-copy stage)
    detect: list[float] = []
    emit: list[float] = []
    seen: list[float] = []
    end_to_end: list[float] = []
    outcomes: dict[str, int] = {}
    for job_id, post in accepted.items():
        collection = str(post.job.get("targetCollectionName", "")).lower()
        put = puts.get(collection)
        if put is None:
            continue
        put_arrival = arrival(put)
        to_put.append(put_arrival - post.sent_at)
        if collection in target_puts:
            to_target.append(arrival(target_puts[collection]) - post.answered_at)
            target_to_put.append(put_arrival - arrival(target_puts[collection]))
        if job_id not in terminal:
            continue
        seen_at, event = terminal[job_id]
        outcomes[event["type"]] = outcomes.get(event["type"], 0) + 1
        end_to_end.append(seen_at - post.sent_at)
        if event["type"] != SUCCEEDED_EVENT:
            continue
        disks = disks_by_rp.get(put["path"].lower(), [])
        replication_done = put_arrival + replication_seconds(disks, config) / scale
        timing = event["data"]["timing"]
        if timing.get("replicationDoneAt"):
            detect.append(parse_time(timing["replicationDoneAt"]) - replication_done)
        emit.append(parse_time(event["time"]) - replication_done)
        seen.append(seen_at - replication_done)
    completed = outcomes.get(SUCCEEDED_EVENT, 0)
    last_event = max((at for at, _ in terminal.values()), default=finished)
    wall = last_event - started
    counts: dict[str, int] = log["counts"]
    status_counts: dict[str, dict[str, int]] = log["statusCounts"]
    return {
        "copies": args.copies,
        "hosts": args.hosts,
        "posts": {
            "statuses": _count(str(p.status) for p in posted),
            "responseSeconds": summary([p.answered_at - p.sent_at for p in posted]),
        },
        "completed": completed,
        "outcomes": outcomes,
        "wallSeconds": round(wall, 2),
        "copiesPerSecond": round(completed / wall, 2) if wall > 0 else None,
        "postToCopyPutSeconds": summary(to_put),
        "postToCopyPutStages": {
            "postResponse": summary([p.answered_at - p.sent_at for p in accepted.values()]),
            "answeredToTargetCollectionPut": summary(to_target),
            "targetCollectionPutToCopyPut": summary(target_to_put),
        },
        "postToCompletionEventSeconds": summary(end_to_end),
        "replicationEndTo": {
            "appNoticed": summary(detect),
            "eventEmitted": summary(emit),
            "eventSeenOnQueue": summary(seen),
        },
        "armCalls": {
            "total": sum(counts.values()),
            "byOperation": dict(sorted(counts.items())),
            "statusByOperation": status_counts,
            "perCompletedCopy": {
                op: round(n / completed, 2) for op, n in sorted(counts.items()) if completed
            },
            "totalPerCompletedCopy": round(sum(counts.values()) / completed, 2)
            if completed
            else None,
        },
    }


def arrival(entry: dict[str, Any]) -> float:
    """Real time a request reached the emulator (the log stamps the end of the request)."""
    return float(entry["time"]) - float(entry["durationMs"]) / 1000


def first_by_collection(log: dict[str, Any], operation: str) -> dict[str, dict[str, Any]]:
    """The first 201 of `operation` per (lower-case) target collection name: every job here
    has its own target collection."""
    found: dict[str, dict[str, Any]] = {}
    for entry in log["requests"]:
        if entry["operation"] == operation and entry["status"] == 201:
            path = entry["path"].lower()
            collection = path.split("/restorepointcollections/")[1].split("/")[0]
            found.setdefault(collection, entry)
    return found


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# ---- report ------------------------------------------------------------------------------------


def render_labelled(labelled: dict[str, dict[str, Any]]) -> str:
    """Every labelled measurement (before / after a change) in one file, with a comparison."""
    order = sorted(labelled, key=lambda k: (k != "before", k != "after", k))
    lines = ["# Copy pipeline benchmark", ""]
    if "before" in labelled and "after" in labelled:
        lines += ["## Before and after (median over runs)", "", *compare(labelled), ""]
    for label in order:
        lines += [render(labelled[label], title=f"## {label}").rstrip("\n"), ""]
    return "\n".join(lines) + "\n"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else sum(ordered[len(ordered) // 2 - 1 :][:2]) / 2
    )


def compare(labelled: dict[str, dict[str, Any]]) -> list[str]:
    measures: list[tuple[str, Any]] = [
        ("POST response p95 (s)", lambda x: x["posts"]["responseSeconds"]["p95"]),
        ("POST -> copy PUT p95 (s)", lambda x: x["postToCopyPutSeconds"]["p95"]),
        ("POST -> copy PUT median (s)", lambda x: x["postToCopyPutSeconds"]["median"]),
        ("ARM calls per copy outside polls", lambda x: x["work"]["armCallsOutsidePollsPerCopy"]),
        ("storage transactions per copy", lambda x: x["work"]["storageTransactionsPerCopy"]),
        ("host CPU ms per copy", lambda x: x["work"]["hostCpuMsPerCopy"]),
        ("wall time (s)", lambda x: x["wallSeconds"]),
    ]
    # Round 2 (later copies of the same collections); n/a for results recorded before it.
    measures += [
        (f"later copies: {name}", lambda x, get=get: get(x["laterCopies"]))
        for name, get in measures[:6]
    ]
    rows = []
    for name, get in measures:
        later = name.startswith("later copies")
        cells = []
        for label in ("before", "after"):
            values = [
                get(run)
                for run in labelled[label]["runs"]
                if run.get("work") and (run.get("laterCopies") or not later)
            ]
            cells.append(round(_median(values), 3) if values else "n/a")
        rows.append([name, *cells])
    dates = {label: labelled[label]["date"] for label in ("before", "after")}
    return [
        f"before: {dates['before']} (commit {labelled['before'].get('commit', '?')}); "
        f"after: {dates['after']} (commit {labelled['after'].get('commit', '?')})",
        "",
        *table(["measure", "before", "after"], rows),
    ]


def round_table(runs: list[dict[str, Any]]) -> list[str]:
    """One round's measurements, a column per run."""
    head = ["measure", *(f"run {i + 1}" for i in range(len(runs)))]

    def row(name: str, get: Any) -> list[Any]:
        return [name, *(get(run) for run in runs)]

    def times(*path: str) -> Any:
        def get(run: dict[str, Any]) -> str:
            value: Any = run
            for key in path:
                value = value[key]
            return fmt_summary(value)

        return get

    stages = "postToCopyPutStages"
    rows = [
        row("copies completed / requested", lambda x: f"{x['completed']} / {x['copies']}"),
        row("POST statuses", lambda x: x["posts"]["statuses"]),
        row("POST response", times("posts", "responseSeconds")),
        row("**(a) POST -> copy PUT at ARM**", times("postToCopyPutSeconds")),
        row(
            "(a) stage: POST answered -> target collection PUT (ensure-target)",
            times(stages, "answeredToTargetCollectionPut"),
        ),
        row(
            "(a) stage: target collection PUT -> copy PUT (start-copy)",
            times(stages, "targetCollectionPutToCopyPut"),
        ),
        row(
            "**(c) replication end -> completion event emitted**",
            times("replicationEndTo", "eventEmitted"),
        ),
        row(
            "(c) replication end -> app noticed (poll stage)",
            times("replicationEndTo", "appNoticed"),
        ),
        row(
            "(c) replication end -> event seen on `copy-events`",
            times("replicationEndTo", "eventSeenOnQueue"),
        ),
        row("POST -> completion event seen", times("postToCompletionEventSeconds")),
        row("wall time (first POST -> last completion event)", lambda x: f"{x['wallSeconds']} s"),
        row("throughput", lambda x: f"{x['copiesPerSecond']} copies/s"),
        row(
            "**(b) ARM calls per completed copy**",
            lambda x: (
                f"**{x['armCalls']['totalPerCompletedCopy']}** ({x['armCalls']['total']} all)"
            ),
        ),
    ]
    rows.append(row("CPU seconds during the run", lambda x: _cpu_cell(x["cpuSeconds"])))
    rows += [
        row(
            "**ARM calls per copy outside the replication polls**",
            lambda x: (
                f"**{x['work']['armCallsOutsidePollsPerCopy']}** "
                f"({x['work']['replicationPolls']} polls in all)"
            ),
        ),
        row(
            "**storage transactions per copy** (app's clients)",
            lambda x: (
                f"**{x['work']['storageTransactionsPerCopy']}** "
                f"({x['work']['storageTransactions']} all)"
            ),
        ),
        row("**host CPU per copy**", lambda x: f"**{x['work']['hostCpuMsPerCopy']} ms**"),
    ]
    kinds = sorted({k for run in runs for k in run["work"]["storageTransactionsByKind"]})
    for kind in kinds:
        rows.append(
            row(
                f"storage `{kind}` per copy",
                lambda x, kind=kind: x["work"]["storageTransactionsPerCopyByKind"].get(kind, 0),
            )
        )
    ops = sorted({op for run in runs for op in run["armCalls"]["byOperation"]})
    for op in ops:
        rows.append(
            row(
                f"(b) `{op}` per copy",
                lambda x, op=op: _op_cell(x["armCalls"], op),
            )
        )
    return table(head, rows)


ROUND_NOTES = {
    "first copies": "**Round 1, first copies**: the first copy of each collection (the app "
    "knows nothing of it yet).",
    "later copies": "**Round 2, later copies** (same stack, after round 1 ended): each VM got a "
    "new restore point, copied to the same target collection.",
}


def table_of_round(runs: list[dict[str, Any]], name: str | None) -> list[str]:
    note = [ROUND_NOTES[name], ""] if name else []
    return [*note, *round_table(runs), ""]


def render(r: dict[str, Any], title: str = "# Copy pipeline benchmark") -> str:
    runs = r["runs"]
    later = [run["laterCopies"] for run in runs if run.get("laterCopies")]
    rounds = [*table_of_round(runs, "first copies" if later else None)]
    if later and len(later) == len(runs):
        rounds += table_of_round(later, "later copies")
    settings = ", ".join(f"`{k}={v}`" for k, v in r["appSettings"].items())
    lines = [
        title,
        "",
        f"Date: {r['date']}  ",
        f"Commit: {r.get('commit', '?')}  ",
        f"Machine: {machine_line(r['machine'])}  ",
        f"Command: `{r['command']}`  ",
        f"Stack: Azurite + ARM emulator (time scale {r['timeScale']:g}: "
        f"{r['timeScale'] / 60:g} simulated minutes per real second) + {r['hosts']} local "
        f"host(s) (`devhost`); {r['copies']} VMs, one collection and one restore point each "
        f"({r['diskGB']} GB OS disk, replication ends at the first 10-minute progress tick = "
        f"{600 / r['timeScale']:g} real s after the copy LRO).  ",
        f"App settings (the poll schedule bounds (c)): {settings}",
        "",
        "Times are real seconds; median / p95 / max (nearest rank).",
        "",
        *rounds,
    ]
    return "\n".join(lines) + "\n"


def _cpu_cell(cpu: dict[str, float]) -> str:
    return ", ".join(f"{k} {v}" for k, v in cpu.items())


def _op_cell(arm: dict[str, Any], op: str) -> str:
    per = arm["perCompletedCopy"].get(op)
    statuses = arm["statusByOperation"].get(op, {})
    codes = ", ".join(f"{k}x{v}" for k, v in sorted(statuses.items()))
    return f"{per} ({codes})" if per is not None else "0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=100, help="copies requested at once")
    parser.add_argument("--hosts", type=int, default=1, help="local function hosts (default 1)")
    parser.add_argument("--runs", type=int, default=2, help="runs, each on a fresh stack")
    parser.add_argument("--time-scale", type=float, default=TIME_SCALE)
    parser.add_argument("--disk-gb", type=int, default=4, help="OS disk size of each VM")
    parser.add_argument("--timeout", type=float, default=300, help="per-run limit (s)")
    parser.add_argument(
        "--no-later-copies",
        dest="later_copies",
        action="store_false",
        help="skip round 2 (a new restore point per VM, copied after round 1)",
    )
    parser.add_argument("--name", default=None, help="results file name (default by hosts)")
    parser.add_argument(
        "--label",
        default="after",
        help="kept beside the file's other labels: 'before' a change, 'after' it (default)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.copies <= 500 or not 1 <= args.hosts <= 4 or not 1 <= args.runs <= 5:
        parser.error("bounded: --copies 1..500, --hosts 1..4, --runs 1..5")

    host = machine()  # before the runs: its load average says how busy the machine was
    runs = []
    for index in range(args.runs):
        print(f"pipeline run {index + 1}/{args.runs}: {args.copies} copies, {args.hosts} host(s)")
        runs.append(run_once(args))
    name = args.name or (
        "pipeline-benchmark" if args.hosts == 1 else f"pipeline-benchmark-{args.hosts}hosts"
    )
    command = "python -m benchmarks.bench_pipeline" + (
        f" --hosts {args.hosts}" if args.hosts != 1 else ""
    )
    results = {
        "date": now_iso(),
        "commit": git_commit(),
        "label": args.label,
        "machine": host,
        "command": command,
        "copies": args.copies,
        "hosts": args.hosts,
        "timeScale": args.time_scale,
        "diskGB": args.disk_gb,
        "appSettings": APP_SETTINGS,
        "hostJsonQueues": "host.json: batchSize 16, newBatchThreshold 8, maxPollingInterval 2 s",
        "runs": runs,
    }
    labelled = load_labelled(name)
    labelled[args.label] = results
    markdown = render_labelled(labelled)
    write_results(name, {"labels": labelled}, markdown)
    print(markdown)
    ok = all(run["complete"] and run["completed"] == args.copies for run in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
