"""ARM emulator benchmark: throughput of the hot read and memory for 10,000 restore points.

    python -m benchmarks.bench_emulator [--requests 30000] [--seconds 20] [--connections 8]

1. Starts `python -m arm_emulator` on a free loopback port, pinned to one core (CPU 0).
2. Throughput: a separate load process (pinned to another core when there is one) sends
   `GET {restorePoint}?$expand=instanceView` over keep-alive connections, round-robin over copies
   whose replication is in progress (the instance view is recomputed as the clock ticks).
   Bounded by a request count and a time limit. Target: >= 1,000 requests/s.
3. Memory: resets, seeds 20 VMs x 500 restore points (3 disks each) = 10,000 restore points, and
   reads the emulator's RSS. Target: < 200 MB.
Results go to benchmarks/results/emulator-benchmark.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing import Process, Queue
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from arm_emulator import ids  # noqa: E402
from arm_emulator.scenarios import DiskSpec, Scenario  # noqa: E402
from devstack.processes import free_port, python_module_process  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SUB = "00000000-0000-0000-0000-000000000001"
API = "2025-04-01"
THROUGHPUT_TARGET = 1000.0
MEMORY_TARGET_MB = 200.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rpc_base(rg: str) -> str:
    return ids.rpc_id(SUB, rg, "x").rsplit("/", 1)[0]


def throughput_scenario(copies: int) -> dict[str, Any]:
    s = Scenario(SUB).vm(
        "vm1",
        rg="bench",
        location="eastus",
        os_disk=DiskSpec(size_gb=128, used_gb=60),
        data_disks=[
            DiskSpec(lun=0, size_gb=512, used_gb=300),
            DiskSpec(lun=1, size_gb=256, used_gb=90),
        ],
    )
    s.collection("rpc1", vm="vm1")
    for i in range(copies):
        s.restore_point(f"rp{i}", "rpc1", age_seconds=(copies - i) * 3600)
    s.collection("rpc1-dr", source="rpc1", location="westus")
    for i in range(copies):
        s.copy(
            f"rp{i}-copy", "rpc1-dr", f"{rpc_base('bench')}/rpc1/restorePoints/rp{i}", "inProgress"
        )
    return s.to_dict()


def memory_scenario(vm_index: int, per_vm: int) -> dict[str, Any]:
    name = f"vm{vm_index}"
    s = Scenario(SUB).vm(
        name,
        rg="mem",
        location="eastus",
        os_disk=DiskSpec(size_gb=128, used_gb=30),
        data_disks=[DiskSpec(lun=0, size_gb=256), DiskSpec(lun=1, size_gb=64)],
    )
    s.collection(f"rpc-{name}", vm=name)
    for i in range(per_vm):
        s.restore_point(f"rp{i:04d}", f"rpc-{name}", age_seconds=(per_vm - i) * 60)
    return s.to_dict()


# ---- load generator (runs in its own process) ---------------------------------------------


async def _load(
    port: int, paths: list[str], total: int, seconds: float, connections: int, depth: int
) -> dict[str, Any]:
    requests = [
        (
            f"GET {p}?api-version={API}&$expand=instanceView HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Authorization: Bearer bench\r\n\r\n"
        ).encode()
        for p in paths
    ]
    counter = {"sent": 0, "ok": 0, "bad": 0}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(offset: int) -> None:
        # Keep-alive with a small pipeline (`depth` requests in flight per connection) and
        # buffer-level parsing, so the load generator is not the bottleneck.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        buffer = b""
        while counter["sent"] < total and time.monotonic() < deadline:
            batch = min(depth, total - counter["sent"])
            counter["sent"] += batch
            sent_at = time.perf_counter()
            writer.write(b"".join(requests[(i + k) % len(requests)] for k in range(batch)))
            i += batch
            done = 0
            while done < batch:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    buffer += await reader.read(262144)
                    continue
                head = buffer[:end]
                start = head.lower().find(b"content-length:")
                length = int(head[start + 15 : head.find(b"\r\n", start)]) if start >= 0 else 0
                while len(buffer) < end + 4 + length:
                    buffer += await reader.read(262144)
                buffer = buffer[end + 4 + length :]
                done += 1
                latencies.append(time.perf_counter() - sent_at)
                if head.startswith(b"HTTP/1.1 200"):
                    counter["ok"] += 1
                else:
                    counter["bad"] += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": counter["ok"] + counter["bad"],
        "ok": counter["ok"],
        "errors": counter["bad"],
        "seconds": round(elapsed, 3),
        "requestsPerSecond": round((counter["ok"] + counter["bad"]) / elapsed, 1),
        "latencyMs": {
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
            "max": round(latencies[-1] * 1000, 2),
        },
    }


def _load_process(queue: Queue, cpu: int | None, *args: Any) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    queue.put(asyncio.run(_load(*args)))


# ---- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=30000, help="request budget (default 30000)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit (default 20 s)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--copies", type=int, default=50, help="copies read round-robin")
    parser.add_argument("--pipeline", type=int, default=4, help="requests in flight per connection")
    args = parser.parse_args(argv)

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu = cpus[0] if cpus else None
    load_cpu = cpus[1] if len(cpus) > 1 else None
    port = free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = Path(tempfile.gettempdir()) / f"emulator-bench-{port}.log"
    proc = python_module_process(
        "arm-emulator",
        "arm_emulator",
        ["--host", "127.0.0.1", "--port", str(port), "--time-scale", "60"],
        log_path=log_path,
    )
    started = time.monotonic()
    proc.start()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        proc.wait_http_ok(f"{base}/_emulator/health", timeout=30)
        startup = time.monotonic() - started
        emulator = psutil.Process(proc.pid)
        if server_cpu is not None:
            emulator.cpu_affinity([server_cpu])  # one core for the emulator
        with httpx.Client(base_url=base, timeout=120, trust_env=False) as client:
            client.post("/_emulator/seed", json=throughput_scenario(args.copies)).raise_for_status()
            paths = [
                f"{rpc_base('bench')}/rpc1-dr/restorePoints/rp{i}-copy" for i in range(args.copies)
            ]
            queue: Queue = Queue()
            loader = Process(
                target=_load_process,
                args=(
                    queue,
                    load_cpu,
                    port,
                    paths,
                    args.requests,
                    args.seconds,
                    args.connections,
                    args.pipeline,
                ),
            )
            cpu_before = emulator.cpu_times()
            loader.start()
            throughput = queue.get(timeout=args.seconds + 60)
            loader.join(timeout=30)
            cpu_after = emulator.cpu_times()
            busy = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
            throughput["emulatorCpuSeconds"] = round(busy, 2)
            throughput["emulatorCpuUtilisation"] = round(busy / throughput["seconds"], 2)

            client.post("/_emulator/reset").raise_for_status()
            rss_empty = emulator.memory_info().rss
            per_vm, vms = 500, 20
            t0 = time.monotonic()
            for v in range(vms):
                client.post("/_emulator/seed", json=memory_scenario(v, per_vm)).raise_for_status()
            seed_seconds = time.monotonic() - t0
            health = client.get("/_emulator/health").json()
            probe = client.get(
                f"{rpc_base('mem')}/rpc-vm7/restorePoints/rp0123",
                params={"api-version": API, "$expand": "instanceView"},
                headers={"Authorization": "Bearer bench"},
            )
            rss_full = emulator.memory_info().rss
        memory = {
            "restorePoints": health["resources"]["restorePoints"],
            "diskRestorePoints": health["resources"]["restorePoints"] * 3,
            "rssEmptyMB": round(rss_empty / 2**20, 1),
            "rssMB": round(rss_full / 2**20, 1),
            "deltaMB": round((rss_full - rss_empty) / 2**20, 1),
            "seedSeconds": round(seed_seconds, 2),
            "probeStatus": probe.status_code,
        }
        results = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "emulatorPinnedToCpu": server_cpu,
                "loadPinnedToCpu": load_cpu,
            },
            "startupSeconds": round(startup, 2),
            "throughput": {
                "request": "GET restorePoint?$expand=instanceView "
                "(copies replicating, time scale 60)",
                "connections": args.connections,
                "pipelineDepth": args.pipeline,
                **throughput,
                "target": THROUGHPUT_TARGET,
                "pass": throughput["requestsPerSecond"] >= THROUGHPUT_TARGET
                and throughput["errors"] == 0,
            },
            "memory": {
                **memory,
                "targetMB": MEMORY_TARGET_MB,
                "pass": memory["rssMB"] < MEMORY_TARGET_MB and memory["restorePoints"] >= 10000,
            },
        }
    finally:
        proc.stop()
    (RESULTS / "emulator-benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "emulator-benchmark.md").write_text(render(results))
    print(render(results))
    return 0 if results["throughput"]["pass"] and results["memory"]["pass"] else 1


def render(r: dict[str, Any]) -> str:
    t, m, mach = r["throughput"], r["memory"], r["machine"]
    lat = t["latencyMs"]
    rows = [
        ("`python -m arm_emulator` start to first answer", f"{r['startupSeconds']} s", "< 2 s",
         r["startupSeconds"] < 2),
        (t["request"],
         f"**{t['requestsPerSecond']} req/s** ({t['requests']} requests in {t['seconds']} s, "
         f"{t['connections']} keep-alive connections x {t['pipelineDepth']} in flight, "
         f"{t['errors']} errors)",
         f">= {t['target']:.0f} req/s", t["pass"]),
        ("latency p50 / p99 / max", f"{lat['p50']} / {lat['p99']} / {lat['max']} ms", "", ""),
        ("emulator CPU during the run", f"{t['emulatorCpuUtilisation']} of one core", "", ""),
        (f"RSS with {m['restorePoints']} restore points ({m['diskRestorePoints']} disk restore "
         "points)",
         f"**{m['rssMB']} MB** (empty: {m['rssEmptyMB']} MB, delta {m['deltaMB']} MB; seeded in "
         f"{m['seedSeconds']} s)",
         f"< {m['targetMB']:.0f} MB", m["pass"]),
    ]  # fmt: skip
    lines = [
        "# ARM emulator benchmark",
        "",
        f"Date: {r['date']}  ",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, Python {mach['python']} "
        f"({mach['platform']})  ",
        f"Emulator pinned to CPU {mach['emulatorPinnedToCpu']}; load generator on CPU "
        f"{mach['loadPinnedToCpu']}.  ",
        "Command: `python -m benchmarks.bench_emulator`",
        "",
        "| measure | result | target | pass |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
