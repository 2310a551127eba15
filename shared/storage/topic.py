"""Optional: publish each CloudEvent to an Event Grid custom topic as well as the events queue.

Set EVENTGRID_TOPIC_ENDPOINT (the topic's endpoint, `https://<topic>.<region>-1.eventgrid.azure.net/api/events`)
and either EVENTGRID_TOPIC_KEY (sent as `aeg-sas-key`) or nothing (the app's managed identity,
which needs the *EventGrid Data Sender* role on the topic). The topic must use the CloudEvents
1.0 input schema. A failed publish raises, so the step that emitted the event is retried and
the event is sent again (consumers deduplicate on the event id).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from shared.errors import TopicPublishError

EVENTGRID_SCOPE = "https://eventgrid.azure.net/.default"


class TopicPublisher:
    def __init__(
        self,
        endpoint: str,
        key: str | None,
        *,
        managed_identity_client_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._key = key
        self._client_id = managed_identity_client_id
        self._credential: Any = None
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0), transport=transport, follow_redirects=False
        )

    async def _auth_headers(self) -> dict[str, str]:
        if self._key:
            return {"aeg-sas-key": self._key}
        async with self._lock:
            if self._token is None or time.time() > self._token[1] - 300:
                if self._credential is None:
                    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

                    self._credential = (
                        ManagedIdentityCredential(client_id=self._client_id)
                        if self._client_id
                        else DefaultAzureCredential()
                    )
                access = await self._credential.get_token(EVENTGRID_SCOPE)
                self._token = (access.token, float(access.expires_on))
            return {"Authorization": f"Bearer {self._token[0]}"}

    async def publish(self, event_json: str) -> None:
        headers = {"Content-Type": "application/cloudevents+json; charset=utf-8"}
        headers.update(await self._auth_headers())
        try:
            response = await self._http.post(
                self._endpoint, content=event_json.encode(), headers=headers
            )
        except httpx.TransportError as exc:
            raise TopicPublishError(
                f"Event Grid topic unreachable ({type(exc).__name__})"
            ) from None
        if response.status_code >= 300:
            raise TopicPublishError(f"Event Grid topic answered HTTP {response.status_code}")

    async def close(self) -> None:
        await self._http.aclose()
        if self._credential is not None:
            await self._credential.close()
