"""Storage account access for queues and tables, by connection string or by identity.

Follows the Functions host's convention for a connection named N: the setting N holds a
connection string, or N__queueServiceUri / N__tableServiceUri name the endpoints and the
managed identity (N__clientId for a user-assigned one) signs the requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.data.tables.aio import TableServiceClient
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueServiceClient

from shared.errors import SettingsError


@dataclass(frozen=True)
class StorageAccount:
    connection_string: str | None = field(default=None, repr=False)
    queue_service_uri: str | None = None
    table_service_uri: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> StorageAccount:
        env = os.environ if env is None else env
        connection = env.get(name, "").strip()
        if connection:
            return cls(connection_string=connection)
        queue_uri = env.get(f"{name}__queueServiceUri", "").strip() or None
        table_uri = env.get(f"{name}__tableServiceUri", "").strip() or None
        if queue_uri and table_uri:
            return cls(None, queue_uri, table_uri, env.get(f"{name}__clientId", "").strip() or None)
        raise SettingsError(
            f"storage connection {name!r} is not configured: set {name} to a connection string, "
            f"or {name}__queueServiceUri and {name}__tableServiceUri for identity-based access"
        )

    def _credential(self) -> Any:
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

        if self.client_id:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential()

    def queue_service(self) -> QueueServiceClient:
        # The Functions host decodes queue messages as base64 by default; encode to match.
        policy = TextBase64EncodePolicy()
        if self.connection_string:
            return QueueServiceClient.from_connection_string(
                self.connection_string, message_encode_policy=policy
            )
        assert self.queue_service_uri
        return QueueServiceClient(
            self.queue_service_uri, credential=self._credential(), message_encode_policy=policy
        )

    def table_service(self) -> TableServiceClient:
        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string)
        assert self.table_service_uri
        return TableServiceClient(self.table_service_uri, credential=self._credential())
