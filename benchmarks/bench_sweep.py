"""Timer sweep benchmark (issue #4): 100 protected collections with 50 restore points each.

    python -m benchmarks.bench_sweep [--collections 100] [--restore-points 50] [--runs 2]

Each run starts Azurite and the ARM emulator (no function host: the sweep runs in-process and the
messages it sends simply wait in the queues), seeds every VM, collection and restore point in
one seed call, writes a policy file protecting the resource group (one target region), and runs
`shared.sweep.reconcile.sweep(services, dry_run=...)`
with `Services.create(Settings.from_env())` pointed at
the stack, three times, each in a fresh child process so its peak RSS is its own:

1. dry run: plan only (nothing in the ledger yet);
2. real sweep: requests every missing copy (collections x restore points jobs; one per pair is
   admitted, the rest wait their turn), timed separately as "request creation";
3. second real sweep: steady state with every job already in the ledger (nothing new to request);
   what every scheduled sweep costs until the copies land.

For each phase: wall time, ARM calls by operation (the emulator's request log, reset before the
phase) and per protected collection, whether `RestorePoints_Get` was called at all (the issue
requires calls to grow with collections, not restore points), and the sweep process's RSS
(baseline after start-up, sampled peak during the sweep, and the kernel's high-water mark).
Results: benchmarks/results/sweep-benchmark.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from arm_emulator.scenarios import DiskSpec, Scenario
from benchmarks.common import (
    RssSampler,
    git_commit,
    high_water_mark_bytes,
    load_labelled,
    machine,
    machine_line,
    mb,
    now_iso,
    summary,
    table,
    write_results,
)
from devstack.stack import StackOptions, running_stack

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000c1"
SOURCE_REGION = "eastus"
TARGET_REGION = "westus"
GROUP = "rg-sweep"
PHASES = ("dry-run", "sweep", "re-sweep")


def seed(emulator_url: str, collections: int, restore_points: int) -> int:
    """Every VM, collection and restore point in one seed call; returns restore points seeded."""
    scenario = Scenario(SUBSCRIPTION).resource_group(GROUP, SOURCE_REGION)
    for c in range(collections):
        vm = f"vm{c:03d}"
        scenario.vm(vm, rg=GROUP, location=SOURCE_REGION, os_disk=DiskSpec(size_gb=4))
        scenario.collection(f"rpc-{vm}", vm=vm)
        for r in range(restore_points):
            # Hourly restore points, oldest first, as a backup schedule makes them.
            scenario.restore_point(
                f"rp{r:03d}", f"rpc-{vm}", age_seconds=(restore_points - r) * 3600
            )
    with httpx.Client(base_url=emulator_url, timeout=300, trust_env=False) as client:
        created = client.post("/_emulator/seed", json=scenario.to_dict()).raise_for_status().json()
    return len(created["restorePoints"])


def write_policy(directory: Path) -> Path:
    path = directory / "sweep-policies.json"
    policy = {
        "version": 1,
        "policies": [
            {
                "name": "bench-sweep",
                "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": GROUP},
                "targets": [{"region": TARGET_REGION}],
            }
        ],
    }
    path.write_text(json.dumps(policy, indent=2))
    return path


# ---- the sweep, in a child process -------------------------------------------------------------


class Timings:
    """Wall time and call count of a few app functions, wrapped for the length of one phase."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self.active = True

    def wrap(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.active:
                return await fn(*args, **kwargs)
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.spans.setdefault(name, []).append((started, time.perf_counter()))

        return timed

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spans in self.spans.items():
            durations = [end - start for start, end in spans]
            out[name] = {
                "calls": len(spans),
                "totalSeconds": round(sum(durations), 3),
                # First start to last end: the calls overlap (SWEEP_CONCURRENCY pairs at once).
                "spanSeconds": round(max(e for _, e in spans) - min(s for s, _ in spans), 3),
                "seconds": summary(durations, digits=4),
            }
        return out


async def _run_sweep(env: dict[str, str], dry_run: bool) -> dict[str, Any]:
    os.environ.update(env)  # the storage connection is read from the environment by name
    from shared.services import Services
    from shared.settings import Settings
    from shared.storage import counting
    from shared.storage.ledger import Ledger
    from shared.storage.pairs import PairStore
    from shared.sweep import reconcile as sweep_module

    # Time request creation and the ledger's per-pair query from the outside (no app changes).
    timings = Timings()
    sweep_module._request_missing = timings.wrap("requestMissing", sweep_module._request_missing)
    sweep_module.request_copy = timings.wrap("requestCopy", sweep_module.request_copy)
    # Per-pair ledger queries (all jobs, or the waiting ones) are partition queries.
    Ledger.for_pair = timings.wrap("ledgerForPair", Ledger.for_pair)  # type: ignore[method-assign]
    PairStore.update_pair = timings.wrap(  # type: ignore[method-assign]
        "rulesUpdatePair", PairStore.update_pair
    )

    services = Services.create(Settings.from_env())
    try:
        await services.ledger.ensure_table()  # table creation is not the sweep's cost
        baseline = psutil.Process().memory_info().rss
        counting.reset()
        cpu_started = time.process_time()
        with RssSampler() as sampler:
            started = time.perf_counter()
            report = await sweep_module.sweep(services, dry_run=dry_run)
            wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        transactions = counting.snapshot()
        timings.active = False  # the probe's own queries are not the sweep's
        probe = await ledger_probe(services, report)
    finally:
        await services.close()
    planned = sum(len(p.plan.copies) for p in report.pairs if p.plan is not None)
    skipped: dict[str, int] = {}
    for pair in report.pairs:
        for skip in pair.plan.skipped if pair.plan is not None else ():
            skipped[skip.reason.value] = skipped.get(skip.reason.value, 0) + 1
    return {
        "dryRun": dry_run,
        "wallSeconds": round(wall, 3),
        "collectionsListed": report.collections_listed,
        "protectedCollections": report.protected_collections,
        "pairs": len(report.pairs),
        "plannedCopies": planned,
        "skipped": skipped,
        "requestedJobs": sum(len(p.requested) for p in report.pairs),
        "pairErrors": sum(len(p.errors) for p in report.pairs),
        "problems": report.problems[:5],
        "timings": timings.report(),
        "cpuSeconds": round(cpu, 2),
        "storageTransactions": sum(transactions.values()),
        "storageTransactionsByKind": dict(sorted(transactions.items())),
        "ledgerProbe": probe,
        "rss": {
            "baselineMB": mb(baseline),
            "peakSampledMB": mb(sampler.peak),
            "deltaMB": mb(sampler.peak - baseline),
            "highWaterMarkMB": mb(high_water_mark_bytes()),
        },
    }


async def ledger_probe(services: Any, report: Any) -> dict[str, Any]:
    """One pair's ledger query, alone (no concurrency), next to a point read: shows whether
    the per-pair query's cost follows the whole table's size rather than the pair's."""
    from shared.model.keys import pair_key

    if not report.pairs:
        return {}
    first = report.pairs[0]
    key = pair_key(first.source_collection_id, first.target_region)
    query: list[float] = []
    jobs: list[Any] = []
    for _ in range(5):
        started = time.perf_counter()
        jobs = await services.ledger.for_pair(key)
        query.append(time.perf_counter() - started)
    point: list[float] = []
    for _ in range(5):
        started = time.perf_counter()
        await services.ledger.get(jobs[0].job_id if jobs else "none")
        point.append(time.perf_counter() - started)
    return {
        "pairJobs": len(jobs),
        "forPairMs": round(statistics.median(query) * 1000, 1),
        "pointReadMs": round(statistics.median(point) * 1000, 1),
    }


def _child(queue: multiprocessing.Queue, env: dict[str, str], dry_run: bool) -> None:
    try:
        queue.put(("ok", asyncio.run(_run_sweep(env, dry_run))))
    except BaseException as exc:  # report it to the parent rather than dying silently
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_phase(env: dict[str, str], dry_run: bool, timeout: float) -> dict[str, Any]:
    """One sweep in a fresh (spawned) process: its peak RSS is the sweep's, nothing else's."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue, env, dry_run), name="sweep")
    child.start()
    try:
        kind, payload = queue.get(timeout=timeout)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()  # by its own handle (PID), never by name
            child.join()
    if kind != "ok":
        raise RuntimeError(f"the sweep failed: {payload}")
    return payload


# ---- a run -------------------------------------------------------------------------------------


def run_once(args: argparse.Namespace) -> dict[str, Any]:
    options = StackOptions(time_scale=args.time_scale, start_hosts=False)
    with (
        tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp,
        running_stack(options) as stack,
    ):
        t0 = time.perf_counter()
        seeded = seed(stack.arm_endpoint, args.collections, args.restore_points)
        seed_seconds = time.perf_counter() - t0
        env = stack.app_settings() | {
            "POLICY_FILE": str(write_policy(Path(tmp))),
            "SWEEP_CONCURRENCY": str(args.concurrency),
        }
        phases: dict[str, Any] = {}
        with httpx.Client(base_url=stack.arm_endpoint, timeout=60, trust_env=False) as control:
            for phase in PHASES:
                control.delete("/_emulator/requests").raise_for_status()
                print(f"  {phase} ...", flush=True)
                result = run_phase(env, phase == "dry-run", args.timeout)
                log = control.get("/_emulator/requests", params={"limit": 1}).json()
                result["armCalls"] = arm_calls(log, result["protectedCollections"])
                phases[phase] = result
            page_size = control.get("/_emulator/config").json()["pageSize"]
        return {
            "seededRestorePoints": seeded,
            "seedSeconds": round(seed_seconds, 2),
            "emulatorPageSize": page_size,
            "phases": phases,
        }


def arm_calls(log: dict[str, Any], collections: int) -> dict[str, Any]:
    counts: dict[str, int] = dict(sorted(log["counts"].items()))
    total = sum(counts.values())
    return {
        "total": total,
        "byOperation": counts,
        "statusByOperation": log["statusCounts"],
        "perProtectedCollection": round(total / collections, 2) if collections else None,
        # The requirement: no GET per restore point (the listing expands them).
        "restorePointGets": counts.get("RestorePoints_Get", 0),
    }


# ---- report ------------------------------------------------------------------------------------


def render_labelled(labelled: dict[str, dict[str, Any]]) -> str:
    """Every labelled measurement (before / after a change) in one file, with a comparison."""
    order = sorted(labelled, key=lambda k: (k != "before", k != "after", k))
    lines = ["# Sweep benchmark", ""]
    if "before" in labelled and "after" in labelled:
        rows = []
        for name, get in (
            ("sweep wall (s)", lambda p: p["sweep"]["wallSeconds"]),
            ("jobs requested", lambda p: p["sweep"]["requestedJobs"]),
            ("storage transactions (sweep)", lambda p: p["sweep"].get("storageTransactions")),
            ("sweep CPU (s)", lambda p: p["sweep"].get("cpuSeconds")),
            ("re-sweep wall (s)", lambda p: p["re-sweep"]["wallSeconds"]),
            ("dry-run wall (s)", lambda p: p["dry-run"]["wallSeconds"]),
        ):
            cells = [
                " / ".join(str(get(run["phases"])) for run in labelled[label]["runs"])
                for label in ("before", "after")
            ]
            rows.append([name, *cells])
        lines += [
            "## Before and after (each run)",
            "",
            f"before: {labelled['before']['date']} (commit "
            f"{labelled['before'].get('commit', '?')}); after: {labelled['after']['date']} "
            f"(commit {labelled['after'].get('commit', '?')})",
            "",
            *table(["measure", "before", "after"], rows),
            "",
        ]
    for label in order:
        lines += [render(labelled[label], title=f"## {label}", level="###").rstrip("\n"), ""]
    return "\n".join(lines) + "\n"


def render(r: dict[str, Any], title: str = "# Sweep benchmark", level: str = "##") -> str:
    lines = [
        title,
        "",
        f"Date: {r['date']}  ",
        f"Commit: {r.get('commit', '?')}  ",
        f"Machine: {machine_line(r['machine'])}  ",
        f"Command: `{r['command']}`  ",
        f"Setup: Azurite + ARM emulator (page size {r['emulatorPageSize']}), no function host; "
        f"{r['collections']} protected source collections x {r['restorePoints']} restore points "
        f"= {r['collections'] * r['restorePoints']} restore points, one policy with one target "
        f"region; `SWEEP_CONCURRENCY={r['concurrency']}`. The sweep runs in-process "
        "(`shared.sweep.reconcile.sweep`), each phase in a fresh child process.",
        "",
    ]
    for index, run in enumerate(r["runs"], 1):
        lines += [f"{level} Run {index} (seeded {run['seededRestorePoints']} restore points in "
                  f"{run['seedSeconds']} s)", ""]  # fmt: skip
        rows = []
        for phase, p in run["phases"].items():
            calls = p["armCalls"]
            ops = ", ".join(f"{op} {n}" for op, n in calls["byOperation"].items())
            missing = p["timings"].get("requestMissing")
            creation = (
                f"{p['requestedJobs']} jobs, span {missing['spanSeconds']} s "
                f"({round(p['requestedJobs'] / missing['spanSeconds'], 1)} jobs/s, "
                f"{missing['spanSeconds'] * 1000 / p['requestedJobs']:.1f} ms each)"
                if missing and missing["spanSeconds"] > 0 and p["requestedJobs"]
                else "-"
            )
            work = (
                f"{p['storageTransactions']} tx, CPU {p['cpuSeconds']} s"
                if "storageTransactions" in p
                else "-"
            )
            for_pair = p["timings"].get("ledgerForPair")
            ledger = (
                f"{for_pair['calls']} x, median {for_pair['seconds']['median'] * 1000:.0f} ms"
                if for_pair
                else "-"
            )
            probe = p.get("ledgerProbe") or {}
            if probe:
                ledger += (
                    f"; alone: {probe['forPairMs']} ms for {probe['pairJobs']} jobs "
                    f"(point read {probe['pointReadMs']} ms)"
                )
            rss = p["rss"]
            rows.append(
                (
                    phase,
                    f"**{p['wallSeconds']} s**",
                    f"{p['plannedCopies']} planned / {p['requestedJobs']} requested",
                    f"**{calls['total']}** ({ops})",
                    calls["perProtectedCollection"],
                    calls["restorePointGets"],
                    f"**{rss['peakSampledMB']} MB** (baseline {rss['baselineMB']}, "
                    f"+{rss['deltaMB']}; HWM {rss['highWaterMarkMB']})",
                    creation,
                    work,
                    ledger,
                )
            )
        lines += table(
            (
                "phase",
                "wall",
                "copies",
                "ARM calls (by operation)",
                "calls / collection",
                "`RestorePoints_Get`",
                "peak RSS",
                "request creation",
                "storage transactions, sweep CPU",
                "ledger `for_pair` query",
            ),
            rows,
        )
        lines.append("")
    lines.append(
        "`RestorePoints_Get` = 0 in every phase: the sweep reads restore points through "
        "`RestorePointCollections_Get?$expand=restorePoints`, so its ARM calls grow with "
        "collections, not restore points."
        if r["restorePointGetsZero"]
        else "**`RestorePoints_Get` was called during a sweep: calls grow with restore points.**"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--collections", type=int, default=100)
    parser.add_argument("--restore-points", type=int, default=50, help="per collection")
    parser.add_argument("--runs", type=int, default=2, help="runs, each on a fresh stack")
    parser.add_argument("--concurrency", type=int, default=8, help="SWEEP_CONCURRENCY")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=600, help="per-phase limit (s)")
    parser.add_argument(
        "--label",
        default="after",
        help="kept beside the file's other labels: 'before' a change, 'after' it (default)",
    )
    args = parser.parse_args(argv)
    if not (1 <= args.collections <= 500 and 1 <= args.restore_points <= 200 and args.runs <= 5):
        parser.error("bounded: --collections 1..500, --restore-points 1..200, --runs 1..5")

    host = machine()  # before the runs: its load average says how busy the machine was
    runs = []
    for index in range(args.runs):
        print(f"sweep run {index + 1}/{args.runs}: {args.collections} x {args.restore_points}")
        runs.append(run_once(args))
    zero = all(
        p["armCalls"]["restorePointGets"] == 0 for run in runs for p in run["phases"].values()
    )
    results = {
        "date": now_iso(),
        "commit": git_commit(),
        "label": args.label,
        "machine": host,
        "command": "python -m benchmarks.bench_sweep",
        "collections": args.collections,
        "restorePoints": args.restore_points,
        "concurrency": args.concurrency,
        "emulatorPageSize": runs[0]["emulatorPageSize"],
        "restorePointGetsZero": zero,
        "runs": runs,
    }
    labelled = load_labelled("sweep-benchmark")
    labelled[args.label] = results
    markdown = render_labelled(labelled)
    write_results("sweep-benchmark", {"labels": labelled}, markdown)
    print(markdown)
    complete = all(
        run["phases"]["sweep"]["requestedJobs"] == args.collections * args.restore_points
        for run in runs
    )
    return 0 if zero and complete else 1


if __name__ == "__main__":
    sys.exit(main())
