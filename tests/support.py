"""Helpers shared by function-level and integration tests: seeding the ARM emulator, reading
queues in Azurite, and waiting on conditions with deadlines that say what they waited for."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.storage.queue import QueueClient

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from tests.event_contract import check_event

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
    restore_point_ids: tuple[str, ...]


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
    tags: dict[str, str] | None = None,
    spacing_seconds: float = 3600.0,
) -> SeededSource:
    """A VM with an OS disk and data disks, its collection and restore point(s) in `region`,
    plus the target resource group; every name unique so tests never collide."""
    vm = name or unique("vm")
    collection = f"rpc-{vm}"
    scenario = (
        Scenario(SUBSCRIPTION)
        .resource_group(SOURCE_GROUP, region)
        .resource_group(TARGET_GROUP, TARGET_REGION)
        .vm(
            vm,
            rg=SOURCE_GROUP,
            location=region,
            os_disk=DiskSpec(size_gb=128, used_gb=used_gb),
            data_disks=[DiskSpec(lun=i, size_gb=128, used_gb=used_gb) for i in range(data_disks)],
        )
        .collection(collection, vm=vm, tags=tags)
    )
    for index in range(1, restore_points + 1):
        # Older first: rp1 is the oldest, as a backup schedule would have made them.
        scenario.restore_point(
            f"rp{index}", collection, age_seconds=(restore_points - index + 1) * spacing_seconds
        )
    with EmulatorControl(emulator_url) as control:
        control.seed(scenario)
    return SeededSource(
        vm_id=scenario.vm_id(vm),
        collection_id=scenario.rpc_id(collection),
        restore_point_id=scenario.rp_id(collection, f"rp{restore_points}"),
        restore_point_ids=tuple(
            scenario.rp_id(collection, f"rp{i}") for i in range(1, restore_points + 1)
        ),
    )


def arm_call_counts(emulator_url: str) -> dict[str, int]:
    with EmulatorControl(emulator_url) as control:
        return control.counts()


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
            self.add(text)
        return self.events

    def add(self, text: str) -> None:
        """Keep one event read from the queue; every one must meet the event contract."""
        self.events.append(check_event(text))

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
