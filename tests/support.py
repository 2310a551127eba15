"""Helpers shared by function-level and integration tests: seeding the ARM emulator, reading
queues in Azurite, and waiting on conditions with deadlines that say what they waited for."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.storage.queue import QueueClient

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
SOURCE_REGION = "eastus"
TARGET_REGION = "westus"
SOURCE_GROUP = "rg-prod"
TARGET_GROUP = "rg-dr"

T = TypeVar("T")


@dataclass(frozen=True)
class SeededSource:
    vm_id: str
    collection_id: str
    restore_point_id: str
    disk_names: tuple[str, ...]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def seed_source(
    emulator_url: str,
    *,
    region: str = SOURCE_REGION,
    data_disks: int = 2,
    used_gb: float = 20.0,
    restore_points: int = 1,
    name: str | None = None,
) -> SeededSource:
    """A VM with an OS disk and data disks, its collection and restore point(s) in `region`,
    plus the target resource group; every name unique so tests never collide."""
    from arm_emulator import control

    vm = name or unique("vm")
    client = control.EmulatorControl(emulator_url)
    result = client.seed_vm_with_restore_points(
        subscription_id=SUBSCRIPTION,
        resource_group=SOURCE_GROUP,
        vm_name=vm,
        region=region,
        data_disks=data_disks,
        used_gb=used_gb,
        restore_points=restore_points,
        extra_resource_groups=[(TARGET_GROUP, TARGET_REGION)],
    )
    return SeededSource(
        vm_id=result["vmId"],
        collection_id=result["collectionId"],
        restore_point_id=result["restorePointIds"][-1],
        disk_names=tuple(result.get("diskNames", ())),
    )


def drain_queue(connection_string: str, queue: str) -> list[str]:
    """Receive and delete every visible message; returns the decoded texts."""
    client = QueueClient.from_connection_string(connection_string, queue)
    texts: list[str] = []
    try:
        for message in client.receive_messages(messages_per_page=32, visibility_timeout=30):
            texts.append(base64.b64decode(message.content).decode())
            client.delete_message(message)
    except Exception as exc:  # a queue that does not exist yet holds nothing
        if "QueueNotFound" not in str(exc):
            raise
    return texts


def peek_queue(connection_string: str, queue: str) -> list[str]:
    client = QueueClient.from_connection_string(connection_string, queue)
    try:
        return [base64.b64decode(m.content).decode() for m in client.peek_messages(max_messages=32)]
    except Exception as exc:
        if "QueueNotFound" in str(exc):
            return []
        raise


class EventLog:
    """Collects CloudEvents from an events queue (receive + delete) for tests to query."""

    def __init__(self, connection_string: str, queue: str) -> None:
        self.connection_string = connection_string
        self.queue = queue
        self.events: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        for text in drain_queue(self.connection_string, self.queue):
            self.events.append(json.loads(text))
        return self.events

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        self.poll()
        return [e for e in self.events if e.get("data", {}).get("jobId") == job_id]

    def wait_for(self, job_id: str, event_type: str, *, timeout: float) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            matches = [e for e in self.for_job(job_id) if e["type"] == event_type]
            return matches[0] if matches else None

        return wait_for(found, timeout=timeout, what=f"a {event_type} event for job {job_id}")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


async def async_wait_for(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, interval: float = 0.2
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
