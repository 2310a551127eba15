"""ARM fault-mix drill: the same workload twice, fault-free and under a mix of ARM faults.

    python -m drills faults [--policy-vms 6] [--manual-vms 6] [--created 2] [--seed 1]
                            [--rate-scale 1.0] [--timeout 600]

Each run starts its own stack (two local hosts) and seeds the same world: protected VMs whose
new restore points reach the app through Event Grid and are copied to two regions (retention
`keepLast` 1, so retention deletes run too), and manual VMs whose restore points are copied
over HTTP. The second run adds, at seeded rates on every ARM operation, 429 with Retry-After,
500, 503, connections dropped before the request is processed and after it was processed (the
lost answer), failed copy LROs and failed replications. Both must end with every copy
Succeeded (after re-runs) or Failed with a reason, nothing stuck or lost, every invariant of
`drills.checks`, no 5xx from the API other than 503; ARM calls per copy are compared.
"""

from __future__ import annotations

import argparse
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
    EventCollector,
    host_log_counts,
    settle_requests,
    wait_queues_drained,
)
from drills.stack import POLICY_REGIONS, Api, drill_policy, drill_stack, server_errors
from drills.world import create_restore_points, request_seeded, seed_world, wait_all_terminal

APP_SETTINGS = {
    # Room for a failed LRO and a failed replication in one job before it fails for good.
    "RERUN_MAX_RUNS": "4",
}


def fault_mix(scale: float = 1.0) -> list[dict[str, Any]]:
    """The faults of the second run (rates are per matching request, seeded)."""

    def rate(value: float) -> float:
        return round(min(1.0, value * scale), 4)

    return [
        {"operation": "*", "kind": "http", "status": 429, "retryAfter": 1, "rate": rate(0.04)},
        {"operation": "*", "kind": "http", "status": 500, "rate": rate(0.04)},
        {"operation": "*", "kind": "http", "status": 503, "rate": rate(0.04)},
        {"operation": "*", "kind": "drop", "phase": "before", "rate": rate(0.03)},
        {"operation": "*", "kind": "drop", "phase": "after", "rate": rate(0.03)},
        {"operation": "RestorePoints_Create", "kind": "lro_failure", "rate": rate(0.15)},
        {"operation": "RestorePoints_Create", "kind": "replication_failure", "rate": rate(0.15)},
    ]


@dataclass
class FaultOptions:
    policy_vms: int = 6
    manual_vms: int = 6
    seeded: int = 1  # per protected VM (the sweep copies it); manual VMs get two
    created: int = 2  # per protected VM, during the run (Event Grid)
    rate_scale: float = 1.0
    hosts: int = 2
    seed: int = 1
    timeout: float = 600.0
    sweep_every: float = 15.0
    workdir: Path | None = None


def run_once(options: FaultOptions, faults: list[dict[str, Any]], label: str) -> dict[str, Any]:
    started = time.monotonic()
    workdir = options.workdir / label if options.workdir else None
    with (
        drill_stack(
            hosts=options.hosts,
            app_settings=APP_SETTINGS,
            policy=drill_policy(keep_last=1),
            workdir=workdir,
            seed=options.seed,
        ) as stack,
        EventCollector(stack.storage_connection) as collector,
    ):
        world = seed_world(
            stack.arm_endpoint,
            policy_vms=options.policy_vms,
            manual_vms=0,
            seeded_per_vm=options.seeded,
        )
        manual = seed_world(
            stack.arm_endpoint,
            policy_vms=0,
            manual_vms=options.manual_vms,
            seeded_per_vm=2,
        )
        world.manual_collections = manual.manual_collections
        world.vm_of.update(manual.vm_of)
        world.seeded.update(manual.seeded)
        with EmulatorControl(stack.arm_endpoint) as control:
            control.reset_requests()
            control.set_faults(faults)
        api = Api(stack)
        posted = request_seeded(api, world)
        api.sweep()  # the seeded protected restore points (no event announces them)
        created = create_restore_points(stack, world, options.created)
        api.sweep()
        all_done, jobs = wait_all_terminal(
            api, options.timeout, minimum=len(posted["accepted"]), sweep_every=options.sweep_every
        )
        copy_seconds = round(time.monotonic() - started, 1)
        with EmulatorControl(stack.arm_endpoint) as control:
            fired = control.faults()
            control.clear_faults()  # the checks below read ARM without faults
        drained, depths, waited = wait_queues_drained(stack.storage_connection, timeout=120)
        settle_requests(stack.arm_endpoint)
        events = collector.drain_now()
        verdict = Verdict()
        verdict.merge(check_jobs(jobs, events))
        verdict.merge(check_arm(stack.arm_endpoint, jobs))
        verdict.merge(check_queues(drained, depths, waited))
        unknown = set(posted["accepted"]) - {j["id"] for j in jobs}
        verdict.add(
            "nothing lost",
            [f"POST answered job {j}, not in the ledger" for j in sorted(unknown)]
            + _newest_copied(world, jobs),
        )
        verdict.add(
            "no 5xx from the API but 503",
            [f"{k}: {n}" for k, n in server_errors(api.answers).items()],
        )
        counts = verdict.figures["armCalls"]["byOperation"]
        reasons = Counter(
            (j.get("error") or {}).get("code") for j in jobs if j["state"] == "Failed"
        )
        verdict.figures.update(
            {
                "label": label,
                "secondsToAllTerminal": copy_seconds,
                "allTerminalBeforeDeadline": all_done,
                "http": {"posts": posted["statuses"], "answers": dict(api.answers)},
                "restorePointsCreated": created,
                "failureReasons": dict(reasons),
                "armCallsPerCopy": per_copy(counts, jobs),
                "faultsFired": {
                    _label(rule): {"matched": rule["matched"], "fired": rule["fired"]}
                    for rule in fired
                },
                "hostLogs": host_log_counts(stack.workdir),
            }
        )
        api.close()
    result = verdict.to_json()
    result["wallSeconds"] = round(time.monotonic() - started, 1)
    return result


def per_copy(counts: dict[str, int], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    copies = len(jobs)
    succeeded = sum(1 for j in jobs if j["state"] == "Succeeded")
    total = sum(counts.values())
    return {
        "total": round(total / copies, 2) if copies else None,
        "perSucceededCopy": round(total / succeeded, 2) if succeeded else None,
        "byOperation": {op: round(n / copies, 2) for op, n in counts.items()} if copies else {},
    }


def _label(rule: dict[str, Any]) -> str:
    text = f"{rule['operation']} {rule['kind']}"
    if rule.get("status"):
        text += f" {rule['status']}"
    if rule.get("phase"):
        text += f" ({rule['phase']})"
    return text


def _newest_copied(world: Any, jobs: list[dict[str, Any]]) -> list[str]:
    copied = {(j["sourceRestorePointId"].lower(), j["targetRegion"]) for j in jobs}
    problems = []
    for collection in world.policy_collections:
        newest = world.restore_points(collection)[-1]
        problems += [
            f"no job copies {newest} to {region}"
            for region in POLICY_REGIONS
            if (newest.lower(), region) not in copied
        ]
    return problems


def run(options: FaultOptions) -> dict[str, Any]:
    started = time.monotonic()
    clean = run_once(options, [], "fault-free")
    faulty = run_once(options, fault_mix(options.rate_scale), "faults")
    comparison = {}
    ops = sorted(
        set(clean["armCallsPerCopy"]["byOperation"]) | set(faulty["armCallsPerCopy"]["byOperation"])
    )
    for op in ops:
        a = clean["armCallsPerCopy"]["byOperation"].get(op, 0)
        b = faulty["armCallsPerCopy"]["byOperation"].get(op, 0)
        comparison[op] = {"faultFree": a, "withFaults": b, "ratio": round(b / a, 2) if a else None}
    total_a = clean["armCallsPerCopy"]["total"] or 0
    total_b = faulty["armCallsPerCopy"]["total"] or 0
    comparison["total"] = {
        "faultFree": total_a,
        "withFaults": total_b,
        "ratio": round(total_b / total_a, 2) if total_a else None,
    }
    ok = clean["ok"] and faulty["ok"]
    violations = {f"fault-free: {k}": v for k, v in clean["violations"].items()}
    violations |= {f"faults: {k}": v for k, v in faulty["violations"].items()}
    return {
        "ok": ok,
        "violations": violations,
        "violationCounts": {k: len(v) for k, v in violations.items()},
        "options": {k: v for k, v in asdict(options).items() if k != "workdir"},
        "appSettings": APP_SETTINGS,
        "faultMix": fault_mix(options.rate_scale),
        "armCallsPerCopyComparison": comparison,
        "runs": {"faultFree": clean, "faults": faulty},
        "wallSeconds": round(time.monotonic() - started, 1),
    }


def render(result: dict[str, Any], record: dict[str, Any]) -> str:
    what = (
        "The same workload on two fresh stacks (two hosts each): fault-free, then with the "
        "fault mix below on every ARM operation. See `drills/arm_faults.py` and docs/drills.md."
    )
    clean, faulty = result["runs"]["faultFree"], result["runs"]["faults"]

    def both(get: Any) -> list[Any]:
        return [get(clean), get(faulty)]

    rows = [
        ["copies (jobs)", *both(lambda r: r["jobs"])],
        ["job states", *both(lambda r: r["jobStates"])],
        ["runs per job", *both(lambda r: r["runs"])],
        ["failure reasons", *both(lambda r: r["failureReasons"] or "-")],
        ["seconds to all terminal", *both(lambda r: r["secondsToAllTerminal"])],
        ["ARM calls per copy", *both(lambda r: r["armCallsPerCopy"]["total"])],
        ["ARM calls per succeeded copy", *both(lambda r: r["armCallsPerCopy"]["perSucceededCopy"])],
        ["HTTP answers", *both(lambda r: r["http"]["answers"])],
        ["ARM copies left", *both(lambda r: r["armCopies"])],
        ["copy PUTs refused by ARM", *both(lambda r: r["armCalls"]["copyPutsRefusedByArm"])],
        ["events re-delivered (same id)", *both(lambda r: r["events"]["redeliveredDuplicates"])],
        ["queues drained", *both(lambda r: r["queues"]["drained"])],
        ["host logs", *both(lambda r: r["hostLogs"])],
    ]
    compare = [
        [op, v["faultFree"], v["withFaults"], v["ratio"]]
        for op, v in result["armCallsPerCopyComparison"].items()
    ]
    fired = [[name, v["matched"], v["fired"]] for name, v in faulty["faultsFired"].items()]
    lines = report.header("ARM fault-mix drill", {**record, **result}, what)
    lines += report.verdict_lines(result)
    lines += ["", *report.table(["measure", "fault-free", "with faults"], rows), ""]
    lines += ["ARM calls per copy, by operation:", ""]
    lines += report.table(["operation", "fault-free", "with faults", "ratio"], compare)
    lines += ["", "Faults (rates per matching request, seeded):", ""]
    lines += report.table(["rule", "matched", "fired"], fired)
    lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drills faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = FaultOptions()
    parser.add_argument("--policy-vms", type=int, default=defaults.policy_vms)
    parser.add_argument("--manual-vms", type=int, default=defaults.manual_vms)
    parser.add_argument("--created", type=int, default=defaults.created)
    parser.add_argument("--rate-scale", type=float, default=defaults.rate_scale)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    options = FaultOptions(
        policy_vms=args.policy_vms, manual_vms=args.manual_vms, created=args.created,
        rate_scale=args.rate_scale, seed=args.seed, timeout=args.timeout, workdir=args.workdir,
    )  # fmt: skip
    record = report.started_record("python -m drills faults")
    with interrupt_on_signals():
        result = {**record, **run(options)}
    markdown = render(result, record)
    paths = report.record("arm-faults", result, markdown)
    print(markdown)
    print("results:", *paths)
    return 0 if result["ok"] else 1
