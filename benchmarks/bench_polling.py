"""Poll schedule benchmark: ARM reads per copy and detection lag, copy lengths 10 min to 3 days.

    python -m benchmarks.bench_polling [--copies 100] [--seed 1] [--jitter 0] [--disks 2]
                                       [--lag-target S]

No services and no real time: every copy is simulated against the emulator's replication model
(`arm_emulator.replication` with `progressPhase: random`, so each copy's publishes fall at a
phase the app cannot know, drawn from the seed) on a simulated clock. Three pollers watch the
same copies:

- **app**: the real poll stage, `shared.jobs.stages.poll.run`, with the production settings
  (`PollSettings()`). Its ARM client is replaced by one that renders the emulator's own instance
  view body (`arm_emulator.rp_bodies.instance_view`) at the simulated time, so the stage parses,
  assesses, learns and schedules exactly as deployed. Each delay it returns is the next poll;
  the message it re-sends (with the observations it carries) is the next delivery's input.
- **fixed 30 s** and **fixed 10 min**: a hand script's loop reading the same model.

Every poller's first read is 60 s after the copy PUT (the app's `POLL_INITIAL_SECONDS`);
replication starts when the copy's LRO ends (`copyLroSeconds`, 6 s). Each copy has two disks:
the copy length is the larger one's transfer time, the other takes 10-100 % of it (`--disks 1`:
one disk, the hardest case for learning the phase). `--jitter S` moves each publish by up to S
seconds (seeded): the schedule must absorb it or fall back to its backoff (counted per length).
Detection lag = the read that first sees the copy succeeded minus the publish that made it so.
`--lag-target S` runs the app with `POLL_LAG_TARGET_SECONDS=S` (the reads a longer lag buys).
`--phase-known` tells the app each copy's publish phase after its first read (as an API that
reported its publish times would): what learning the phase costs, not a real setting.
Results: benchmarks/results/polling-benchmark[-jitterS][-1disk][-lagS][-phaseknown].{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from arm_emulator import replication, rp_bodies
from arm_emulator.config import EmulatorConfig
from arm_emulator.store import RestorePoint
from benchmarks.common import machine, machine_line, now_iso, percentile, table, write_results
from shared.arm.operations import ArmOperation
from shared.jobs.stages import poll
from shared.jobs.stages.step import Result, Send
from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage, Stage, Trigger
from shared.rules import poll_phases
from shared.services import Services
from shared.settings import Settings

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
LENGTHS = (10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY)
FIRST_POLL = 60.0
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
API = "2025-04-01"
SUB = "00000000-0000-0000-0000-0000000000b1"
# Targets of the issue, for every length up to 3 days (app schedule).
MAX_MEDIAN_READS, MAX_MEDIAN_LAG, MAX_P95_LAG = 12, 60.0, 120.0
# ARM's documented read limits per subscription (shared/reference/arm-contract.md §6).
READS_PER_HOUR_BEFORE_2024 = 12_000
READS_PER_HOUR_BUCKET = 25 * 3600  # refill 25/s since 2024
FLEET_VMS = 5_000


@dataclass
class SimDisk:
    id: str
    duration: float
    fail_after: float | None = None


@dataclass
class SimCopy:
    """The attributes of an emulator restore point its replication model reads."""

    id: str
    disks: list[SimDisk]
    replication_start: float
    provisioning_state: str = "Succeeded"
    forced_replication: str | None = None
    replicates: bool = True
    operation: Any = None

    def done_at(self, cfg: EmulatorConfig) -> float:
        """The publish at which the copy shows succeeded (from the model's own ticks)."""
        ticks = replication.Ticks(cast(RestorePoint, self), self.replication_start, cfg)
        return max(ticks.at_or_after(self.replication_start + d.duration) for d in self.disks)


def succeeded(copy: SimCopy, now: float, cfg: EmulatorConfig) -> bool:
    rp = cast(RestorePoint, copy)
    return replication.view(rp, now, cfg).overall == replication.SUCCEEDED


@dataclass
class SimArm:
    """Stands in for the app's ArmClient: renders the emulator's instance view body."""

    copy: SimCopy
    cfg: EmulatorConfig
    clock: list[float]
    reads: int = 0
    operations: list[str] = field(default_factory=list)

    async def get_or_none(
        self, resource_id: str, *, operation: ArmOperation, **_: Any
    ) -> dict[str, Any]:
        self.reads += 1
        self.operations.append(operation.value)
        view = rp_bodies.instance_view(
            cast(RestorePoint, self.copy), self.clock[0], self.cfg, api_version=API
        )
        return {
            "id": resource_id,
            "properties": {"provisioningState": "Succeeded", "instanceView": view},
        }


def make_copy(index: int, length: float, rng: random.Random, disks: int = 2) -> SimCopy:
    rp_id = (
        f"/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.Compute/"
        f"restorePointCollections/rpc-{int(length)}/restorePoints/rp{index:04d}"
    )
    data = SimDisk(f"{rp_id}/diskRestorePoints/data", length)
    os_disk = SimDisk(f"{rp_id}/diskRestorePoints/os", length * rng.uniform(0.1, 1.0))
    return SimCopy(rp_id, [os_disk, data] if disks > 1 else [data], replication_start=0.0)


def job_message(copy: SimCopy, settings: Settings) -> tuple[JobMessage, JobRecord]:
    started = EPOCH - timedelta(seconds=6.0)  # the copy PUT; replication starts 6 s later
    message = JobMessage(
        job_id="0" * 32,
        stage=Stage.POLL,
        source_restore_point_id=copy.id.replace("rpc-", "src-"),
        target_region="westus",
        target_resource_group="rg-bench",
        target_collection_name="rpc",
        target_restore_point_name="rp",
        correlation_id="bench",
        trigger=Trigger.HTTP,
        requested_at=started,
        started_at=started,
    )
    record = JobRecord(
        job_id=message.job_id,
        run=1,
        state=JobState.REPLICATING,
        source_restore_point_id=message.source_restore_point_id,
        source_collection_id="",
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-bench",
        target_collection_name="rpc",
        target_restore_point_name="rp",
        trigger=Trigger.HTTP,
        correlation_id="bench",
        requested_at=started,
        updated_at=started,
        started_at=started,
        target_restore_point_id=copy.id,
    )
    return message, record


async def app_poller(
    copy: SimCopy, cfg: EmulatorConfig, settings: Settings, phase_known: bool = False
) -> tuple[int, float, bool]:
    """Drive the real poll stage until it finishes; (reads, detection lag, fell back)."""
    clock = [FIRST_POLL - 6.0]  # simulated seconds since replication started
    arm = SimArm(copy, cfg, clock)
    services = SimpleNamespace(
        settings=settings, arm=arm, clock=lambda: EPOCH + timedelta(seconds=clock[0])
    )
    message, record = job_message(copy, settings)
    while True:
        result = await poll.run(cast(Services, services), message, record)
        if result.result is not Result.WAITING:
            if result.changes.get("state") is not None or "replication_done_at" in result.changes:
                break
            raise RuntimeError(f"copy {copy.id} ended as {result.result}: {result.changes}")
        sent = next(o for o in result.out if isinstance(o, Send))
        message = message.model_copy(update=dict(sent.changes))
        if phase_known and arm.reads == 1:
            message = told_the_phase(message, copy, cfg, clock[0], settings)
        clock[0] += sent.delay_seconds
        if clock[0] > copy.done_at(cfg) + 2 * DAY:
            raise RuntimeError(f"copy {copy.id}: the app never saw it succeed")
    return arm.reads, clock[0] - copy.done_at(cfg), message.poll.rhythm_broken


def told_the_phase(
    message: JobMessage, copy: SimCopy, cfg: EmulatorConfig, first_read: float, settings: Settings
) -> JobMessage:
    """The poll state with the copy's true publish window (on the state's axis, which starts at
    the first read), as narrow as the schedule's own tolerance."""
    interval = settings.poll.progress_granularity_seconds
    ticks = replication.Ticks(cast(RestorePoint, copy), copy.replication_start, cfg)
    offset = (ticks.at(1) - first_read) % interval
    slack = poll_phases.tolerance(interval)
    window = {"publish_after": offset - slack, "publish_by": offset + slack}
    return message.model_copy(update={"poll": message.poll.model_copy(update=window)})


def fixed_poller(copy: SimCopy, cfg: EmulatorConfig, every: float) -> tuple[int, float]:
    now, reads = FIRST_POLL - 6.0, 0
    while True:
        reads += 1
        if succeeded(copy, now, cfg):
            return reads, now - copy.done_at(cfg)
        now += every


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "p95": round(percentile(values, 95), 1),
        "max": round(max(values), 1),
    }


def app_settings(lag_target: float | None) -> Settings:
    """The production defaults, with `POLL_LAG_TARGET_SECONDS` if given."""
    settings = Settings()
    if lag_target is None:
        return settings
    return replace(settings, poll=replace(settings.poll, lag_target_seconds=lag_target))


def run_length(
    length: float,
    copies: int,
    cfg: EmulatorConfig,
    seed: int,
    disks: int,
    lag_target: float | None = None,
    phase_known: bool = False,
) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{length}")
    settings = app_settings(lag_target)
    pollers: dict[str, list[tuple[int, float]]] = {"app": [], "fixed 30 s": [], "fixed 10 min": []}
    fell_back = 0
    for index in range(copies):
        copy = make_copy(index, length, rng, disks)
        reads, lag, broken = asyncio.run(app_poller(copy, cfg, settings, phase_known))
        pollers["app"].append((reads, lag))
        fell_back += broken
        pollers["fixed 30 s"].append(fixed_poller(copy, cfg, 30.0))
        pollers["fixed 10 min"].append(fixed_poller(copy, cfg, 600.0))
    # Copies whose observations stopped fitting a rhythm: polled by the backoff from then on.
    out: dict[str, Any] = {"lengthSeconds": length, "copies": copies, "appFellBack": fell_back}
    for name, runs in pollers.items():
        reads = [float(r) for r, _ in runs]
        lags = [lag for _, lag in runs]
        if min(lags) < 0:
            raise RuntimeError(f"{name}: a read saw success before it was published")
        out[name] = {"reads": stats(reads), "lagSeconds": stats(lags)}
    return out


def meets(row: dict[str, Any]) -> bool:
    app = row["app"]
    return (
        app["reads"]["median"] <= MAX_MEDIAN_READS
        and app["lagSeconds"]["median"] <= MAX_MEDIAN_LAG
        and app["lagSeconds"]["p95"] <= MAX_P95_LAG
    )


def label(seconds: float) -> str:
    if seconds < HOUR:
        return f"{seconds / MINUTE:.0f} min"
    if seconds < DAY:
        return f"{seconds / HOUR:.0f} h"
    return f"{seconds / DAY:.0f} d"


def at_scale(row: dict[str, Any], poller: str) -> int:
    """Reads per hour for FLEET_VMS VMs with hourly restore points: each VM copies one restore
    point per hour, or back to back if a copy takes longer (one in flight per VM and region)."""
    copies_per_hour = FLEET_VMS * min(1.0, HOUR / (row["lengthSeconds"] + FIRST_POLL))
    return round(copies_per_hour * row[poller]["reads"]["median"])


def markdown(results: dict[str, Any]) -> str:
    rows = results["lengths"]
    names = ("app", "fixed 30 s", "fixed 10 min")
    header = ["copy length"] + [f"{n}: reads median / p95" for n in names]
    header += [f"{n}: lag median / p95" for n in names]
    header += ["app fell back to the backoff", "app meets the targets"]
    body = []
    for row in rows:
        cells = [label(row["lengthSeconds"])]
        cells += [f"{row[n]['reads']['median']:g} / {row[n]['reads']['p95']:g}" for n in names]
        cells += [
            f"{row[n]['lagSeconds']['median']:g} / {row[n]['lagSeconds']['p95']:g} s" for n in names
        ]
        cells.append(f"{row['appFellBack']} of {row['copies']}")
        cells.append("yes" if meets(row) else "**no**")
        body.append(cells)
    scale_header = ["copy length"] + [f"{n}: reads/hour" for n in names]
    scale = [[label(r["lengthSeconds"])] + [f"{at_scale(r, n):,}" for n in names] for r in rows]
    verdict = "met" if results["targetsMet"] else "NOT met"
    lines = [
        "# Poll schedule benchmark",
        "",
        f"Date: {results['date']}  ",
        f"Machine: {machine_line(results['machine'])}  ",
        f"Command: `{results['command']}` ({results['wallSeconds']} s)  ",
        f"Setup: {results['setup']}",
        "",
        f"Targets (app, every length): median reads <= {MAX_MEDIAN_READS}, median lag <= "
        f"{MAX_MEDIAN_LAG:g} s, p95 lag <= {MAX_P95_LAG:g} s: **{verdict}**"
        + (f" (missed: {', '.join(results['missed'])})" if results["missed"] else "")
        + ".",
        "",
        *table(header, body),
        "",
        f"## At scale: {FLEET_VMS:,} VMs with hourly restore points",
        "",
        "Instance-view reads per hour (each VM copies a restore point an hour, or back to back "
        "when a copy takes longer), against ARM's documented read limits per subscription: "
        f"{READS_PER_HOUR_BEFORE_2024:,} an hour before 2024, {READS_PER_HOUR_BUCKET:,} an hour "
        "(25/s refill) since.",
        "",
        *table(scale_header, scale),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_polling")
    parser.add_argument("--copies", type=int, default=100, help="copies per length (>= 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jitter", type=float, default=0.0, help="publish jitter, seconds")
    parser.add_argument("--lengths", type=float, nargs="+", help="copy lengths, seconds")
    parser.add_argument("--disks", type=int, choices=(1, 2), default=2, help="disks per copy")
    parser.add_argument(
        "--lag-target", type=float, help="the app's POLL_LAG_TARGET_SECONDS (default: its own)"
    )
    parser.add_argument(
        "--phase-known", action="store_true", help="tell the app each copy's publish phase"
    )
    args = parser.parse_args(argv)
    copies = max(1, min(args.copies, 2000))
    cfg = EmulatorConfig(
        seed=args.seed, progress_phase="random", progress_jitter_seconds=args.jitter
    )
    started = time.monotonic()
    rows = []
    for length in args.lengths or LENGTHS:
        row = run_length(
            length, copies, cfg, args.seed, args.disks, args.lag_target, args.phase_known
        )
        app = row["app"]
        print(
            f"{label(length):>7}: app reads {app['reads']} lag {app['lagSeconds']}; "
            f"30 s reads {row['fixed 30 s']['reads']['median']}, "
            f"10 min lag {row['fixed 10 min']['lagSeconds']}",
            flush=True,
        )
        rows.append(row)
    missed = [label(r["lengthSeconds"]) for r in rows if not meets(r)]
    command = "python -m benchmarks.bench_polling" + (f" {' '.join(argv)}" if argv else "")
    results = {
        "benchmark": "polling",
        "date": now_iso(),
        "machine": machine(),
        "command": command,
        "wallSeconds": round(time.monotonic() - started, 1),
        "setup": (
            f"{copies} copies per length, emulator replication model with progressPhase "
            f"random (seed {args.seed}), progressIntervalSeconds "
            f"{cfg.progress_interval_seconds:g}, progressJitterSeconds {args.jitter:g}; "
            + (
                "two disks per copy (the other 10-100 % of the length)"
                if args.disks > 1
                else "one disk per copy"
            )
            + "; app = the poll stage with "
            "PollSettings() defaults"
            + (f" but POLL_LAG_TARGET_SECONDS={args.lag_target:g}" if args.lag_target else "")
            + (", told each copy's publish phase after its first read" if args.phase_known else "")
            + "; first read 60 s after the copy PUT; simulated clock"
        ),
        "settings": vars(app_settings(args.lag_target).poll),
        "lengths": rows,
        "targetsMet": not missed,
        "missed": missed,
    }
    name = (
        "polling-benchmark"
        + (f"-jitter{args.jitter:g}" if args.jitter else "")
        + ("-1disk" if args.disks == 1 else "")
        + (f"-lag{args.lag_target:g}" if args.lag_target else "")
        + ("-phaseknown" if args.phase_known else "")
    )
    if args.lengths or copies != args.copies:
        name += "-custom"
    json_path, md_path = write_results(name, results, markdown(results))
    print(f"results: {json_path} {md_path}")
    return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
