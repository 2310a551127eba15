"""The drills' stack: devstack's Azurite + ARM emulator + local function hosts, with hosts that
can be killed and restarted.

Hosts are started as `Stack.start_host` starts them (same process factory, settings, log file,
readiness check), through `drills.host_shim` so the queue receive lock can be shortened. A killed
host is restarted on the port it had, so the Event Grid subscription (which names the first
host's URL) reaches it again once it is back, as it would reach a restarted instance behind the
function app's address.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from arm_emulator.control import EmulatorControl
from devstack.processes import LOOPBACK, REPO_ROOT, free_port, python_module_process
from devstack.stack import (
    EMULATOR_TOKEN,
    FAST_APP_SETTINGS,
    Host,
    Stack,
    StackOptions,
    app_setting_names,
)
from drills.host_shim import LOCK_SETTING

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000d1"
SOURCE_REGION = "eastus"
POLICY_GROUP = "rg-drill"  # collections here are protected by the drill policy
MANUAL_GROUP = "rg-drill-manual"  # collections here are copied only when asked over HTTP
TARGET_GROUP = "rg-drill-dr"
POLICY_REGIONS = ("westus", "northeurope")
MANUAL_REGION = "westus"
API_VERSION = "2025-04-01"
EVENTS_QUEUE = "copy-events"

# The emulator in real time (so the app's clock and Azure's agree: budget windows, re-run
# backoffs and outages are all real seconds) with replication sped up: a small disk replicates
# within the first one-second progress tick.
EMULATOR_CONFIG: dict[str, Any] = {
    "progressIntervalSeconds": 1,
    "replicationBandwidthMbps": 40000,
    "copyLroSeconds": 0.5,
    "localCreateSeconds": 0.3,
    "deleteSeconds": 0.5,
    # Azure's 3 copy PUTs per target collection per hour, in 4 s; the app's budget is stricter.
    "copyPutsPerHour": 3,
    "copyThrottleWindowSeconds": 4,
    # Event Grid retries a failed delivery for up to 24 h; a minute covers a host restart.
    "webhookRetryDelaysRealSeconds": [0.5, 1, 2, 4, 8, 15, 30],
    "webhookTimeoutRealSeconds": 10,
    "requestLogLimit": 500000,
}

BASE_APP_SETTINGS: dict[str, str] = {
    **FAST_APP_SETTINGS,
    "COPY_PUTS_PER_WINDOW": "3",
    "COPY_PUT_WINDOW_SECONDS": "6",
    "SWEEP_SCHEDULE": "0 0 0 1 1 *",  # the drills run the sweep themselves
}


def drill_policy(keep_last: int = 2) -> dict[str, Any]:
    return {
        "version": 1,
        "policies": [
            {
                "name": "drill",
                "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": POLICY_GROUP},
                "targets": [
                    {
                        "region": region,
                        "resourceGroup": TARGET_GROUP,
                        "retention": {"keepLast": keep_last},
                    }
                    for region in POLICY_REGIONS
                ],
            }
        ],
    }


@dataclass
class DrillStack(Stack):
    """A `Stack` whose hosts run through the shim and can be killed and restarted."""

    lock_seconds: int = 10
    ports: dict[int, int] = field(default_factory=dict)
    kills: int = 0
    restarts: int = 0

    def start_host(self, index: int | None = None) -> Host:
        index = len(self.hosts) if index is None else index
        port = self.ports.setdefault(index, free_port())
        env = {**self.app_settings(), LOCK_SETTING: str(self.lock_seconds)}
        process = python_module_process(
            f"function-host-{index}",
            "drills.host_shim",
            ["--app-dir", str(REPO_ROOT), "--host", LOOPBACK, "--port", str(port)],
            env=env,
            log_path=self.workdir / f"host-{index}.log",
            drop=app_setting_names(),
        ).start()
        host = Host(process, port)
        if index < len(self.hosts):
            self.hosts[index] = host
        else:
            self.hosts.append(host)
        process.wait_http_ok(f"{host.url}/admin/host/status", timeout=90)
        return host

    def kill_host(self, index: int) -> None:
        """SIGKILL the host's process group (the one we started, by its PID): no drain, no
        release of held messages, exactly a crashed instance."""
        popen = self.hosts[index].process.popen
        assert popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=30)
        self.kills += 1

    def restart_host(self, index: int) -> Host:
        host = self.start_host(index)
        self.restarts += 1
        return host

    def host_alive(self, index: int) -> bool:
        return self.hosts[index].process.running()

    def crashed_hosts(self) -> list[int]:
        return [i for i, h in enumerate(self.hosts) if not h.process.running()]

    def live_urls(self) -> list[str]:
        return [h.url for h in self.hosts if h.process.running()]

    def eventgrid_url(self, index: int = 0) -> str:
        return (
            f"{self.hosts[index].url}/runtime/webhooks/eventgrid"
            f"?functionName=restore_point_created&code={self.options.eventgrid_key}"
        )

    def secrets(self) -> dict[str, str]:
        """What must never appear in a host log."""
        return {
            "function key": self.options.function_key,
            "master key": self.options.master_key,
            "Event Grid key": self.options.eventgrid_key,
            "emulator token": EMULATOR_TOKEN,
        }


@contextlib.contextmanager
def drill_stack(
    *,
    hosts: int = 2,
    app_settings: Mapping[str, str] | None = None,
    emulator_config: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
    lock_seconds: int = 10,
    workdir: Path | None = None,
    seed: int = 1,
    eventgrid: bool = True,
) -> Iterator[DrillStack]:
    """Start the stack (stopped by PID on the way out, also on failure)."""
    with contextlib.ExitStack() as exits:
        if workdir is None:
            workdir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="rpcopy-drill-")))
        workdir.mkdir(parents=True, exist_ok=True)
        config = {**EMULATOR_CONFIG, **(emulator_config or {})}
        (workdir / "emulator.json").write_text(json.dumps(config, indent=2))
        settings = {**BASE_APP_SETTINGS, **(app_settings or {})}
        (workdir / "policy.json").write_text(json.dumps(policy or drill_policy(), indent=2))
        settings["POLICY_FILE"] = str(workdir / "policy.json")
        options = StackOptions(
            time_scale=1.0,
            seed=seed,
            hosts=hosts,
            app_settings=settings,
            emulator_config=workdir / "emulator.json",
            workdir=workdir,
        )
        stack = DrillStack(options, workdir, lock_seconds=lock_seconds)
        exits.callback(stack.stop)
        stack.start()
        if eventgrid:
            with EmulatorControl(stack.arm_endpoint) as control:
                control.subscribe_webhook(
                    url=stack.eventgrid_url(0), schema="EventGridSchema", name="rpcopy-app"
                )
        yield stack


class Api:
    """The app's HTTP API as a client would use it: any live host, retried on a dropped
    connection (a killed host) against the next one."""

    def __init__(self, stack: DrillStack, timeout: float = 30) -> None:
        self.stack = stack
        self.client = httpx.Client(
            headers={"x-functions-key": stack.options.function_key},
            timeout=timeout,
            trust_env=False,
        )
        self.turn = 0
        # Every answer seen, retried ones included: "METHOD /path status" -> count.
        self.answers: Counter[str] = Counter()

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        attempts: int = 60,
        retry_unavailable: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        last: Exception | None = None
        for _ in range(attempts):
            urls = self.stack.live_urls()
            if not urls:
                time.sleep(0.5)
                continue
            self.turn += 1
            url = urls[self.turn % len(urls)]
            try:
                response = self.client.request(method, f"{url}{path}", **kwargs)
            except httpx.TransportError as exc:  # the host died under the request
                last = exc
                self.answers[f"{method} {_route(path)} connection error"] += 1
                time.sleep(0.2)
                continue
            self.answers[f"{method} {_route(path)} {response.status_code}"] += 1
            if (
                retry_unavailable
                and response.status_code == 503
                and "Retry-After" in response.headers
            ):
                last = RuntimeError(f"{method} {path}: 503 {response.text[:200]}")
                time.sleep(min(5.0, float(response.headers.get("Retry-After") or 1)))
                continue
            return response
        raise RuntimeError(f"{method} {path} failed on every attempt: {last}")

    def post_copy(self, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.request("POST", "/api/copies", json=body, **kwargs)

    def job(self, job_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/api/copies/{job_id}")
        return response.json() if response.status_code == 200 else None

    def all_jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        path: str | None = "/api/copies?pageSize=1000"
        while path:
            response = self.request("GET", path)
            response.raise_for_status()
            page = response.json()
            jobs.extend(page["value"])
            path = page.get("nextLink")
        return jobs

    def sweep(self) -> int:
        """Run the sweep timer now on a live host (the admin API, master key)."""
        response = self.request(
            "POST",
            "/admin/functions/sweep_timer",
            json={"input": ""},
            headers={"x-functions-key": self.stack.options.master_key},
        )
        return response.status_code


def _route(path: str) -> str:
    """The route of a request path, for counting answers (no ids, no query)."""
    path = path.split("?", 1)[0]
    if path.startswith("/api/copies/"):
        return "/api/copies/{id}"
    return path


def server_errors(answers: Counter[str]) -> dict[str, int]:
    """Answers in the 5xx range other than 503 (which, with Retry-After, is the app's
    documented answer while ARM is unavailable)."""
    out: dict[str, int] = {}
    for key, count in answers.items():
        status = key.rsplit(" ", 1)[-1]
        if status.isdigit() and int(status) >= 500 and status != "503":
            out[key] = count
    return out


def arm_client(stack: Stack) -> httpx.Client:
    """Direct ARM calls to the emulator, as the app makes them."""
    return httpx.Client(
        base_url=stack.arm_endpoint,
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        params={"api-version": API_VERSION},
        timeout=30,
        trust_env=False,
    )
