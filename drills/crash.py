"""Crash drill: kill function hosts at random moments while copies are in flight.

    python -m drills crash [--policy-vms 8] [--manual-vms 4] [--seeded 2] [--created 3]
                           [--seed 1] [--lock-seconds 10] [--timeout 900]

Two local hosts share the queues. While copies are requested over HTTP (`POST /api/copies`, by a
client that retries on a dropped connection) and by Event Grid (the emulator creates restore
points in protected collections and delivers `ResourceWriteSuccess` to the first host's
webhook, retrying failed deliveries), while runs fail and re-run (replication failures injected
with `times`), while the sweep runs (the admin API) and retention deletes old copies
(`keepLast` 2), a host chosen at random is SIGKILLed at a random moment and restarted on its
port a moment later (as devstack starts it), at least as many times as there are copies.
Afterwards every invariant of `drills.checks` must hold.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from arm_emulator.control import EmulatorControl
from devstack.console import interrupt_on_signals
from drills import report
from drills.checks import Verdict, check_arm, check_jobs, check_queues
from drills.observe import (
    RETENTION_DELETED,
    EventCollector,
    emulator_json,
    host_log_counts,
    settle_requests,
    wait_queues_drained,
)
from drills.stack import POLICY_REGIONS, Api, DrillStack, drill_stack
from drills.world import (
    World,
    copy_request,
    new_restore_point,
    seed_world,
    wait_all_terminal,
    wait_created,
)

APP_SETTINGS = {
    # A run that fails (injected replication failure, or a crash loop) is followed by another;
    # three runs leave room for both in one job.
    "RERUN_MAX_RUNS": "3",
}


@dataclass
class CrashOptions:
    policy_vms: int = 8
    manual_vms: int = 4
    seeded: int = 2  # restore points per VM before the drill (HTTP and the sweep copy them)
    created: int = 3  # restore points per protected VM made during the drill (Event Grid)
    failing_vms: int = 4  # VMs whose next copy runs fail replication (times 1 or 2)
    kills: int | None = None  # default: as many as there are copies
    kill_gap: tuple[float, float] = (0.4, 2.2)  # seconds between kills
    restart_delay: tuple[float, float] = (0.0, 1.5)
    sweep_every: float = 5.0
    hosts: int = 2
    lock_seconds: int = 10
    seed: int = 1
    timeout: float = 900.0
    workdir: Path | None = None


class Killer:
    """Kills a ready host at random moments; restarts it after a random delay in a thread."""

    def __init__(self, stack: DrillStack, rng: random.Random, options: CrashOptions) -> None:
        self.stack = stack
        self.rng = rng
        self.options = options
        self.ready = set(range(len(stack.hosts)))
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.log: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.errors: list[str] = []

    def kill_one(self) -> bool:
        with self.lock:
            candidates = sorted(self.ready)
            if not candidates:
                return False
            index = self.rng.choice(candidates)
            self.ready.discard(index)
        self.stack.kill_host(index)
        delay = self.rng.uniform(*self.options.restart_delay)
        self.log.append(
            {"at": round(time.monotonic() - self.started, 2), "host": index, "down": delay}
        )
        thread = threading.Thread(target=self._restart, args=(index, delay), daemon=True)
        thread.start()
        self.threads.append(thread)
        return True

    def _restart(self, index: int, delay: float) -> None:
        time.sleep(delay)
        for attempt in range(3):
            try:
                self.stack.restart_host(index)
                break
            except Exception as exc:
                self.errors.append(f"restart of host {index} (attempt {attempt + 1}): {exc}")
                time.sleep(1)
        with self.lock:
            self.ready.add(index)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)


class Workload:
    """HTTP requests, new restore points (Event Grid) and sweeps at random moments, in a thread,
    spread over `duration` seconds."""

    def __init__(
        self,
        stack: DrillStack,
        api: Api,
        world: World,
        rng: random.Random,
        options: CrashOptions,
        duration: float,
    ) -> None:
        self.stack, self.api, self.world, self.rng = stack, api, world, rng
        self.options = options
        self.duration = duration
        self.posts: Counter[str] = Counter()
        self.accepted: dict[str, str] = {}  # job id -> how it was asked for
        self.sweeps: Counter[str] = Counter()
        self.created: list[str] = []
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, name="workload", daemon=True)

    def plan(self) -> list[tuple[float, str, Any]]:
        actions: list[tuple[float, str, Any]] = []
        for collection in self.world.manual_collections + self.world.policy_collections:
            for index, rp in enumerate(self.world.seeded[collection]):
                # Every manual restore point; half of the protected ones (the sweep finds the
                # rest, and Event Grid never tells about seeded ones).
                if collection in self.world.policy_collections and index % 2:
                    continue
                for body in copy_request(self.world, collection, rp):
                    actions.append((self.rng.uniform(0, self.duration * 0.5), "post", body))
        for collection in self.world.policy_collections:
            moments = sorted(
                self.rng.uniform(0, self.duration * 0.8) for _ in range(self.options.created)
            )
            for n, moment in enumerate(moments, 1):
                actions.append((moment, "create", (collection, f"rp-eg{n:03d}")))
        moment = self.rng.uniform(1, self.options.sweep_every)
        while moment < self.duration:
            actions.append((moment, "sweep", None))
            moment += self.options.sweep_every * self.rng.uniform(0.6, 1.4)
        return sorted(actions, key=lambda a: a[0])

    def _run(self) -> None:
        started = time.monotonic()
        for moment, kind, arg in self.plan():
            time.sleep(max(0.0, moment - (time.monotonic() - started)))
            try:
                if kind == "post":
                    response = self.api.post_copy(arg)
                    self.posts[str(response.status_code)] += 1
                    if response.status_code in (200, 202):
                        self.accepted[response.json()["id"]] = "http"
                elif kind == "create":
                    collection, name = arg
                    for _ in range(50):  # the VM may still be busy with the previous one
                        rp = new_restore_point(self.stack, self.world, collection, name)
                        if rp is not None:
                            self.created.append(rp)
                            wait_created(self.stack, rp)
                            break
                        time.sleep(0.2)
                else:
                    self.sweeps[str(self.api.sweep())] += 1
            except Exception as exc:
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")


def run(options: CrashOptions) -> dict[str, Any]:
    rng = random.Random(options.seed)
    started = time.monotonic()
    settings = dict(APP_SETTINGS)
    with (
        drill_stack(
            hosts=options.hosts,
            app_settings=settings,
            lock_seconds=options.lock_seconds,
            workdir=options.workdir,
            seed=options.seed,
        ) as stack,
        EventCollector(stack.storage_connection) as collector,
    ):
        world = seed_world(
            stack.arm_endpoint,
            policy_vms=options.policy_vms,
            manual_vms=options.manual_vms,
            seeded_per_vm=options.seeded,
        )
        # Every restore point each protected VM will have, once per region, plus the manual
        # ones: what the workload asks for (some end Superseded, that is fine).
        planned = (
            options.policy_vms * (options.seeded + options.created) * len(POLICY_REGIONS)
            + options.manual_vms * options.seeded
        )
        kills_wanted = options.kills or planned
        failing = rng.sample(
            sorted(world.policy_collections + world.manual_collections),
            min(options.failing_vms, len(world.vm_of)),
        )
        with EmulatorControl(stack.arm_endpoint) as control:
            for collection in failing:
                control.add_fault(
                    operation="RestorePoints_Create",
                    kind="replication_failure",
                    times=rng.choice((1, 2)),
                    match={"pathContains": f"/restorePointCollections/{world.vm_of[collection]}"},
                )
        api = Api(stack)
        killer = Killer(stack, rng, options)
        mean_gap = sum(options.kill_gap) / 2
        workload = Workload(stack, api, world, rng, options, duration=kills_wanted * mean_gap)
        workload.thread.start()
        kill_phase_started = time.monotonic()
        while stack.kills < kills_wanted:
            time.sleep(rng.uniform(*options.kill_gap))
            killer.kill_one()
        kill_phase = time.monotonic() - kill_phase_started
        workload.thread.join(timeout=options.timeout)
        killer.join()
        # Jobs the workload's restore points still need may be behind lost Event Grid
        # deliveries: the sweep catches them, as in Azure.
        for _ in range(2):
            api.sweep()
            time.sleep(3)
        all_done, jobs = wait_all_terminal(
            api, options.timeout, minimum=len(workload.accepted), sweep_every=options.sweep_every
        )
        # More copies than kills? Keep the promise: as many kills as copies.
        extra_kills = 0
        while all_done and stack.kills < len(jobs):
            killer.kill_one()
            extra_kills += 1
            time.sleep(rng.uniform(*options.kill_gap))
            killer.join()
            all_done, jobs = wait_all_terminal(
                api, options.timeout, minimum=len(jobs), sweep_every=options.sweep_every
            )
        killer.join()
        api.sweep()  # a last sweep after the last kill: it must change nothing but retention
        time.sleep(3)
        all_done, jobs = wait_all_terminal(
            api, options.timeout, minimum=len(jobs), sweep_every=options.sweep_every
        )
        drained, depths, waited = wait_queues_drained(stack.storage_connection, timeout=120)
        settle_requests(stack.arm_endpoint)
        events = collector.drain_now()
        verdict = Verdict()
        verdict.merge(check_jobs(jobs, events))
        verdict.merge(check_arm(stack.arm_endpoint, jobs))
        verdict.merge(check_queues(drained, depths, waited))
        verdict.add("nothing lost", _lost(world, workload, jobs))
        verdict.add("drill ran as planned", workload.errors + killer.errors)
        deliveries = emulator_json(stack.arm_endpoint, "/_emulator/events")["deliveries"]
        figures = {
            "options": {k: v for k, v in asdict(options).items() if k != "workdir"},
            "appSettings": {**settings, "lockSeconds": options.lock_seconds},
            "plannedCopies": planned,
            "kills": stack.kills,
            "restarts": stack.restarts,
            "killsAfterWorkload": extra_kills,
            "killsPerJob": round(stack.kills / len(jobs), 2) if jobs else None,
            "killPhaseSeconds": round(kill_phase, 1),
            "http": {"posts": dict(workload.posts), "acceptedJobs": len(workload.accepted)},
            "eventGrid": {
                "restorePointsCreated": len(workload.created),
                "deliveries": dict(Counter(d["status"] for d in deliveries)),
                "deliveryAttempts": sum(len(d["attempts"]) for d in deliveries),
            },
            "sweeps": dict(workload.sweeps),
            "failingVms": len(failing),
            "retentionDeleted": sum(
                1 for e in {e["id"]: e for e in events}.values() if e["type"] == RETENTION_DELETED
            ),
            "triggers": dict(Counter(j["trigger"] for j in jobs)),
            "hostLogs": host_log_counts(stack.workdir),
            "allTerminalBeforeDeadline": all_done,
        }
        verdict.figures.update(figures)
    result = verdict.to_json()
    result["wallSeconds"] = round(time.monotonic() - started, 1)
    return result


def _lost(world: World, workload: Workload, jobs: list[dict[str, Any]]) -> list[str]:
    """Every job a POST was answered with is in the ledger, and the newest restore point of
    every protected collection has a job in each policy region."""
    known = {j["id"] for j in jobs}
    problems = [f"POST answered job {j} which the ledger does not list" for j in workload.accepted]
    problems = [p for p, j in zip(problems, workload.accepted, strict=True) if j not in known]
    copied = {(j["sourceRestorePointId"].lower(), j["targetRegion"]) for j in jobs}
    for collection in world.policy_collections:
        newest = world.restore_points(collection)[-1]
        for region in POLICY_REGIONS:
            if (newest.lower(), region) not in copied:
                problems.append(f"no job copies {newest} to {region}")
    return problems


def render(result: dict[str, Any], record: dict[str, Any]) -> str:
    what = (
        "Two local hosts; a random host is SIGKILLed at a random moment and restarted on its "
        "port after a random delay, while copies are requested over HTTP and by Event Grid, "
        "runs fail replication and re-run, the sweep runs and retention deletes old copies. "
        "See `drills/crash.py` and docs/drills.md."
    )
    rows = [
        ("copies (jobs)", result["jobs"]),
        ("job states", result["jobStates"]),
        ("runs per job", result["runs"]),
        ("kills / restarts", f"{result['kills']} / {result['restarts']}"),
        ("kills per job", result["killsPerJob"]),
        ("kill phase", f"{result['killPhaseSeconds']} s"),
        ("HTTP POSTs (status: count)", result["http"]["posts"]),
        ("Event Grid: restore points created", result["eventGrid"]["restorePointsCreated"]),
        ("Event Grid deliveries (status: count)", result["eventGrid"]["deliveries"]),
        ("Event Grid delivery attempts", result["eventGrid"]["deliveryAttempts"]),
        ("sweeps (admin API status: count)", result["sweeps"]),
        ("jobs by trigger", result["triggers"]),
        ("retention deletions", result["retentionDeleted"]),
        ("events (distinct by type)", result["events"]["byType"]),
        ("events re-delivered (same id)", result["events"]["redeliveredDuplicates"]),
        ("ARM copies left", result["armCopies"]),
        ("copy PUTs refused / throttled by ARM", _refused(result)),
        ("ARM calls", result["armCalls"]["total"]),
        ("injected faults fired", result["armCalls"]["injectedFaultsFired"]),
        ("queues drained", _drained(result["queues"])),
        ("host logs", result["hostLogs"]),
    ]
    lines = report.header("Crash drill", {**record, **result}, what)
    lines += report.verdict_lines(result)
    lines += ["", *report.table(["measure", "value"], rows), ""]
    return "\n".join(lines) + "\n"


def _drained(queues: dict[str, Any]) -> str:
    return f"{queues['drained']} (after {queues['secondsToDrain']} s)"


def _refused(result: dict[str, Any]) -> str:
    arm = result["armCalls"]
    return f"{arm['copyPutsRefusedByArm']} / {arm['copyPutsThrottledByArm']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drills crash",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = CrashOptions()
    parser.add_argument("--policy-vms", type=int, default=defaults.policy_vms)
    parser.add_argument("--manual-vms", type=int, default=defaults.manual_vms)
    parser.add_argument("--seeded", type=int, default=defaults.seeded)
    parser.add_argument("--created", type=int, default=defaults.created)
    parser.add_argument("--failing-vms", type=int, default=defaults.failing_vms)
    parser.add_argument("--kills", type=int, default=None)
    parser.add_argument("--lock-seconds", type=int, default=defaults.lock_seconds)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    options = CrashOptions(
        policy_vms=args.policy_vms, manual_vms=args.manual_vms, seeded=args.seeded,
        created=args.created, failing_vms=args.failing_vms, kills=args.kills,
        lock_seconds=args.lock_seconds, seed=args.seed, timeout=args.timeout,
        workdir=args.workdir,
    )  # fmt: skip
    record = report.started_record("python -m drills crash")
    with interrupt_on_signals():  # SIGTERM stops the stack too
        result = {**record, **run(options)}
    paths = report.record("crash", result, render(result, record))
    print(render(result, record))
    print("results:", *paths)
    return 0 if result["ok"] else 1
