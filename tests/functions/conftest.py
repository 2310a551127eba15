"""Function-level tests: the decorated functions of function_app.py called directly with real
`func.*` objects, against real Azurite and the real ARM emulator (no host in between).

They use their own queue and table names so the session's running local host, which listens on
the default names, never takes their messages.
"""

from __future__ import annotations

import base64
import importlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest_asyncio
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

from devstack.stack import FAST_APP_SETTINGS, Stack
from tests.support import SUBSCRIPTION

FN_QUEUES = {
    "QUEUE_ENSURE_TARGET": "fn-ensure-target",
    "QUEUE_START_COPY": "fn-start-copy",
    "QUEUE_POLL": "fn-poll",
    "QUEUE_FINISH": "fn-finish",
    "QUEUE_RERUN": "fn-rerun",
    "QUEUE_DRILL": "fn-drill",
    "EVENTS_QUEUE": "fn-events",
    "LEDGER_TABLE": "fnjobs",
    # One run per request: these tests look at how one run ends (re-runs: test_reruns.py).
    "RERUN_MAX_RUNS": "1",
}
# The status and plan calls list this subscription, so collections that tests tag with a tag
# policy show up as protected pairs (tests/functions/test_openapi.py).
FN_SWEEP = {"SWEEP_SUBSCRIPTIONS": SUBSCRIPTION}


@dataclass
class FunctionApp:
    module: ModuleType
    settings: dict[str, str]
    stack: Stack

    functions: dict[str, Callable[..., Awaitable[Any]]]

    def function(self, name: str) -> Callable[..., Awaitable[Any]]:
        return self.functions[name]

    @property
    def connection(self) -> str:
        return self.stack.storage_connection

    def queue(self, setting: str) -> str:
        return FN_QUEUES[setting]

    async def http(
        self,
        name: str,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        params: dict[str, str] | None = None,
        route_params: dict[str, str] | None = None,
    ) -> func.HttpResponse:
        request = func.HttpRequest(
            method=method,
            url=url,
            headers={"content-type": "application/json"},
            params=params or {},
            route_params=route_params or {},
            body=body,
        )
        return await self.function(name)(request)

    async def deliver(self, function_name: str, text: str | bytes, dequeue_count: int = 1) -> None:
        body = text.encode() if isinstance(text, str) else text
        # The concrete class the worker builds (with dequeue_count), not the abstract one.
        message = QueueMessage(id=str(uuid.uuid4()), body=body, dequeue_count=dequeue_count)
        await self.function(function_name)(message)

    def receive(self, setting: str) -> list[str]:
        """Take the visible messages of one of the app's queues (decoded)."""
        client = QueueClient.from_connection_string(self.connection, self.queue(setting))
        texts = []
        try:
            for message in client.receive_messages(messages_per_page=32, visibility_timeout=60):
                texts.append(base64.b64decode(message.content).decode())
                client.delete_message(message)
        except Exception as exc:
            if "QueueNotFound" not in str(exc):
                raise
        return texts


# Package scope: the app's settings leave os.environ as soon as these tests are done, before
# any later test starts processes that inherit the environment.
@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def fn_app(stack: Stack) -> AsyncIterator[FunctionApp]:
    settings = {**stack.app_settings(), **FAST_APP_SETTINGS, **FN_QUEUES, **FN_SWEEP}
    saved = dict(os.environ)
    os.environ.update(settings)
    import shared.services

    shared.services._services = None
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    try:
        # get_functions() validates and may run only once per app object.
        functions = {
            f.get_function_name(): f.get_user_function() for f in module.app.get_functions()
        }
        yield FunctionApp(module, settings, stack, functions)
    finally:
        if shared.services._services is not None:
            await shared.services._services.close()
        shared.services._services = None
        os.environ.clear()
        os.environ.update(saved)
