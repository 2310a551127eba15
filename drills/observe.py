"""What the drills watch: the app's CloudEvents, the emulator's request log and state, Azurite's
queues, and the hosts' logs."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from azure.storage.queue import QueueClient, QueueServiceClient

from drills.stack import EVENTS_QUEUE
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType

TERMINAL_STATES = frozenset({"Succeeded", "Failed", "Superseded"})
# The drills' hosts run with the default EVENT_TYPE_PREFIX.
EVENT_TYPE = EventIdentity().type_of
TERMINAL_EVENTS = {
    EVENT_TYPE(EventType.SUCCEEDED): "Succeeded",
    EVENT_TYPE(EventType.FAILED): "Failed",
    EVENT_TYPE(EventType.SUPERSEDED): "Superseded",
}
STARTED = EVENT_TYPE(EventType.STARTED)
RETRYING = EVENT_TYPE(EventType.RETRYING)
RETENTION_DELETED = EVENT_TYPE(EventType.RETENTION_DELETED)


@dataclass
class EventCollector:
    """Receives and deletes every CloudEvent on `copy-events` in a thread, as a consumer would."""

    connection_string: str
    interval: float = 0.2
    events: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def __enter__(self) -> EventCollector:
        self._thread = threading.Thread(target=self._run, name="copy-events", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def snapshot(self) -> list[dict[str, Any]]:
        if self.error is not None:
            raise RuntimeError(f"reading {EVENTS_QUEUE} failed: {self.error!r}")
        with self._lock:
            return list(self.events)

    def drain_now(self, quiet: float = 1.0, limit: float = 30.0) -> list[dict[str, Any]]:
        """Wait until nothing new has arrived for `quiet` seconds; then the events so far."""
        deadline = time.monotonic() + limit
        count = -1
        while time.monotonic() < deadline:
            now = len(self.snapshot())
            if now == count:
                break
            count = now
            time.sleep(quiet)
        return self.snapshot()

    def _run(self) -> None:
        client = QueueClient.from_connection_string(self.connection_string, EVENTS_QUEUE)
        try:
            while not self._stop.is_set():
                got = 0
                try:
                    for message in client.receive_messages(
                        messages_per_page=32, visibility_timeout=60
                    ):
                        got += 1
                        try:
                            event = json.loads(base64.b64decode(message.content))
                        except (ValueError, binascii.Error):
                            with self._lock:
                                self.unreadable.append(str(message.content)[:200])
                        else:
                            with self._lock:
                                self.events.append(event)
                        client.delete_message(message)
                except Exception as exc:  # the app creates the queue with its first event
                    if "QueueNotFound" not in str(exc):
                        raise
                if not got:
                    self._stop.wait(self.interval)
        except BaseException as exc:
            self.error = exc
        finally:
            client.close()


def events_by_job(events: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        job_id = (event.get("data") or {}).get("jobId")
        if job_id:
            out.setdefault(job_id, []).append(event)
    return out


# -- Azurite queues ---------------------------------------------------------------------------


def queue_depths(connection_string: str, prefix: str = "rpcopy-") -> dict[str, int]:
    """Approximate message count (visible and invisible) of every queue whose name starts with
    `prefix`: the stage queues, their `-poison` and `-poison-poison` queues."""
    depths: dict[str, int] = {}
    with QueueServiceClient.from_connection_string(connection_string) as service:
        for item in service.list_queues(name_starts_with=prefix):
            queue = service.get_queue_client(item.name)
            depths[item.name] = int(queue.get_queue_properties().approximate_message_count or 0)
    return depths


def wait_queues_drained(
    connection_string: str,
    timeout: float,
    *,
    sweep: Callable[[], object] | None = None,
    sweep_every: float = 10.0,
) -> tuple[bool, dict[str, int], float]:
    """Wait until every app queue is empty (delayed messages of finished jobs come back, are
    dropped as stale and deleted); with `sweep`, run it every `sweep_every` seconds meanwhile
    (it drains `-poison-poison` queues). Returns (drained, depths, seconds waited)."""
    started = time.monotonic()
    next_sweep = started
    depths = queue_depths(connection_string)
    while any(depths.values()) and time.monotonic() - started < timeout:
        if sweep is not None and time.monotonic() >= next_sweep:
            sweep()
            next_sweep = time.monotonic() + sweep_every
        time.sleep(1.0)
        depths = queue_depths(connection_string)
    return not any(depths.values()), depths, round(time.monotonic() - started, 1)


# -- the emulator -----------------------------------------------------------------------------


def emulator_json(arm_endpoint: str, path: str, **params: Any) -> Any:
    with httpx.Client(base_url=arm_endpoint, timeout=120, trust_env=False) as client:
        return client.get(path, params=params).raise_for_status().json()


def settle_requests(arm_endpoint: str, quiet: float = 1.5, limit: float = 30.0) -> int:
    """Wait until the emulator's request log stops growing; returns its total."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        total = int(emulator_json(arm_endpoint, "/_emulator/requests", limit=1)["total"])
        if total == last:
            return total
        last = total
        time.sleep(quiet)
    return last


# -- host logs ----------------------------------------------------------------------------------

# A SAS signature or a key in a URL that was not masked (`sig=***` is masked).
_SAS = re.compile(r"(?i)sig=(?!\*\*\*)[A-Za-z0-9%+/=_-]{3,}")
_ACCOUNT_KEY = re.compile(r"(?i)AccountKey=(?!\*\*\*)[^;\s\"']+")
_CODE = re.compile(r"(?i)[?&]code=(?!\*\*\*|<)[^&\s\"']+")
_BEARER = re.compile(r"(?i)bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{6,}")


def secret_log_lines(workdir: Path, secrets: dict[str, str]) -> list[dict[str, str]]:
    """Lines of the host logs that carry a secret: a known key or token, an unmasked SAS
    signature, storage account key, `code=` or bearer token."""
    found: list[dict[str, str]] = []
    for path in sorted(workdir.glob("host-*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            hits = [name for name, value in secrets.items() if value and value in line]
            for name, pattern in (
                ("SAS signature", _SAS),
                ("account key", _ACCOUNT_KEY),
                ("code=", _CODE),
                ("bearer token", _BEARER),
            ):
                if pattern.search(line):
                    hits.append(name)
            if hits:
                found.append({"file": path.name, "line": str(number), "what": ", ".join(hits)})
    return found


_ACCESS_5XX = re.compile(r"devhost\.http: (\S+ \S+) -> (5\d\d) ")


def host_5xx_lines(workdir: Path) -> list[str]:
    """Requests the hosts answered (or tried to answer) with a 5xx other than 503, from their
    access log lines: a 5xx the client never read (it had gone) still counts."""
    found: list[str] = []
    for path in sorted(workdir.glob("host-*.log")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = _ACCESS_5XX.search(line)
            if match and match.group(2) != "503":
                found.append(f"{path.name}:{number}: {match.group(1)} -> {match.group(2)}")
    return found


def host_log_counts(workdir: Path) -> dict[str, int]:
    """Tracebacks and ERROR lines in the host logs (for the record, not a verdict)."""
    tracebacks = errors = 0
    for path in workdir.glob("host-*.log"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Traceback"):
                tracebacks += 1
            if " ERROR " in line:
                errors += 1
    return {"tracebacks": tracebacks, "errorLines": errors}
