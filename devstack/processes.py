"""Start local services on free loopback ports and stop them by their own PIDs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    """A TCP port that is free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Wait for `condition` with a deadline; the error says what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class ManagedProcess:
    """A child process started in its own process group and stopped by its PID."""

    name: str
    args: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path = REPO_ROOT
    log_path: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.popen = subprocess.Popen(
            list(self.args),
            cwd=self.cwd,
            env=dict(self.env) if self.env is not None else None,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_http_ok(self, url: str, *, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if not self.running():
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            try:
                return httpx.get(url, timeout=1.0).status_code < 500
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=timeout, what=f"{self.name} to answer at {url}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group we started, then SIGKILL if it lingers."""
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)


def azurite_connection_string(
    queue_port: int, table_port: int, blob_port: int, scheme: str = "http"
) -> str:
    """Explicit connection string: `UseDevelopmentStorage=true` would pin ports 10000-10002."""
    return (
        f"DefaultEndpointsProtocol={scheme};"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={scheme}://{LOOPBACK}:{blob_port}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint={scheme}://{LOOPBACK}:{queue_port}/{AZURITE_ACCOUNT};"
        f"TableEndpoint={scheme}://{LOOPBACK}:{table_port}/{AZURITE_ACCOUNT};"
    )


@dataclass(frozen=True)
class AzuriteTls:
    """HTTPS for Azurite (PEM certificate and key), optionally with bearer tokens accepted
    (`--oauth basic`: Azurite checks a token's issuer, audience and lifetime, not its
    signature) and with the account(s) in `accounts` (`AZURITE_ACCOUNTS`,
    `name:base64key;...`) instead of the well-known devstoreaccount1."""

    cert: Path
    key: Path
    oauth: bool = False
    accounts: str | None = field(default=None, repr=False)

    @property
    def account(self) -> str:
        return self.accounts.split(":", 1)[0] if self.accounts else AZURITE_ACCOUNT


@dataclass
class Azurite:
    process: ManagedProcess
    queue_port: int
    table_port: int
    blob_port: int
    tls: AzuriteTls | None = None

    @property
    def connection_string(self) -> str:
        if self.tls is not None and self.tls.accounts:
            # Its account key stays with Azurite: clients of such an instance use tokens.
            raise RuntimeError(
                f"Azurite account {self.tls.account!r} has no connection string here: use "
                "queue_service_uri / table_service_uri with a token credential"
            )
        scheme = "https" if self.tls else "http"
        return azurite_connection_string(self.queue_port, self.table_port, self.blob_port, scheme)

    def _uri(self, port: int) -> str:
        scheme = "https" if self.tls else "http"
        account = self.tls.account if self.tls else AZURITE_ACCOUNT
        return f"{scheme}://{LOOPBACK}:{port}/{account}"

    @property
    def queue_service_uri(self) -> str:
        return self._uri(self.queue_port)

    @property
    def table_service_uri(self) -> str:
        return self._uri(self.table_port)

    @property
    def blob_service_uri(self) -> str:
        return self._uri(self.blob_port)

    def stop(self) -> None:
        self.process.stop()


def azurite_binary() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if not found:
        raise RuntimeError("Azurite is not installed: run `npm ci` (or `make setup`) first")
    return found


def start_azurite(
    workdir: Path, *, log_path: Path | None = None, tls: AzuriteTls | None = None
) -> Azurite:
    """Azurite blob+queue+table on free loopback ports, in memory (workdir holds the log);
    with `tls`, over HTTPS (and with bearer tokens and custom accounts, as `tls` says)."""
    blob_port, queue_port, table_port = free_port(), free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        azurite_binary(),
        "--blobHost", LOOPBACK, "--blobPort", str(blob_port),
        "--queueHost", LOOPBACK, "--queuePort", str(queue_port),
        "--tableHost", LOOPBACK, "--tablePort", str(table_port),
        "--inMemoryPersistence", "--loose", "--skipApiVersionCheck", "--disableTelemetry",
    ]  # fmt: skip
    env: dict[str, str] | None = None
    if tls is not None:
        args += ["--cert", str(tls.cert), "--key", str(tls.key)]
        if tls.oauth:
            args += ["--oauth", "basic"]
        env = {k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"}
        if tls.accounts:
            env["AZURITE_ACCOUNTS"] = tls.accounts
    proc = ManagedProcess(
        "azurite", args, env=env, log_path=log_path or workdir / "azurite.log"
    ).start()
    azurite = Azurite(proc, queue_port, table_port, blob_port, tls)

    def listening() -> bool:
        if not proc.running():
            raise RuntimeError(f"azurite exited early; see {proc.log_path}")
        for port in (queue_port, table_port):
            with socket.socket() as sock:
                if sock.connect_ex((LOOPBACK, port)) != 0:
                    return False
        return True

    try:
        wait_until(listening, timeout=30, what="Azurite queue and table ports")
    except BaseException:
        proc.stop()
        raise
    return azurite


def python_module_process(
    name: str, module: str, module_args: Sequence[str], *, env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    drop: frozenset[str] = frozenset(),
) -> ManagedProcess:  # fmt: skip
    """A `python -m module` child with the current interpreter (the project's venv)."""
    full_env = {k: v for k, v in os.environ.items() if k not in drop}
    if env:
        full_env.update(env)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    return ManagedProcess(
        name, [sys.executable, "-m", module, *module_args], env=full_env, log_path=log_path
    )
