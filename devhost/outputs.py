"""Queue output bindings: turn what a function set into messages, as the host does."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from azure.functions.queue import QueueMessageOutConverter

from devhost.metadata import BindingSpec
from devhost.storage import QueueClients, StorageConnection, encode_message, resolve_connection


def queue_output_bodies(value: Any) -> list[bytes | str]:
    """Message bodies for a value set on a queue output, via the library's own encoder.

    str/bytes -> one message; a QueueMessage -> its JSON `{"id","body"}` (the host sends the
    JSON text); a list -> one message per item (objects as JSON text).
    """
    if value is None:
        return []
    try:
        datum = QueueMessageOutConverter.encode(value, expected_type=None)
    # azure-functions' converter signals "cannot encode this type" with NotImplementedError;
    # say which types a queue output takes instead.
    except NotImplementedError as exc:
        raise TypeError(
            f"a queue output cannot take a {type(value).__name__}: use str, bytes, "
            "func.QueueMessage or a list of those"
        ) from exc
    if datum.type in ("string", "bytes"):
        return [datum.value]
    parsed = json.loads(datum.value)
    items = parsed if isinstance(parsed, list) else [parsed]
    return [i if isinstance(i, str) else json.dumps(i) for i in items]


class QueueOutputSender:
    """Sends output values; tells local listeners of that queue to poll now (the host's
    SharedQueueWatcher does the same, so a chain of stages does not wait for back-off)."""

    def __init__(
        self,
        clients: QueueClients,
        settings: Mapping[str, str],
        encoding: str,
        notify: Callable[[StorageConnection, str], None] | None = None,
    ) -> None:
        self._clients = clients
        self._settings = settings
        self._encoding = encoding
        self._notify = notify or (lambda connection, queue: None)

    def connection_for(self, function_name: str, binding: BindingSpec) -> StorageConnection:
        return resolve_connection(
            binding.get("connection"),
            self._settings,
            f"function '{function_name}', output '{binding.name}'",
        )

    async def send(self, function_name: str, binding: BindingSpec, value: Any) -> int:
        bodies = queue_output_bodies(value)
        if not bodies:
            return 0
        connection = self.connection_for(function_name, binding)
        queue_name = str(binding.get("queueName"))
        await self._clients.ensure_queue(connection, queue_name)  # the host creates it too
        client = self._clients.queue(connection, queue_name)
        for body in bodies:
            await client.send_message(encode_message(body, self._encoding))
        self._notify(connection, queue_name)
        return len(bodies)


OutputSend = Callable[[str, BindingSpec, Any], Awaitable[int]]
