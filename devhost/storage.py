"""Storage accounts named by a binding's `connection`, queue clients and message encoding."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Mapping

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueServiceClient as SyncQueueServiceClient
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from devhost.errors import StartupError

DEFAULT_CONNECTION = "AzureWebJobsStorage"


def resolve_connection(connection: str | None, settings: Mapping[str, str], where: str) -> str:
    """The connection string for a binding, looked up like the host does.

    `connection: X` means setting X (or AzureWebJobsX); empty means AzureWebJobsStorage.
    Identity-based connections (`X__queueServiceUri`) need Azure AD, so not locally.
    """
    name = (connection or DEFAULT_CONNECTION).strip()
    for candidate in (name, f"AzureWebJobs{name}"):
        value = settings.get(candidate, "").strip()
        if value:
            _check_connection_string(value, candidate, where)
            return value
    for suffix in ("__queueServiceUri", "__serviceUri", "__accountName"):
        if settings.get(name + suffix):
            raise StartupError(
                f"{where}: connection '{name}' is identity-based ({name}{suffix}); devhost "
                f"supports connection strings only: set '{name}' to a connection string "
                "(for Azurite, the devstoreaccount1 string with QueueEndpoint=)"
            )
    raise StartupError(
        f"{where}: storage connection setting '{name}' is not set (expected a connection string)"
    )


def _check_connection_string(value: str, setting: str, where: str) -> None:
    try:
        SyncQueueServiceClient.from_connection_string(value).close()
    except ValueError as exc:
        # Never echo the value: it holds the account key.
        raise StartupError(
            f"{where}: setting '{setting}' is not a valid storage connection string"
        ) from exc


def account_label(connection_string: str) -> str:
    """A printable name for an account: never the key, only AccountName and endpoint."""
    if connection_string.strip().lower() == "usedevelopmentstorage=true":
        return "devstoreaccount1 (UseDevelopmentStorage)"
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    endpoint = parts.get("QueueEndpoint", "")
    return f"{parts.get('AccountName', '?')}{' at ' + endpoint if endpoint else ''}"


class QueueClients:
    """One async service client per connection string, shared by listeners and outputs."""

    def __init__(self) -> None:
        self._services: dict[str, QueueServiceClient] = {}
        self._created: set[tuple[str, str]] = set()

    def queue(self, connection_string: str, queue_name: str) -> QueueClient:
        service = self._services.get(connection_string)
        if service is None:
            # No encode/decode policies: devhost reads and writes raw message text itself,
            # so it can tell invalid base64 apart and copy poison messages byte for byte.
            service = QueueServiceClient.from_connection_string(connection_string)
            self._services[connection_string] = service
        return service.get_queue_client(queue_name)

    async def ensure_queue(
        self, connection_string: str, queue_name: str, force: bool = False
    ) -> None:
        key = (connection_string, queue_name)
        if key in self._created and not force:
            return
        with contextlib.suppress(ResourceExistsError):
            await self.queue(connection_string, queue_name).create_queue()
        self._created.add(key)

    async def close(self) -> None:
        for service in self._services.values():
            await service.close()
        self._services.clear()


class DecodeError(ValueError):
    """The message text is not valid for the configured messageEncoding."""


def decode_message(text: str, encoding: str) -> bytes:
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(str(exc)) from exc


def encode_message(body: bytes | str, encoding: str) -> str:
    data = body.encode("utf-8") if isinstance(body, str) else body
    if encoding == "none":
        return data.decode("utf-8")
    return base64.b64encode(data).decode("ascii")
