"""Fixtures for devhost tests: one Azurite and one devhost (sample_app) per session.

Everything binds to loopback on free ports and is stopped by PID, also when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import Azurite, start_azurite
from tests.devhost.devhost_support import (
    DevhostProcess,
    ResultCollector,
    base_env,
    create_queues,
    start_devhost,
)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    instance = start_azurite(Path(tmp_path_factory.mktemp("devhost-azurite")))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def devhost(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    create_queues(azurite.connection_string)
    host = start_devhost(
        base_env(azurite.connection_string), Path(tmp_path_factory.mktemp("devhost")) / "host.log"
    )
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def results(azurite: Azurite) -> ResultCollector:
    """Reports the sample functions send to the `results` queue."""
    return ResultCollector(azurite.connection_string, "results")


@pytest.fixture(scope="session")
def timer_results(azurite: Azurite) -> ResultCollector:
    return ResultCollector(azurite.connection_string, "timer-results")
