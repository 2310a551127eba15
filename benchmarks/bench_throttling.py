"""ARM throttling benchmark: how many concurrent copies one subscription sustains.

    python -m benchmarks.bench_throttling [--copies 25 50 100 200 400] [--poll 2] [--seconds 20]

1. Starts `python -m arm_emulator` with ARM's subscription throttling on (`armThrottling`: token
   buckets per subscription and region, reads 250 at 25/s, writes 200 at 10/s, as documented).
2. For each step of a ladder of N concurrent copies: resets, seeds N VMs (one restore point each,
   disks large enough that replication outlasts the step) and N copy-target collections, then
   runs N copy workers for `--seconds`: each PUTs its copy (a write), then polls the copy's
   `GET ...?$expand=instanceView` (a read) every `--poll` seconds with a random phase - what the
   app's poll stage does, compressed in time. Every 429 is counted; a throttled poll is retried
   after its Retry-After.
3. A step is sustained when no request was throttled. The steady state is set by the refill
   (reads: 25 per second), the first seconds by the bucket (250): N copies polling every P
   seconds need N / P reads per second, so about 25 x P copies are sustained indefinitely.
Results go to benchmarks/results/throttling-benchmark.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from arm_emulator import ids
from arm_emulator.scenarios import DiskSpec, Scenario
from benchmarks.common import machine, machine_line, now_iso, table, write_results
from devstack.processes import free_port, python_module_process

SUB = "00000000-0000-0000-0000-000000000001"
API = "2025-04-01"
AUTH = {"Authorization": "Bearer bench"}
READ_REFILL, READ_BUCKET, WRITE_REFILL, WRITE_BUCKET = 25.0, 250.0, 10.0, 200.0
APP_POLL_SECONDS = 600  # Azure republishes progress every 10 minutes; the app polls about that


def scenario(copies: int) -> Scenario:
    s = Scenario(SUB)
    for i in range(copies):
        s.vm(f"vm{i}", rg="bench", location="eastus", os_disk=DiskSpec(size_gb=1024, used_gb=500))
        s.collection(f"rpc{i}", vm=f"vm{i}")
        s.restore_point("rp1", f"rpc{i}", age_seconds=3600)
        s.collection(f"rpc{i}-dr", source=f"rpc{i}", location="westus")
    return s


def rp_path(collection: str, name: str) -> str:
    return ids.rp_id(ids.rpc_id(SUB, "bench", collection), name)


async def copy_worker(
    client: httpx.AsyncClient,
    i: int,
    poll: float,
    deadline: float,
    stats: dict[str, Any],
    started: float,
) -> None:
    body = {"properties": {"sourceRestorePoint": {"id": rp_path(f"rpc{i}", "rp1")}}}
    target = rp_path(f"rpc{i}-dr", "rp1-copy")

    async def call(method: str, params: dict[str, str], payload: Any = None) -> None:
        while time.monotonic() < deadline:
            r = await client.request(
                method, target, params={"api-version": API, **params}, json=payload, headers=AUTH
            )
            if r.status_code != 429:
                stats["writes" if method == "PUT" else "reads"] += 1  # served
                if r.status_code >= 400 and r.status_code != 409:  # 409: already started
                    stats["errors"] += 1
                return
            stats["throttled"] += 1
            stats["firstThrottleSeconds"] = stats["firstThrottleSeconds"] or round(
                time.monotonic() - started, 2
            )
            await asyncio.sleep(float(r.headers.get("retry-after", "1")))

    await call("PUT", {}, body)
    await asyncio.sleep(random.uniform(0, poll))  # spread the polls' phases
    while time.monotonic() < deadline:
        await call("GET", {"$expand": "instanceView"})
        await asyncio.sleep(poll)


async def run_step(base: str, copies: int, poll: float, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, trust_env=False, limits=limits
    ) as client:
        (await client.post("/_emulator/reset")).raise_for_status()
        (await client.post("/_emulator/seed", json=scenario(copies).to_dict())).raise_for_status()
        stats: dict[str, Any] = {
            "reads": 0,
            "writes": 0,
            "throttled": 0,
            "errors": 0,
            "firstThrottleSeconds": None,
        }
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(copy_worker(client, i, poll, deadline, stats, started) for i in range(copies))
        )
        elapsed = time.monotonic() - started
    demand = copies / poll  # reads per second the workers need once started
    return {
        "copies": copies,
        "seconds": round(elapsed, 2),
        **stats,
        "readsPerSecond": round(stats["reads"] / elapsed, 1),
        "neededReadsPerSecond": round(demand, 1),
        "sustained": stats["throttled"] == 0 and stats["errors"] == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_throttling")
    parser.add_argument("--copies", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between polls per copy")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    args = parser.parse_args(argv)
    port = free_port()
    config = Path(tempfile.gettempdir()) / f"throttle-bench-{port}.json"
    config.write_text(json.dumps({"armThrottling": True, "timeScale": 1}))
    proc = python_module_process(
        "arm-emulator",
        "arm_emulator",
        ["--host", "127.0.0.1", "--port", str(port), "--config", str(config)],
        log_path=Path(tempfile.gettempdir()) / f"throttle-bench-{port}.log",
    )
    proc.start()
    base = f"http://127.0.0.1:{port}"
    steps: list[dict[str, Any]] = []
    try:
        proc.wait_http_ok(f"{base}/_emulator/health", timeout=30)
        for copies in args.copies:
            step = asyncio.run(run_step(base, copies, args.poll, args.seconds))
            print(json.dumps(step), flush=True)
            steps.append(step)
    finally:
        proc.stop()
        config.unlink(missing_ok=True)
    sustained = [s["copies"] for s in steps if s["sustained"]]
    predicted = READ_REFILL * args.poll
    results = {
        "benchmark": "throttling",
        "date": now_iso(),
        "machine": machine(),
        "pollSeconds": args.poll,
        "stepSeconds": args.seconds,
        "buckets": {"reads": [READ_BUCKET, READ_REFILL], "writes": [WRITE_BUCKET, WRITE_REFILL]},
        "steps": steps,
        "largestSustained": max(sustained) if sustained else 0,
        "predictedSteadyState": predicted,
        "predictedAtAppCadence": READ_REFILL * APP_POLL_SECONDS,
    }
    write_results("throttling-benchmark", results, markdown(results))
    return 0


def markdown(r: dict[str, Any]) -> str:
    rows = [
        (
            s["copies"],
            s["neededReadsPerSecond"],
            s["readsPerSecond"],
            s["writes"],
            s["throttled"],
            s["firstThrottleSeconds"] if s["firstThrottleSeconds"] is not None else "-",
            "yes" if s["sustained"] else "no",
        )
        for s in r["steps"]
    ]
    lines = [
        "# ARM throttling benchmark: concurrent copies per subscription",
        "",
        f"Date: {r['date']}  ",
        f"Machine: {machine_line(r['machine'])}  ",
        f"Command: `python -m benchmarks.bench_throttling --poll {r['pollSeconds']} "
        f"--seconds {r['stepSeconds']}`  ",
        "Emulator: `armThrottling` on (reads 250 tokens, 25/s; writes 200, 10/s; per "
        "subscription and region). Each copy: one PUT, then a `GET ?$expand=instanceView` every "
        f"{r['pollSeconds']} s (random phase); a 429 is retried after its Retry-After.",
        "",
        *table(
            [
                "concurrent copies",
                "reads/s needed",
                "reads/s served",
                "copy PUTs",
                "429s",
                "first 429 after (s)",
                "sustained",
            ],
            rows,
        ),
        "",
        f"Largest sustained step: **{r['largestSustained']} copies** polling every "
        f"{r['pollSeconds']} s. Steady state is set by the read refill: 25/s x "
        f"{r['pollSeconds']} s = {r['predictedSteadyState']:.0f} copies; above it the 250-token "
        "bucket carries a burst for a few seconds, then polls are throttled.",
        "",
        f"At the app's cadence (a poll about every {APP_POLL_SECONDS} s, Azure's progress "
        f"interval) one subscription's reads sustain about 25 x {APP_POLL_SECONDS} = "
        f"**{r['predictedAtAppCadence']:.0f} concurrent copies**; starting them is bound by the "
        "writes (10 copy PUTs per second after a burst of 200) and, per target collection, by "
        "Compute's 3 copy PUTs per hour.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
