"""Storage account access for queues and tables, by connection string or by identity.

Follows the Functions host's convention for a connection named N: the setting N holds a
connection string, or N__queueServiceUri / N__tableServiceUri name the endpoints and an Entra
ID identity signs the requests: the managed identity with N__credential=managedidentity
(N__clientId for a user-assigned one), else DefaultAzureCredential.

Locally there is no managed identity endpoint. For tests against Azurite (`--oauth basic`,
HTTPS) two settings stand in for it, and only when every endpoint of N is on loopback:
STORAGE_STATIC_TOKEN (a bearer token sent instead of the identity's) and STORAGE_CA_BUNDLE
(the PEM file that signs the emulator's certificate).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.data.tables.aio import TableServiceClient
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueServiceClient

from shared.errors import SettingsError
from shared.storage.counting import TransactionCounter

STATIC_TOKEN_SETTING = "STORAGE_STATIC_TOKEN"  # noqa: S105 - a setting name, not a token
CA_BUNDLE_SETTING = "STORAGE_CA_BUNDLE"
MANAGED_IDENTITY = "managedidentity"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class StaticTokenCredential:
    """An AsyncTokenCredential that answers every scope with one fixed bearer token: the
    local stand-in for the managed identity (STORAGE_STATIC_TOKEN). Never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenCredential(<token hidden>)"

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        # The token does not change; an hour keeps the SDK from asking on every request.
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _setting(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _check_endpoints(name: str, endpoints: Mapping[str, str], local_only: list[str]) -> None:
    for setting, uri in endpoints.items():
        parts = urlsplit(uri)
        if parts.scheme != "https" or not parts.hostname:
            # The SDKs send bearer tokens over TLS only; the real host wants https too.
            raise SettingsError(
                f"setting {name}__{setting}={uri!r} must be an https:// service URI "
                "(identity-based connections send bearer tokens)"
            )
        if local_only and parts.hostname not in _LOOPBACK:
            raise SettingsError(
                f"setting {' and '.join(local_only)} is for a local emulator only: "
                f"{name}__{setting} is not a loopback endpoint"
            )


@dataclass(frozen=True)
class StorageAccount:
    connection_string: str | None = field(default=None, repr=False)
    queue_service_uri: str | None = None
    table_service_uri: str | None = None
    client_id: str | None = None
    # N__credential: "managedidentity", or None for DefaultAzureCredential.
    credential: str | None = None
    static_token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> StorageAccount:
        env = os.environ if env is None else env
        static_token = _setting(env, STATIC_TOKEN_SETTING)
        ca_bundle = _setting(env, CA_BUNDLE_SETTING)
        stand_ins = ((STATIC_TOKEN_SETTING, static_token), (CA_BUNDLE_SETTING, ca_bundle))
        local_only = [setting for setting, value in stand_ins if value]
        connection = env.get(name, "").strip()
        if connection:
            if local_only:
                raise SettingsError(
                    f"setting {' and '.join(local_only)} applies to identity-based connections "
                    f"only, and {name} holds a connection string: unset one of them"
                )
            return cls(connection_string=connection)
        queue_uri = _setting(env, f"{name}__queueServiceUri")
        table_uri = _setting(env, f"{name}__tableServiceUri")
        if not (queue_uri and table_uri):
            raise SettingsError(
                f"storage connection {name!r} is not configured: set {name} to a connection "
                f"string, or {name}__queueServiceUri and {name}__tableServiceUri for "
                "identity-based access"
            )
        credential = (_setting(env, f"{name}__credential") or "").lower() or None
        if credential not in (None, MANAGED_IDENTITY):
            raise SettingsError(
                f"setting {name}__credential={credential!r} is not supported: use "
                f"{MANAGED_IDENTITY!r}, or leave it unset for DefaultAzureCredential"
            )
        endpoints = {"queueServiceUri": queue_uri, "tableServiceUri": table_uri}
        if blob_uri := _setting(env, f"{name}__blobServiceUri"):
            endpoints["blobServiceUri"] = blob_uri
        _check_endpoints(name, endpoints, local_only)
        if ca_bundle and not Path(ca_bundle).is_file():
            raise SettingsError(f"setting {CA_BUNDLE_SETTING}={ca_bundle!r} is not a file")
        return cls(
            None,
            queue_uri,
            table_uri,
            _setting(env, f"{name}__clientId"),
            credential,
            static_token,
            ca_bundle,
        )

    def _credential(self) -> Any:
        if self.static_token:
            return StaticTokenCredential(self.static_token)
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

        if self.credential == MANAGED_IDENTITY or self.client_id:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential()

    def _transport_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"use_env_settings": environment_settings_apply()}
        if self.ca_bundle:
            # A path: azure-core's aiohttp transport then trusts only that CA for these clients.
            options["connection_verify"] = self.ca_bundle
        return options

    def queue_service(self) -> QueueServiceClient:
        # The Functions host decodes queue messages as base64 by default; encode to match.
        policy = TextBase64EncodePolicy()
        # Appended after the retry policy: every attempt on the wire is counted. Queue clients
        # made by get_queue_client share this pipeline's policies.
        counted = {"_additional_pipeline_policies": [TransactionCounter("queue")]}
        if self.connection_string:
            return QueueServiceClient.from_connection_string(
                self.connection_string,
                message_encode_policy=policy,
                **counted,
                **self._transport_options(),
            )
        assert self.queue_service_uri
        return QueueServiceClient(
            self.queue_service_uri,
            credential=self._credential(),
            message_encode_policy=policy,
            **counted,
            **self._transport_options(),
        )

    def table_service(self) -> TableServiceClient:
        if self.connection_string:
            service = TableServiceClient.from_connection_string(
                self.connection_string, **self._transport_options()
            )
        else:
            assert self.table_service_uri
            service = TableServiceClient(
                self.table_service_uri, credential=self._credential(), **self._transport_options()
            )
        return counting_tables(service)


def environment_settings_apply(env: Mapping[str, str] | None = None) -> bool:
    """Would aiohttp's `trust_env` change anything: a proxy variable or a netrc file?

    With it on, aiohttp looks both up again on every request, in a worker thread: a thread hop
    per storage transaction. Without any of them the lookups find nothing, so they are turned
    off; with one, they stay on exactly as before."""
    env = os.environ if env is None else env
    if any(name.lower().endswith("_proxy") and value for name, value in env.items()):
        return True
    netrc = env.get("NETRC") or str(Path("~/.netrc").expanduser())
    return Path(netrc).is_file()


def counting_tables(service: TableServiceClient) -> TableServiceClient:
    """Count the transactions of every table client `service.get_table_client` makes.

    azure-data-tables takes no extra policies, but builds each table client's pipeline from the
    service's policy list: the counter goes in right after the retry policy (every attempt)."""
    policies: list[Any] = service._policies  # no public hook for extra policies
    after_retry = next(
        (i + 1 for i, p in enumerate(policies) if type(p).__name__.endswith("RetryPolicy")),
        len(policies),
    )
    policies.insert(after_retry, TransactionCounter("table"))
    return service
