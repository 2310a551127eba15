"""ARM outage drill: every ARM call fails (503 or a dropped connection) for a while, real seconds.

    python -m drills outage [--durations 30 300] [--profile production|fast] [--seed 1]

For each duration, on a fresh stack (two local hosts): copies are requested (HTTP for manual
VMs, the sweep and Event Grid for protected ones) and left to get under way; then every ARM
request is answered 503 or has its connection dropped (half each, seeded) for the duration.
During the outage new restore points are made (their Event Grid deliveries fail, since the app
cannot read them, and are retried until the emulator gives up), new copies are asked for over
HTTP (the API must answer 503 with Retry-After, never 500) and the sweep runs. When ARM is back,
the client asks again for what was refused and the sweep runs on its timer. Every copy must
finish afterwards: Succeeded (or Superseded by a newer one), none Failed, none stuck, plus every
invariant of `drills.checks`.

Profiles: `production` keeps the app's deployed retry settings (stage retries from 5 s,
doubling, 6 attempts; re-runs after 600 s, 4 runs); only the poll schedule and the copy-PUT
budget window are compressed to the sped-up replication. `fast` is the test suite's settings
(`devstack.stack.FAST_APP_SETTINGS`: 1 s retries, 2 runs), which `make test` uses for the
30-second outage.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from arm_emulator.control import EmulatorControl
from devstack.console import interrupt_on_signals
from drills import report
from drills.checks import Verdict, check_arm, check_jobs, check_queues
from drills.observe import (
    EventCollector,
    emulator_json,
    host_log_counts,
    settle_requests,
    wait_queues_drained,
)
from drills.stack import Api, drill_stack, server_errors
from drills.world import (
    copy_request,
    create_restore_points,
    request_seeded,
    seed_world,
    wait_all_terminal,
)

PROFILES: dict[str, dict[str, str]] = {
    # The deployed defaults of everything that decides how an outage is ridden out.
    "production": {
        "STAGE_RETRY_BASE_SECONDS": "5",
        "STAGE_MAX_ATTEMPTS": "6",
        "ARM_MAX_ATTEMPTS": "5",
        "ARM_MAX_INLINE_WAIT_SECONDS": "30",
        "ARM_TIMEOUT_SECONDS": "30",
        "RERUN_MAX_RUNS": "4",
        "RERUN_BACKOFF_SECONDS": "600",
        "RERUN_MAX_BACKOFF_SECONDS": "21600",
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:30",
    },
    "fast": {},
}

# Replication that takes a few seconds, so some copies are mid-replication when ARM goes away.
EMULATOR_CONFIG = {"replicationBandwidthMbps": 400}


def outage_faults() -> list[dict[str, Any]]:
    """Every ARM request: half have their connection dropped, the rest get 503."""
    return [
        {"operation": "*", "kind": "drop", "phase": "before", "rate": 0.5},
        {"operation": "*", "kind": "http", "status": 503},
    ]


@dataclass
class OutageOptions:
    durations: list[float] = field(default_factory=lambda: [30.0, 300.0])
    profile: str = "production"
    policy_vms: int = 4
    manual_vms: int = 4
    seeded: int = 2
    hosts: int = 2
    seed: int = 1
    timeout: float = 1800.0
    sweep_every: float = 15.0
    workdir: Path | None = None


def run_once(options: OutageOptions, duration: float) -> dict[str, Any]:
    started = time.monotonic()
    settings = dict(PROFILES[options.profile])
    workdir = options.workdir / f"outage-{duration:g}s" if options.workdir else None
    with (
        drill_stack(
            hosts=options.hosts,
            app_settings=settings,
            emulator_config=EMULATOR_CONFIG,
            workdir=workdir,
            seed=options.seed,
        ) as stack,
        EventCollector(stack.storage_connection) as collector,
        EmulatorControl(stack.arm_endpoint) as control,
    ):
        world = seed_world(
            stack.arm_endpoint,
            policy_vms=options.policy_vms,
            manual_vms=options.manual_vms,
            seeded_per_vm=options.seeded,
            data_disks=1,
        )
        api = Api(stack)
        posted = request_seeded(api, world)
        api.sweep()
        create_restore_points(stack, world, 1, tag="before")
        time.sleep(2)  # let copies get under way: some start, some replicate, some wait
        in_flight = Counter(j["state"] for j in api.all_jobs())

        control.set_faults(outage_faults())
        outage_started = time.monotonic()
        during: Counter[str] = Counter()
        refused: list[dict[str, str]] = []
        created = create_restore_points(stack, world, 1, tag="during")
        for collection in world.manual_collections:
            rp = world.seeded[collection][-1]
            name = rp.rsplit("/", 1)[0] + "/missing-during-outage"
            for body in copy_request(world, collection, name)[:1]:
                response = api.post_copy(body, retry_unavailable=False)
                during[
                    f"{response.status_code} retry-after={'Retry-After' in response.headers}"
                ] += 1
        for collection in world.manual_collections:  # a new copy of a restore point that exists
            for body in copy_request(world, collection, world.seeded[collection][0]):
                body = {**body, "targetRegion": "northeurope"}
                response = api.post_copy(body, retry_unavailable=False)
                during[
                    f"{response.status_code} retry-after={'Retry-After' in response.headers}"
                ] += 1
                if response.status_code == 503:
                    refused.append(body)
        sweeps = Counter[str]()
        while time.monotonic() - outage_started < duration:
            sweeps[str(api.sweep())] += 1
            time.sleep(
                min(options.sweep_every, max(0.0, duration - (time.monotonic() - outage_started)))
            )
        control.clear_faults()
        outage_seconds = round(time.monotonic() - outage_started, 1)
        arm_during = emulator_json(stack.arm_endpoint, "/_emulator/requests", limit=1)["total"]

        ended = time.monotonic()
        retried = Counter(str(api.post_copy(body).status_code) for body in refused)
        all_done, jobs = wait_all_terminal(
            api,
            options.timeout,
            minimum=len(posted["accepted"]) + len(refused),
            sweep_every=options.sweep_every,
        )
        recovery = round(time.monotonic() - ended, 1)
        drained, depths, waited = wait_queues_drained(stack.storage_connection, timeout=120)
        settle_requests(stack.arm_endpoint)
        events = collector.drain_now()
        verdict = Verdict()
        verdict.merge(check_jobs(jobs, events))
        verdict.merge(check_arm(stack.arm_endpoint, jobs))
        verdict.merge(check_queues(drained, depths, waited))
        verdict.add(
            "every copy finishes afterwards (none Failed)",
            [
                f"{j['id']} {j['state']}: {(j.get('error') or {}).get('code')} "
                f"{(j.get('error') or {}).get('message', '')[:160]}"
                for j in jobs
                if j["state"] not in ("Succeeded", "Superseded")
            ],
        )
        verdict.add(
            "no 5xx from the API but 503",
            [f"{k}: {n}" for k, n in server_errors(api.answers).items()],
        )
        verdict.add(
            "503 with Retry-After while ARM is out",
            [
                f"{k}: {n}"
                for k, n in during.items()
                if not k.startswith(("503 retry-after=True", "422", "404"))
            ],
        )
        newest = {c: world.restore_points(c)[-1].lower() for c in world.policy_collections}
        copied = {
            (j["sourceRestorePointId"].lower(), j["targetRegion"])
            for j in jobs
            if j["state"] == "Succeeded"
        }
        verdict.add(
            "nothing lost: the newest restore point of each protected VM copied",
            [
                f"{rp} not copied to {region}"
                for rp in newest.values()
                for region in ("westus", "northeurope")
                if (rp, region) not in copied
            ],
        )
        deliveries = emulator_json(stack.arm_endpoint, "/_emulator/events")["deliveries"]
        verdict.figures.update(
            {
                "outageSeconds": outage_seconds,
                "jobStatesWhenArmWentAway": dict(in_flight),
                "httpDuringOutage": dict(during),
                "retriedAfterOutage": dict(retried),
                "restorePointsCreatedDuringOutage": created,
                "sweepsDuringOutage": dict(sweeps),
                "armRequestsUntilOutageEnd": arm_during,
                "secondsFromOutageEndToAllTerminal": recovery,
                "allTerminalBeforeDeadline": all_done,
                "eventGridDeliveries": dict(Counter(d["status"] for d in deliveries)),
                "failureReasons": dict(
                    Counter((j.get("error") or {}).get("code") for j in jobs if j.get("error"))
                ),
                "httpAnswers": dict(api.answers),
                "hostLogs": host_log_counts(stack.workdir),
            }
        )
        api.close()
    result = verdict.to_json()
    result["durationSeconds"] = duration
    result["wallSeconds"] = round(time.monotonic() - started, 1)
    return result


def run(options: OutageOptions) -> dict[str, Any]:
    started = time.monotonic()
    runs = [run_once(options, duration) for duration in options.durations]
    violations: dict[str, list[str]] = {}
    for one in runs:
        for check, problems in one["violations"].items():
            violations[f"{one['durationSeconds']:g} s: {check}"] = problems
    return {
        "ok": all(r["ok"] for r in runs),
        "violations": violations,
        "violationCounts": {k: len(v) for k, v in violations.items()},
        "options": {k: v for k, v in asdict(options).items() if k != "workdir"},
        "appSettings": PROFILES[options.profile],
        "faults": outage_faults(),
        "runs": runs,
        "wallSeconds": round(time.monotonic() - started, 1),
    }


def render(result: dict[str, Any], record: dict[str, Any]) -> str:
    what = (
        f"Profile `{result['options']['profile']}` (app settings that differ from the test "
        f"suite's: {result['appSettings'] or 'none'}). For each duration a fresh stack (two "
        "hosts); every ARM request is dropped (half, seeded) or answered 503 for that long. See "
        "`drills/outage.py` and docs/drills.md."
    )
    runs = result["runs"]
    head = ["measure", *(f"{r['durationSeconds']:g} s outage" for r in runs)]

    def row(name: str, get: Any) -> list[Any]:
        return [name, *(get(r) for r in runs)]

    rows = [
        row("outage (measured)", lambda r: f"{r['outageSeconds']} s"),
        row("jobs when ARM went away", lambda r: r["jobStatesWhenArmWentAway"]),
        row("copies (jobs)", lambda r: r["jobs"]),
        row("job states at the end", lambda r: r["jobStates"]),
        row("runs per job", lambda r: r["runs"]),
        row("failure reasons of runs", lambda r: r["failureReasons"] or "-"),
        row("outage end -> all terminal", lambda r: f"{r['secondsFromOutageEndToAllTerminal']} s"),
        row("HTTP during the outage", lambda r: r["httpDuringOutage"]),
        row("re-asked after the outage", lambda r: r["retriedAfterOutage"]),
        row("sweeps during the outage", lambda r: r["sweepsDuringOutage"]),
        row(
            "restore points made during the outage", lambda r: r["restorePointsCreatedDuringOutage"]
        ),
        row("Event Grid deliveries", lambda r: r["eventGridDeliveries"]),
        row("ARM copies left", lambda r: r["armCopies"]),
        row("copy PUTs refused by ARM", lambda r: r["armCalls"]["copyPutsRefusedByArm"]),
        row("ARM calls (whole run)", lambda r: r["armCalls"]["total"]),
        row("queues drained", lambda r: r["queues"]["drained"]),
        row("host logs", lambda r: r["hostLogs"]),
    ]
    lines = report.header("ARM outage drill", {**record, **result}, what)
    lines += report.verdict_lines(result)
    lines += ["", *report.table(head, rows), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drills outage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = OutageOptions()
    parser.add_argument("--durations", type=float, nargs="+", default=defaults.durations)
    parser.add_argument("--profile", choices=sorted(PROFILES), default=defaults.profile)
    parser.add_argument("--policy-vms", type=int, default=defaults.policy_vms)
    parser.add_argument("--manual-vms", type=int, default=defaults.manual_vms)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    options = OutageOptions(
        durations=args.durations, profile=args.profile, policy_vms=args.policy_vms,
        manual_vms=args.manual_vms, seed=args.seed, timeout=args.timeout, workdir=args.workdir,
    )  # fmt: skip
    record = report.started_record("python -m drills outage")
    with interrupt_on_signals():
        result = {**record, **run(options)}
    markdown = render(result, record)
    paths = report.record("arm-outage", result, markdown)
    print(markdown)
    print("results:", *paths)
    return 0 if result["ok"] else 1
