"""Storage accounts named by a binding's `connection`, queue clients and message encoding.

A binding's `connection: X` is resolved as the real host does: the setting section
`AzureWebJobsX`, else `X`. A section with a value is a connection string; a section with
children (`X__queueServiceUri`, ...) is an identity-based connection whose requests are signed
by an Entra ID credential: the managed identity with `X__credential=managedidentity` (and
`X__clientId` for a user-assigned one), else DefaultAzureCredential (`az login` locally).

There is no managed identity on a laptop. For Azurite with `--oauth basic` over HTTPS, two
settings stand in for it, and only for identity-based connections whose endpoints are all on
loopback: `STORAGE_STATIC_TOKEN` (the bearer token to send) and `STORAGE_CA_BUNDLE` (the PEM
file that signs Azurite's certificate). The app's own storage clients read the same two.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueServiceClient as SyncQueueServiceClient
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from devhost.errors import StartupError

DEFAULT_CONNECTION = "AzureWebJobsStorage"
STATIC_TOKEN_SETTING = "STORAGE_STATIC_TOKEN"  # noqa: S105 - a setting name, not a token
CA_BUNDLE_SETTING = "STORAGE_CA_BUNDLE"
MANAGED_IDENTITY = "managedidentity"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Identity-based properties the real host knows but devhost cannot honour.
_UNSUPPORTED = ("clientsecret", "certificate", "managedidentityresourceid")
# Properties are matched case-insensitively; messages name them as the docs spell them.
_SPELLING = {
    p.lower(): p
    for p in (
        "queueServiceUri", "serviceUri", "blobServiceUri", "tableServiceUri", "accountName",
        "clientSecret", "certificate", "managedIdentityResourceId",
    )
}  # fmt: skip


@dataclass(frozen=True)
class StorageConnection:
    """Where a binding's queues live and how requests to them are authorised."""

    setting: str  # the setting section it came from, e.g. AzureWebJobsStorage
    connection_string: str | None = field(default=None, repr=False)
    queue_service_uri: str | None = None
    credential: str | None = None  # "managedidentity", or None for DefaultAzureCredential
    client_id: str | None = None
    static_token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    @property
    def identity_based(self) -> bool:
        return self.connection_string is None

    @property
    def label(self) -> str:
        """A printable name: never a key or a token."""
        if self.connection_string is not None:
            return account_label(self.connection_string)
        if self.static_token:
            how = f"static token from {STATIC_TOKEN_SETTING}"
        elif self.credential == MANAGED_IDENTITY:
            how = "managed identity" + (f" {self.client_id}" if self.client_id else "")
        else:
            how = "DefaultAzureCredential"
        return f"{self.queue_service_uri} (identity-based: {how})"


def _section(settings: Mapping[str, str], name: str) -> tuple[str, dict[str, str]] | None:
    """The value and the children of setting section `name` (`name__prop` or `name:prop`,
    case-insensitive like the host's configuration), or None if the section does not exist."""
    lowered = name.lower()
    value = ""
    children: dict[str, str] = {}
    for key, raw in settings.items():
        low = key.lower()
        if low == lowered:
            value = raw.strip()
            continue
        for separator in ("__", ":"):
            if low.startswith(lowered + separator) and raw.strip():
                children[low[len(lowered) + len(separator) :]] = raw.strip()
    return (value, children) if value or children else None


def resolve_connection(
    connection: str | None, settings: Mapping[str, str], where: str
) -> StorageConnection:
    """The storage connection for a binding, looked up like the host does.

    `connection: X` means section AzureWebJobsX, else X; empty means AzureWebJobsStorage.
    """
    name = (connection or DEFAULT_CONNECTION).strip()
    for candidate in (f"AzureWebJobs{name}", name):
        found = _section(settings, candidate)
        if found is None:
            continue
        value, children = found
        if value:
            _check_connection_string(value, candidate, where)
            return StorageConnection(candidate, connection_string=value)
        return _identity_connection(candidate, children, settings, where)
    raise StartupError(
        f"{where}: storage connection setting '{name}' is not set (expected a connection "
        f"string, or {name}__queueServiceUri for an identity-based connection)"
    )


def _identity_connection(
    name: str, props: Mapping[str, str], settings: Mapping[str, str], where: str
) -> StorageConnection:
    queue_uri = props.get("queueserviceuri") or props.get("serviceuri")
    if not queue_uri and props.get("accountname"):
        queue_uri = f"https://{props['accountname']}.queue.core.windows.net"
    if not queue_uri:
        raise StartupError(
            f"{where}: identity-based connection '{name}' has no queue endpoint: set "
            f"{name}__queueServiceUri (or {name}__serviceUri, {name}__accountName)"
        )
    credential = props.get("credential", "").lower() or None
    if credential not in (None, MANAGED_IDENTITY):
        raise StartupError(
            f"{where}: {name}__credential={credential!r} is not supported: use "
            f"'{MANAGED_IDENTITY}', or leave it unset for DefaultAzureCredential"
        )
    unsupported = [p for p in _UNSUPPORTED if p in props]
    if unsupported:
        raise StartupError(
            f"{where}: devhost does not support {name}__{_SPELLING[unsupported[0]]}: use "
            f"{name}__credential=managedidentity (+ __clientId) or DefaultAzureCredential"
        )
    endpoints = {
        prop: props[prop]
        for prop in ("queueserviceuri", "serviceuri", "blobserviceuri", "tableserviceuri")
        if prop in props
    } or {"accountname": queue_uri}
    token = settings.get(STATIC_TOKEN_SETTING, "").strip() or None
    ca_bundle = settings.get(CA_BUNDLE_SETTING, "").strip() or None
    stand_ins = ((STATIC_TOKEN_SETTING, token), (CA_BUNDLE_SETTING, ca_bundle))
    local_only = [setting for setting, value in stand_ins if value]
    for prop, uri in endpoints.items():
        parts = urlsplit(uri)
        if parts.scheme != "https" or not parts.hostname:
            raise StartupError(
                f"{where}: {name}__{_SPELLING[prop]}={uri!r} must be an https:// service URI "
                "(identity-based connections send bearer tokens)"
            )
        if local_only and parts.hostname not in _LOOPBACK:
            raise StartupError(
                f"{where}: setting {' and '.join(local_only)} is for a local emulator only, "
                f"and {name}__{_SPELLING[prop]} is not a loopback endpoint"
            )
    if ca_bundle and not Path(ca_bundle).is_file():
        raise StartupError(f"{where}: setting {CA_BUNDLE_SETTING}={ca_bundle!r} is not a file")
    return StorageConnection(
        name,
        queue_service_uri=queue_uri,
        credential=credential,
        client_id=props.get("clientid"),
        static_token=token,
        ca_bundle=ca_bundle,
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


class StaticTokenCredential:
    """An AsyncTokenCredential answering every scope with one fixed token (never shown)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenCredential(<token hidden>)"

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None


def _credential(connection: StorageConnection) -> Any:
    if connection.static_token:
        return StaticTokenCredential(connection.static_token)
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if connection.credential == MANAGED_IDENTITY:
        return ManagedIdentityCredential(client_id=connection.client_id)
    return DefaultAzureCredential(managed_identity_client_id=connection.client_id)


def _environment_settings_apply() -> bool:
    """Would aiohttp's `trust_env` change anything (a proxy variable, a netrc file)? It looks
    both up on every request in a worker thread; without either, the lookups are skipped."""
    if any(k.lower().endswith("_proxy") and v for k, v in os.environ.items()):
        return True
    return Path(os.environ.get("NETRC") or Path("~/.netrc").expanduser()).is_file()


class QueueClients:
    """One async service client per connection, shared by listeners and outputs."""

    def __init__(self) -> None:
        self._services: dict[StorageConnection, QueueServiceClient] = {}
        self._credentials: list[Any] = []
        self._created: set[tuple[StorageConnection, str]] = set()

    def _service(self, connection: StorageConnection) -> QueueServiceClient:
        # No encode/decode policies: devhost reads and writes raw message text itself,
        # so it can tell invalid base64 apart and copy poison messages byte for byte.
        env = {"use_env_settings": _environment_settings_apply()}
        if connection.connection_string is not None:
            return QueueServiceClient.from_connection_string(connection.connection_string, **env)
        assert connection.queue_service_uri
        credential = _credential(connection)
        self._credentials.append(credential)
        # A CA path: azure-core's aiohttp transport then trusts only that CA for this client.
        verify = {"connection_verify": connection.ca_bundle} if connection.ca_bundle else {}
        return QueueServiceClient(
            connection.queue_service_uri, credential=credential, **verify, **env
        )

    def queue(self, connection: StorageConnection, queue_name: str) -> QueueClient:
        service = self._services.get(connection)
        if service is None:
            service = self._services[connection] = self._service(connection)
        return service.get_queue_client(queue_name)

    async def ensure_queue(
        self, connection: StorageConnection, queue_name: str, force: bool = False
    ) -> None:
        key = (connection, queue_name)
        if key in self._created and not force:
            return
        with contextlib.suppress(ResourceExistsError):
            await self.queue(connection, queue_name).create_queue()
        self._created.add(key)

    async def close(self) -> None:
        for service in self._services.values():
            await service.close()
        self._services.clear()
        for credential in self._credentials:
            await credential.close()
        self._credentials.clear()


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
