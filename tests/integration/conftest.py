"""Integration tests: the app running in the local host, against Azurite and the ARM emulator,
exactly as `make demo` runs it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from devstack.stack import EMULATOR_TOKEN, Stack
from tests.support import EventLog


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    """The app's HTTP API, with the function key, as a client would call it."""
    with httpx.Client(
        base_url=stack.host_url, headers={"x-functions-key": stack.options.function_key}, timeout=30
    ) as client:
        yield client


@pytest.fixture(scope="session")
def arm(stack: Stack) -> Iterator[httpx.Client]:
    """Direct ARM calls to the emulator (to check what the app claims against the source)."""
    with httpx.Client(
        base_url=stack.arm_endpoint,
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        params={"api-version": "2025-04-01"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def events(stack: Stack) -> EventLog:
    return EventLog(stack.storage_connection, "copy-events")


@pytest.fixture
def emulator(stack: Stack) -> Iterator[EmulatorControl]:
    """The emulator's control plane; faults a test adds are cleared afterwards."""
    with EmulatorControl(stack.arm_endpoint) as control:
        yield control
        control.clear_faults()
