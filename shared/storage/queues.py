"""Sending job and event messages to Azure Storage queues (base64, as the Functions host reads)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

log = logging.getLogger(__name__)

# Azure Storage caps a message's initial invisibility at 7 days.
MAX_VISIBILITY_DELAY_SECONDS = 7 * 24 * 3600


class QueueSender:
    def __init__(self, service: QueueServiceClient) -> None:
        self._service = service
        self._clients: dict[str, QueueClient] = {}
        self._created: set[str] = set()
        self._lock = asyncio.Lock()

    def client(self, name: str) -> QueueClient:
        if name not in self._clients:
            self._clients[name] = self._service.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
        return self._clients[name]

    async def ensure(self, name: str) -> None:
        if name in self._created:
            return
        async with self._lock:
            if name in self._created:
                return
            with contextlib.suppress(ResourceExistsError):
                await self.client(name).create_queue()
            self._created.add(name)

    async def send(self, name: str, text: str, *, delay_seconds: float = 0.0) -> None:
        """Send `text`; `delay_seconds` keeps it invisible that long (the poll stage's timer)."""
        await self.ensure(name)
        delay = min(max(math.ceil(delay_seconds), 0), MAX_VISIBILITY_DELAY_SECONDS)
        await self.client(name).send_message(text, visibility_timeout=delay or None)

    async def take_raw(self, name: str, *, limit: int = 320) -> list[tuple[str, str, str]]:
        """Up to `limit` visible messages of `name` as stored (no base64 decoding), each as
        (text, id, pop receipt), hidden for five minutes until `delete` removes them. A queue
        that does not exist holds nothing."""
        raw = self._service.get_queue_client(name)  # no decode policy: what a writer put there
        taken: list[tuple[str, str, str]] = []
        try:
            async for message in raw.receive_messages(messages_per_page=32, visibility_timeout=300):
                taken.append((str(message.content or ""), message.id, message.pop_receipt or ""))
                if len(taken) >= limit:
                    break
        except ResourceNotFoundError:
            return []
        finally:
            await raw.close()
        return taken

    async def delete(self, name: str, message_id: str, pop_receipt: str) -> None:
        await self.client(name).delete_message(message_id, pop_receipt)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        await self._service.close()
