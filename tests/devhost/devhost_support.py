"""Helpers for devhost tests: start the host on sample_app, send and collect queue messages."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import (
    QueueClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from devstack.processes import ManagedProcess, free_port, python_module_process, wait_until

SAMPLE_APP = Path(__file__).resolve().parent / "sample_app"
FUNCTION_KEY = "test-function-key-0123456789"
MASTER_KEY = "test-master-key-0123456789"
EVENTGRID_KEY = "test-eventgrid-key-0123456789"
QUEUES = ("results", "timer-results", "work-sync", "work-async", "shared-work")


def token() -> str:
    return uuid.uuid4().hex[:12]


def base_env(connection_string: str, **overrides: str) -> dict[str, str]:
    env = {
        "AzureWebJobsStorage": connection_string,
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        "DEVHOST_MASTER_KEY": MASTER_KEY,
        "DEVHOST_EVENTGRID_KEY": EVENTGRID_KEY,
        "RESULTS_QUEUE": "results",
        "WORK_QUEUE": "work-sync",
        "TICK_SCHEDULE": "*/1 * * * * *",
    }
    env.update(overrides)
    return env


def queue_client(connection_string: str, name: str, *, base64: bool = True) -> QueueClient:
    if not base64:
        return QueueClient.from_connection_string(connection_string, name)
    return QueueClient.from_connection_string(
        connection_string,
        name,
        message_encode_policy=TextBase64EncodePolicy(),  # what the Functions host expects
        message_decode_policy=TextBase64DecodePolicy(),
    )


def create_queues(connection_string: str, names: Sequence[str] = QUEUES) -> None:
    for name in names:
        with contextlib.suppress(ResourceExistsError):
            queue_client(connection_string, name).create_queue()


@dataclass
class DevhostProcess:
    process: ManagedProcess
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, *, timeout: float = 10.0) -> None:
        wait_until(lambda: text in self.log_text(), timeout=timeout, what=f"devhost log: {text!r}")

    def stop(self) -> None:
        self.process.stop()


def start_devhost(
    env: Mapping[str, str], log_path: Path, *, extra_args: Sequence[str] = ()
) -> DevhostProcess:
    """devhost on sample_app on a free port, ready (status 200) before it is returned."""
    port = free_port()
    args = ["--app-dir", str(SAMPLE_APP), "--port", str(port), *extra_args]
    process = python_module_process("devhost", "devhost", args, env=env, log_path=log_path)
    host = DevhostProcess(process.start(), port, log_path)
    try:
        process.wait_http_ok(host.url("/admin/host/status"), timeout=30)
    except BaseException:
        process.stop()
        raise
    return host


@dataclass
class ResultCollector:
    """Drains a results queue into memory so each test can pick out its own reports."""

    connection_string: str
    queue: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def drain(self) -> None:
        client = queue_client(self.connection_string, self.queue)
        with self._lock:
            for message in client.receive_messages(messages_per_page=32, visibility_timeout=30):
                self.seen.append(json.loads(message.content))
                client.delete_message(message)

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [r for r in self.seen if predicate(r)]

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        count: int = 1,
        timeout: float = 10.0,
        what: str,
    ) -> list[dict[str, Any]]:
        def enough() -> bool:
            self.drain()
            return len(self.matching(predicate)) >= count

        wait_until(enough, timeout=timeout, what=f"{count} report(s) of {what}", interval=0.1)
        return self.matching(predicate)


def peek_all(connection_string: str, queue: str) -> list[str]:
    """Raw (undecoded) texts of up to 32 visible messages in `queue`."""
    client = queue_client(connection_string, queue, base64=False)
    try:
        return [m.content for m in client.peek_messages(max_messages=32)]
    except Exception as exc:
        if "QueueNotFound" in str(exc):
            return []
        raise


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, timeout=10.0, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10.0, **kwargs)
