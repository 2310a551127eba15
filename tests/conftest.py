"""Session-wide local services: Azurite, the ARM emulator and the local function host.

One stack per test session (started on first use, stopped by PID at the end, also on failure).
The host runs function_app.py with settings tuned so a copy takes seconds: the emulator runs
600x faster than real time (10 simulated minutes per second) and the poll schedule is scaled
to match.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import Stack, StackOptions, running_stack

# Ten simulated minutes (Azure's progress granularity) per real second.
TIME_SCALE = 600.0

FAST_APP_SETTINGS = {
    "POLL_INITIAL_SECONDS": "1",
    "POLL_MIN_SECONDS": "1",
    "POLL_MAX_SECONDS": "2",
    "POLL_PROGRESS_GRANULARITY_SECONDS": "1",
    "STAGE_RETRY_BASE_SECONDS": "1",
    "ARM_MAX_INLINE_WAIT_SECONDS": "5",
    "ARM_LRO_POLL_SECONDS": "0.2",
    "ARM_TIMEOUT_SECONDS": "10",
    # 14 simulated days at 600x is about 34 real minutes; tests that need the cap set it lower.
    "COPY_TIMEOUT_SECONDS": "2100",
    # A failed invocation's message comes back after 1 s instead of 30 (poison in seconds).
    "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("stack"))
    options = StackOptions(time_scale=TIME_SCALE, app_settings=FAST_APP_SETTINGS, workdir=workdir)
    with running_stack(options) as running:
        yield running


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/integration are integration tests whether or not they say so."""
    for item in items:
        if f"{os.sep}integration{os.sep}" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
