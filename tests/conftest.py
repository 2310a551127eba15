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

from devstack.stack import (
    FAST_APP_SETTINGS,
    FAST_TIME_SCALE,
    Stack,
    StackOptions,
    running_stack,
)

# Ten simulated minutes (Azure's progress granularity) per real second.
TIME_SCALE = FAST_TIME_SCALE


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
