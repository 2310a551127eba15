"""Session-wide local services: Azurite, the ARM emulator and the local function host.

One stack per test session (started on first use, stopped by PID at the end, also on failure).
The host runs function_app.py with settings tuned so a copy takes seconds: the emulator runs
600x faster than real time (10 simulated minutes per second) and the poll schedule is scaled
to match.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from devstack.stack import (
    FAST_APP_SETTINGS,
    FAST_TIME_SCALE,
    Stack,
    StackOptions,
    running_stack,
)
from shared.model.message import Stage
from shared.services import Services
from shared.settings import Settings
from tests.event_contract import check_event
from tests.support import unique

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


@pytest.fixture(autouse=True)
def emitted_events_meet_the_contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every CloudEvent the app emits in-process during a test is checked against the event
    contract (tests/event_contract.py: the CloudEvents SDK, the data's JSON Schema, the subject
    rule). Problems are collected and fail the test at its end: raised inside emit they could
    be handled as a stage failure and never seen."""
    problems: list[str] = []
    emit = Services.emit

    async def checked_emit(self: Services, event_json: str) -> None:
        try:
            check_event(event_json)
        except AssertionError as exc:
            problems.append(str(exc))
        await emit(self, event_json)

    monkeypatch.setattr(Services, "emit", checked_emit)
    yield
    assert not problems, "emitted events that break the event contract:\n" + "\n".join(problems)


QUEUE_SETTINGS = {
    Stage.ENSURE_TARGET: "QUEUE_ENSURE_TARGET",
    Stage.START_COPY: "QUEUE_START_COPY",
    Stage.POLL: "QUEUE_POLL",
    Stage.FINISH: "QUEUE_FINISH",
    Stage.RERUN: "QUEUE_RERUN",
}

MakeServices = Callable[..., Awaitable[Services]]


@pytest_asyncio.fixture(loop_scope="session")
async def make_services(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MakeServices]:
    made: list[Services] = []

    async def make(**overrides: str) -> Services:
        prefix = unique("sf").replace("-", "")
        env = {
            **stack.app_settings(),
            **FAST_APP_SETTINGS,
            "ARM_MAX_ATTEMPTS": "1",
            "STAGE_RETRY_BASE_SECONDS": "0",
            # One run per request: these tests look at how one run ends; re-run tests opt in.
            "RERUN_MAX_RUNS": "1",
            **{setting: f"{prefix}-{stage.value}" for stage, setting in QUEUE_SETTINGS.items()},
            "EVENTS_QUEUE": f"{prefix}-events",
            "LEDGER_TABLE": f"{prefix}jobs",
            "RULES_TABLE": f"{prefix}rules",
            **overrides,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = Services.create(Settings.from_env())
        made.append(services)
        return services

    yield make
    for services in made:
        await services.close()
