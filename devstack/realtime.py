"""The stack profile of `make demo` and `make run`: real time, fast replication.

The app judges a copy's recovery-point age by comparing the restore point's creation time (the
emulator's clock) with its own clock, so the two clocks must agree: the emulator runs at time
scale 1 and its *replication model* is sped up instead (progress published every 2 s instead
of every 10 min, tens of GiB/s per disk), with the app's poll schedule scaled to match.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from arm_emulator.control import EmulatorControl
from devstack.processes import REPO_ROOT
from devstack.stack import Stack, StackOptions

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
SOURCE_REGION = "eastus"
SOURCE_GROUP = "rg-prod"
# The demo policy's target resource groups (they must exist before collections land in them).
TARGET_GROUPS = {"westus": "rg-dr", "northeurope": "rg-dr-eu"}
DEMO_POLICY = Path(__file__).resolve().with_name("demo-policy.json")
EVENTS_QUEUE = "copy-events"
# Git-ignored: logs of the last runs stay readable after the demo has stopped everything.
STACK_ROOT = REPO_ROOT / ".stack"
KEEP_WORKDIRS = 5

PROGRESS_INTERVAL_SECONDS = 2
EMULATOR_CONFIG: dict[str, float] = {
    "progressIntervalSeconds": PROGRESS_INTERVAL_SECONDS,  # Azure: about 600
    # MiB/s per disk: a 420 GiB disk replicates in about 18 s.
    "replicationBandwidthMbps": 24000,
    "copyLroSeconds": 2,  # recorded in Azure: about 6
    "localCreateSeconds": 3,  # recorded in Azure: about 35
    "deleteSeconds": 2,
    # Restore drills (demo Part 3): disks from disk restore points, their SAS.
    "diskCreateSeconds": 3,
    "diskDeleteSeconds": 1,
    "grantAccessSeconds": 1,
    "revokeAccessSeconds": 1,
}

APP_SETTINGS: dict[str, str] = {
    # Poll about as often as the emulator publishes progress (Azure: every 10 minutes).
    "POLL_INITIAL_SECONDS": "1",
    "POLL_MIN_SECONDS": "1",
    "POLL_MAX_SECONDS": str(PROGRESS_INTERVAL_SECONDS),
    "POLL_PROGRESS_GRANULARITY_SECONDS": str(PROGRESS_INTERVAL_SECONDS),
    # The learned schedule's 2-day bound, scaled like the interval (600 s -> 2 s).
    "POLL_LEARNED_MAX_SECONDS": str(PROGRESS_INTERVAL_SECONDS * 300),
    "STAGE_RETRY_BASE_SECONDS": "1",
    "ARM_MAX_INLINE_WAIT_SECONDS": "5",
    "ARM_LRO_POLL_SECONDS": "0.5",
    "ARM_TIMEOUT_SECONDS": "10",
    "DRILL_POLL_SECONDS": "1",
    # A failed invocation's message comes back after 1 s instead of 30.
    "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
}


def new_workdir(kind: str, root: Path = STACK_ROOT) -> Path:
    """A fresh `.stack/<kind>-<time>-<pid>/` for the logs; older ones beyond the last few go."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir()
    previous = sorted(p for p in root.glob(f"{kind}-*") if p.is_dir() and p != path)
    for old in previous[: max(0, len(previous) - (KEEP_WORKDIRS - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def stack_options(
    workdir: Path,
    *,
    policy: Path = DEMO_POLICY,
    hosts: int = 1,
    time_scale: float = 1.0,
    extra_settings: Mapping[str, str] | None = None,
) -> StackOptions:
    config = workdir / "emulator.json"
    config.write_text(json.dumps(EMULATOR_CONFIG, indent=2) + "\n", encoding="utf-8")
    settings = {**APP_SETTINGS, "POLICY_FILE": str(policy.resolve()), **(extra_settings or {})}
    return StackOptions(
        time_scale=time_scale,
        hosts=hosts,
        app_settings=settings,
        emulator_config=config,
        workdir=workdir,
    )


def eventgrid_webhook(stack: Stack) -> str:
    """The Event Grid trigger's webhook on the first host, as a system topic subscription
    would call it (the system key in `code`)."""
    return (
        f"{stack.host_url}/runtime/webhooks/eventgrid"
        f"?functionName=restore_point_created&code={stack.options.eventgrid_key}"
    )


def subscribe_app(stack: Stack) -> None:
    """Deliver the emulator's resource events to the app, like an Event Grid subscription on
    the subscription's system topic."""
    with EmulatorControl(stack.arm_endpoint) as control:
        control.subscribe_webhook(
            url=eventgrid_webhook(stack), schema="EventGridSchema", name="rpcopy-app"
        )


def processes(stack: Stack) -> list[tuple[str, int]]:
    """(name, pid) of every process the stack started."""
    found: list[tuple[str, int]] = []
    if stack.azurite is not None:
        found.append(("azurite", stack.azurite.process.pid))
    if stack.emulator is not None:
        found.append(("arm-emulator", stack.emulator.pid))
    found += [(host.process.name, host.process.pid) for host in stack.hosts]
    return found


def log_files(stack: Stack) -> list[Path]:
    return sorted(stack.workdir.glob("*.log"))


def log_tails(workdir: Path, lines: int = 8) -> list[str]:
    """The last lines of each host log: where a failure usually says what went wrong."""
    out: list[str] = []
    for path in sorted(workdir.glob("host-*.log")):
        tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        out += [f"--- last lines of {display_path(path)}", *tail]
    return out


def display_path(path: Path) -> str:
    """Relative to the repository when inside it (shorter, and what `make` users expect)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
