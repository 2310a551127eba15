"""The whole local stack: Azurite, the ARM emulator and one or more local function hosts.

`Stack` starts every part on free loopback ports, waits until each answers, and stops them by
their own PIDs (also when anything fails half-way). Tests, the demo and the benchmarks share it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.processes import (
    LOOPBACK,
    REPO_ROOT,
    Azurite,
    ManagedProcess,
    free_port,
    python_module_process,
    start_azurite,
)

EMULATOR_TOKEN = "local-emulator-token"  # noqa: S105 - the local emulator's fixed token


# App settings for a stack whose emulator runs 600x faster than real time (ten simulated minutes,
# Azure's progress granularity, per real second): the production poll schedule divided by the
# time scale and floored at one second, and failed invocations retried after 1 s instead of 30.
# Tests and benchmarks share it.
FAST_APP_SETTINGS: dict[str, str] = {
    "POLL_INITIAL_SECONDS": "1",
    "POLL_MIN_SECONDS": "1",
    "POLL_MAX_SECONDS": "2",
    "POLL_PROGRESS_GRANULARITY_SECONDS": "1",
    # The learned schedule's 2-day bound, divided by the time scale.
    "POLL_LEARNED_MAX_SECONDS": "300",
    "STAGE_RETRY_BASE_SECONDS": "1",
    # A failed run is followed by the next one after seconds, not Azure-sized minutes.
    "RERUN_BACKOFF_SECONDS": "1",
    "RERUN_MAX_BACKOFF_SECONDS": "4",
    # Two runs show a re-run and the run limit within seconds.
    "RERUN_MAX_RUNS": "2",
    "ARM_MAX_INLINE_WAIT_SECONDS": "5",
    "ARM_LRO_POLL_SECONDS": "0.2",
    # Restore drills look at disks being created every second.
    "DRILL_POLL_SECONDS": "1",
    "ARM_TIMEOUT_SECONDS": "10",
    # 14 simulated days at 600x is about 34 real minutes; tests that need the cap set it lower.
    "COPY_TIMEOUT_SECONDS": "2100",
    "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
}
FAST_TIME_SCALE = 600.0


def app_setting_names() -> frozenset[str]:
    """Every app setting the app knows (the sample lists them all): a host gets exactly the
    stack's settings, never one that happens to be in the parent process's environment."""
    sample = json.loads((REPO_ROOT / "local.settings.sample.json").read_text())
    return frozenset(sample["Values"]) | {"AzureWebJobsStorage"}


@dataclass
class StackOptions:
    time_scale: float = 600.0
    seed: int = 1
    hosts: int = 1
    # App settings for the function host(s), on top of the stack's own wiring.
    app_settings: Mapping[str, str] = field(default_factory=dict)
    emulator_config: Path | None = None
    workdir: Path | None = None
    function_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    eventgrid_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    master_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    start_hosts: bool = True


@dataclass
class Host:
    process: ManagedProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class Stack:
    options: StackOptions
    workdir: Path
    azurite: Azurite | None = None
    emulator: ManagedProcess | None = None
    emulator_port: int = 0
    hosts: list[Host] = field(default_factory=list)

    @property
    def arm_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.emulator_port}"

    @property
    def storage_connection(self) -> str:
        assert self.azurite is not None
        return self.azurite.connection_string

    @property
    def host_url(self) -> str:
        return self.hosts[0].url

    def app_settings(self) -> dict[str, str]:
        """Every setting the function app needs to run against this stack."""
        settings = {
            "AzureWebJobsStorage": self.storage_connection,
            "ARM_ENDPOINT": self.arm_endpoint,
            "ARM_CREDENTIAL": "static",
            "ARM_STATIC_TOKEN": EMULATOR_TOKEN,
            "DEVHOST_FUNCTION_KEY": self.options.function_key,
            "DEVHOST_EVENTGRID_KEY": self.options.eventgrid_key,
            "DEVHOST_MASTER_KEY": self.options.master_key,
        }
        settings.update(self.options.app_settings)
        return settings

    def start(self) -> Stack:
        try:
            self.azurite = start_azurite(
                self.workdir / "azurite", log_path=self.workdir / "azurite.log"
            )
            self._start_emulator()
            if self.options.start_hosts:
                for index in range(self.options.hosts):
                    self.start_host(index)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_emulator(self) -> None:
        self.emulator_port = free_port()
        args = [
            "--host", LOOPBACK, "--port", str(self.emulator_port),
            "--time-scale", str(self.options.time_scale), "--seed", str(self.options.seed),
            "--token", EMULATOR_TOKEN,
        ]  # fmt: skip
        if self.options.emulator_config:
            args += ["--config", str(self.options.emulator_config)]
        self.emulator = python_module_process(
            "arm-emulator", "arm_emulator", args, log_path=self.workdir / "emulator.log"
        ).start()
        self.emulator.wait_http_ok(f"{self.arm_endpoint}/_emulator/health", timeout=30)

    def start_host(self, index: int | None = None) -> Host:
        index = len(self.hosts) if index is None else index
        port = free_port()
        process = python_module_process(
            f"function-host-{index}",
            "devhost",
            ["--app-dir", str(REPO_ROOT), "--host", LOOPBACK, "--port", str(port)],
            env=self.app_settings(),
            log_path=self.workdir / f"host-{index}.log",
            drop=app_setting_names(),
        ).start()
        host = Host(process, port)
        self.hosts.append(host)
        process.wait_http_ok(f"{host.url}/admin/host/status", timeout=60)
        return host

    def stop(self) -> None:
        for host in reversed(self.hosts):
            host.process.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self.azurite is not None:
            self.azurite.stop()


@contextlib.contextmanager
def running_stack(options: StackOptions | None = None) -> Iterator[Stack]:
    options = options or StackOptions()
    with contextlib.ExitStack() as exits:
        workdir = options.workdir
        if workdir is None:
            workdir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="rpcopy-stack-")))
        workdir.mkdir(parents=True, exist_ok=True)
        stack = Stack(options, workdir).start()
        exits.callback(stack.stop)
        yield stack
