"""Event Grid: `Microsoft.Resources.Resource{Write,Delete,Action}{Success,Failure}` to webhooks.

Events are built as ARM emits them for a subscription system topic (arm-contract §11) and
delivered to subscribed webhook URLs in the Event Grid schema (a JSON array, `aeg-event-type:
Notification`) or CloudEvents 1.0, with bounded retries and backoff in REAL seconds.
There is deliberately no "replication finished" event: Azure has none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from .clock import format_event

WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
WRITE_FAILURE = "Microsoft.Resources.ResourceWriteFailure"
DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess"
DELETE_FAILURE = "Microsoft.Resources.ResourceDeleteFailure"
ACTION_SUCCESS = "Microsoft.Resources.ResourceActionSuccess"
ACTION_FAILURE = "Microsoft.Resources.ResourceActionFailure"
EVENT_TYPES = frozenset(
    {WRITE_SUCCESS, WRITE_FAILURE, DELETE_SUCCESS, DELETE_FAILURE, ACTION_SUCCESS, ACTION_FAILURE}
)
EVENT_GRID_SCHEMA = "EventGridSchema"
CLOUD_EVENT_SCHEMA = "CloudEventSchemaV1_0"


@dataclass(slots=True)
class RequestContext:
    """Who asked, as ARM records it in events (correlationId, claims, httpRequest)."""

    method: str
    url: str
    correlation_id: str
    client_request_id: str | None
    client_ip: str
    claims: dict[str, Any]
    principal_id: str


def claims_from_token(token: str, tenant_id: str) -> tuple[dict[str, Any], str]:
    """Claims of a JWT bearer token (unverified), or a plausible service-principal set."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded))
            if isinstance(payload, dict):
                oid = str(payload.get("oid") or payload.get("sub") or uuid.uuid4())
                return payload, oid
        except (ValueError, UnicodeDecodeError):
            pass
    oid = str(uuid.uuid5(uuid.NAMESPACE_URL, "arm-emulator:" + token))
    now = int(time.time())
    claims = {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": str(now),
        "nbf": str(now),
        "exp": str(now + 3600),
        "aio": "arm-emulator",
        "appid": oid,
        "appidacr": "2",
        "http://schemas.microsoft.com/identity/claims/identityprovider": (
            f"https://sts.windows.net/{tenant_id}/"
        ),
        "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": oid,
        "http://schemas.microsoft.com/identity/claims/tenantid": tenant_id,
        "uti": "arm-emulator",
        "ver": "1.0",
    }
    return claims, oid


def operation_name(resource_type: str, verb: str) -> str:
    """`Microsoft.Compute/restorePointCollections/restorePoints` + write -> .../write."""
    return f"{resource_type}/{verb}"


@dataclass(slots=True)
class WebhookSubscription:
    name: str
    url: str
    schema: str = EVENT_GRID_SCHEMA
    subject_begins_with: str | None = None
    subject_ends_with: str | None = None
    included_event_types: list[str] | None = None
    cloud_events_batch: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, event: dict[str, Any]) -> bool:
        subject = event["subject"].lower()
        if self.subject_begins_with and not subject.startswith(self.subject_begins_with.lower()):
            return False
        if self.subject_ends_with and not subject.endswith(self.subject_ends_with.lower()):
            return False
        return not (
            self.included_event_types and event["eventType"] not in self.included_event_types
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "url": self.url, "schema": self.schema}
        if self.subject_begins_with:
            out["subjectBeginsWith"] = self.subject_begins_with
        if self.subject_ends_with:
            out["subjectEndsWith"] = self.subject_ends_with
        if self.included_event_types:
            out["includedEventTypes"] = self.included_event_types
        if self.cloud_events_batch:
            out["cloudEventsBatch"] = True
        if self.headers:
            out["headers"] = self.headers
        return out


def parse_subscription(spec: Any, default_name: str) -> WebhookSubscription:
    if not isinstance(spec, dict):
        raise ValueError("a webhook subscription must be a JSON object")
    allowed = {
        "name",
        "url",
        "schema",
        "subjectBeginsWith",
        "subjectEndsWith",
        "includedEventTypes",
        "cloudEventsBatch",
        "headers",
    }
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"unknown webhook field(s): {sorted(unknown)}")
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("'url' must be an http(s) URL")
    schema = spec.get("schema", EVENT_GRID_SCHEMA)
    if schema not in (EVENT_GRID_SCHEMA, CLOUD_EVENT_SCHEMA):
        raise ValueError(f"'schema' must be {EVENT_GRID_SCHEMA!r} or {CLOUD_EVENT_SCHEMA!r}")
    types = spec.get("includedEventTypes")
    if types is not None and (
        not isinstance(types, list) or not all(t in EVENT_TYPES for t in types)
    ):
        raise ValueError(f"'includedEventTypes' must list event types from {sorted(EVENT_TYPES)}")
    for name in ("subjectBeginsWith", "subjectEndsWith", "name"):
        if name in spec and not isinstance(spec[name], str):
            raise ValueError(f"'{name}' must be a string")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError("'headers' must map strings to strings")
    return WebhookSubscription(
        name=spec.get("name") or default_name,
        url=url,
        schema=schema,
        subject_begins_with=spec.get("subjectBeginsWith"),
        subject_ends_with=spec.get("subjectEndsWith"),
        included_event_types=types,
        cloud_events_batch=bool(spec.get("cloudEventsBatch", False)),
        headers=headers,
    )


@dataclass(slots=True)
class Delivery:
    id: str
    subscription: str
    url: str
    schema: str
    event_ids: list[str]
    status: str = "pending"  # pending | delivered | failed
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subscription": self.subscription,
            "url": self.url,
            "schema": self.schema,
            "eventIds": self.event_ids,
            "status": self.status,
            "attempts": self.attempts,
        }


class EventBus:
    """Builds events, fans them out to subscriptions, delivers them in the background."""

    def __init__(
        self,
        tenant_id: str,
        retry_delays: list[float],
        timeout: float,
        log_limit: int = 10000,
    ) -> None:
        self.tenant_id = tenant_id
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.subscriptions: dict[str, WebhookSubscription] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=log_limit)
        self.deliveries: deque[Delivery] = deque(maxlen=log_limit)
        self._names = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Delivery, WebhookSubscription, list[dict[str, Any]]]] = []

    # -- subscriptions --------------------------------------------------------------------------

    def subscribe(self, spec: dict[str, Any]) -> WebhookSubscription:
        sub = parse_subscription(spec, f"webhook-{next(self._names)}")
        self.subscriptions[sub.name] = sub
        return sub

    def unsubscribe(self, name: str) -> bool:
        return self.subscriptions.pop(name, None) is not None

    def clear_log(self) -> None:
        self.events.clear()
        self.deliveries.clear()

    # -- building -------------------------------------------------------------------------------

    def emit(
        self,
        *,
        event_type: str,
        subscription_id: str,
        resource_id: str,
        operation: str,
        status: str,
        context: RequestContext | None,
        sim_time: float,
        include_http_request: bool,
    ) -> dict[str, Any]:
        """Record an event and queue a delivery to every matching subscription."""
        claims = context.claims if context else {}
        correlation = context.correlation_id if context else str(uuid.uuid4())
        principal = context.principal_id if context else str(uuid.uuid4())
        data: dict[str, Any] = {
            "authorization": {
                "scope": resource_id,
                "action": operation,
                "evidence": {
                    "role": "Contributor",
                    "roleAssignmentScope": f"/subscriptions/{subscription_id}",
                    "roleAssignmentId": uuid.uuid5(uuid.NAMESPACE_URL, principal).hex,
                    "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                    "principalId": principal.replace("-", ""),
                    "principalType": "ServicePrincipal",
                },
            },
            "claims": claims,
            "correlationId": correlation,
        }
        # httpRequest is "only included when updating an existing resource or deleting" [DOC].
        if include_http_request and context is not None:
            http_request: dict[str, Any] = {
                "clientRequestId": context.client_request_id or "",
                "clientIpAddress": context.client_ip,
                "method": context.method,
                "url": context.url,
            }
            data["httpRequest"] = http_request
        data.update(
            {
                "resourceProvider": operation.split("/", 1)[0],
                "resourceUri": resource_id,
                "operationName": operation,
                "status": status,
                "subscriptionId": subscription_id,
                "tenantId": self.tenant_id,
            }
        )
        event = {
            "topic": f"/subscriptions/{subscription_id}",
            "subject": resource_id,
            "eventType": event_type,
            "eventTime": format_event(sim_time),
            "id": str(uuid.uuid4()),
            "data": data,
            "dataVersion": "2",
            "metadataVersion": "1",
        }
        self.events.append(event)
        for sub in self.subscriptions.values():
            if sub.matches(event):
                delivery = Delivery(
                    id=str(uuid.uuid4()),
                    subscription=sub.name,
                    url=sub.url,
                    schema=sub.schema,
                    event_ids=[event["id"]],
                )
                self.deliveries.append(delivery)
                self._pending.append((delivery, sub, [event]))
        return event

    @staticmethod
    def to_cloud_event(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "type": event["eventType"],
            "source": event["topic"],
            "subject": event["subject"],
            "id": event["id"],
            "time": event["eventTime"],
            "datacontenttype": "application/json",
            "data": event["data"],
        }

    # -- delivery -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Start delivery tasks for queued deliveries (needs a running event loop)."""
        if not self._pending:
            return
        loop = asyncio.get_running_loop()
        pending, self._pending = self._pending, []
        for delivery, sub, events in pending:
            task = loop.create_task(self._deliver(delivery, sub, events))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
            self._client_loop = loop
        return self._client

    async def _deliver(
        self, delivery: Delivery, sub: WebhookSubscription, events: list[dict[str, Any]]
    ) -> None:
        headers = {"aeg-event-type": "Notification", "aeg-subscription-name": sub.name.upper()}
        headers.update(sub.headers)
        if sub.schema == CLOUD_EVENT_SCHEMA:
            cloud = [self.to_cloud_event(e) for e in events]
            if sub.cloud_events_batch:
                payload: Any = cloud
                headers["content-type"] = "application/cloudevents-batch+json; charset=utf-8"
            else:
                payload = cloud[0]
                headers["content-type"] = "application/cloudevents+json; charset=utf-8"
        else:
            payload = events
            headers["content-type"] = "application/json; charset=utf-8"
            headers["aeg-data-version"] = "2"
            headers["aeg-metadata-version"] = "1"
        body = json.dumps(payload).encode()
        delays = [0.0, *self.retry_delays]
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay)
            headers["aeg-delivery-count"] = str(attempt - 1)
            started = time.monotonic()
            record: dict[str, Any] = {"attempt": attempt, "time": time.time()}
            try:
                response = await self._http().post(sub.url, content=body, headers=headers)
                record["status"] = response.status_code
                ok = 200 <= response.status_code < 300
            except (httpx.HTTPError, OSError) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                ok = False
            record["durationMs"] = round((time.monotonic() - started) * 1000, 1)
            delivery.attempts.append(record)
            if ok:
                delivery.status = "delivered"
                return
        delivery.status = "failed"

    async def drain(self, wait_seconds: float = 30.0) -> None:
        """Wait for in-flight deliveries (tests, shutdown)."""
        self.flush()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_seconds)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            with contextlib.suppress(RuntimeError):  # its loop may be gone
                await self._client.aclose()
            self._client = None
