"""The ARM surface as a raw ASGI app: routing, auth, api-version, faults, headers, request log.

Raw ASGI (no framework routing or middleware) keeps the hot path - a restore point GET with
`$expand=instanceView` - short enough for well over 1,000 requests/s on one core.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from . import (
    authorization,
    disk_restore_points,
    disks,
    encryption,
    errors,
    ids,
    ratelimits,
    resources,
    restore_points,
    rpcs,
    versions,
)
from .clock import format_routing
from .core import Core
from .engine import Emulator
from .errors import ArmError
from .events import RequestContext, claims_from_token
from .faults import ANSWER_KINDS, DEFAULT_HTTP_ERRORS
from .formatting import dumps
from .wire import ArmRequest, Reply

log = logging.getLogger("arm_emulator")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TRANSPORT_KEY = "arm_emulator.transport"
MAX_BODY = 4 * 1024 * 1024
REQUEST_FAULT_KINDS = frozenset({"http", "delay", "drop"})

Handler = Callable[[Core, ids.Route, ArmRequest], Reply]


def _operation_status(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    return core.ops.status(route, req)


# (route kind, method) -> (ARM operationId, handler)
ROUTES: dict[tuple[str, str], tuple[str, Handler]] = {
    ("subscription", "GET"): ("Subscriptions_Get", resources.get_subscription),
    ("rg", "PUT"): ("ResourceGroups_CreateOrUpdate", resources.put_rg),
    ("rg", "GET"): ("ResourceGroups_Get", resources.get_rg),
    ("vm", "GET"): ("VirtualMachines_Get", resources.get_vm),
    ("disk", "GET"): ("Disks_Get", disks.get_disk),
    ("disk", "PUT"): ("Disks_CreateOrUpdate", disks.put_disk),
    ("des", "GET"): ("DiskEncryptionSets_Get", encryption.get_des),
    ("disk", "DELETE"): ("Disks_Delete", disks.delete_disk),
    ("disk_list", "GET"): ("Disks_ListByResourceGroup", disks.list_disks),
    ("rpc", "PUT"): ("RestorePointCollections_CreateOrUpdate", rpcs.put_rpc),
    ("rpc", "GET"): ("RestorePointCollections_Get", rpcs.get_rpc),
    ("rpc", "PATCH"): ("RestorePointCollections_Update", rpcs.patch_rpc),
    ("rpc", "DELETE"): ("RestorePointCollections_Delete", rpcs.delete_rpc),
    ("rpc_list", "GET"): ("RestorePointCollections_List", rpcs.list_rpcs),
    ("rpc_list_all", "GET"): ("RestorePointCollections_ListAll", rpcs.list_rpcs),
    ("rp", "PUT"): ("RestorePoints_Create", restore_points.put_rp),
    ("rp", "GET"): ("RestorePoints_Get", restore_points.get_rp),
    ("rp", "DELETE"): ("RestorePoints_Delete", restore_points.delete_rp),
    ("drp_list", "GET"): ("DiskRestorePoint_ListByRestorePoint", disk_restore_points.list_drps),
    ("drp", "GET"): ("DiskRestorePoint_Get", disk_restore_points.get_drp),
    # The operationId of a POST depends on the action (see _operation_name).
    ("drp_action", "POST"): ("DiskRestorePoint_Action", disk_restore_points.drp_action),
    ("operation", "GET"): ("Operations_Get", _operation_status),
    ("permissions", "GET"): ("Permissions_ListForResourceGroup", authorization.list_permissions),
}
OPERATIONS: dict[tuple[str, str], str] = {key: name for key, (name, _) in ROUTES.items()}
FAMILY: dict[str, str] = {
    "subscription": "subscription",
    "rg": "resources",
    "vm": "vm",
    "disk": "disk",
    "des": "disk",
    "disk_list": "disk",
    "drp": "disk",
    "drp_list": "disk",
    "drp_action": "disk",
    "rpc": "compute",
    "rpc_list": "compute",
    "rpc_list_all": "compute",
    "rp": "compute",
    "rp_list": "compute",
    "operation": "operation",
    "permissions": "authorization",
}
RESOURCE_LIMITS: dict[str, str] = {
    "Operations_Get": "Microsoft.Compute/GetOperationResource;59,"
    "Microsoft.Compute/GetOperationSubscriptionMaximum;14995",
    "RestorePoints_Get": "Microsoft.Compute/LowCostGetRestorePointSubscriptionMaximum;599",
    "RestorePointCollections_Get": (
        "Microsoft.Compute/LowCostGetRestorePointSubscriptionMaximum;599"
    ),
}
JSON_TYPE = b"application/json; charset=utf-8"
STATIC_HEADERS: list[tuple[bytes, bytes]] = [
    (b"cache-control", b"no-cache"),
    (b"pragma", b"no-cache"),
    (b"expires", b"-1"),
    (b"x-content-type-options", b"nosniff"),
]


class ConnectionDropped(Exception):
    """Raised in-process (no socket to close) when a `drop` fault fires."""


class ArmApp:
    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        emu = self.emu
        emu.ensure_background()
        emu.settle()
        method: str = scope["method"]
        path: str = scope["path"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        route = ids.parse_path(path)
        operation = _operation_name(route, method)
        correlation = headers.get("x-ms-correlation-request-id") or ids.fast_guid()
        status: int | None = None
        fault_note: str | None = None
        drop_after = False
        try:
            reply: Reply | None = None
            fired = emu.faults.fire(
                operation, method, path, REQUEST_FAULT_KINDS, exclusive=ANSWER_KINDS
            )
            for rule in fired:
                if rule.kind == "delay":
                    await asyncio.sleep(float(rule.params.get("seconds", 0)))
            for rule in fired:
                if rule.kind == "drop":
                    fault_note = f"{rule.id}:drop"
                    if rule.params.get("phase", "before") == "before":
                        await _drop(scope)
                        return
                    drop_after = True
                elif rule.kind == "http":
                    fault_note = f"{rule.id}:http"
                    reply = self._fault_reply(rule.params, route, correlation)
            try:
                body = await _read_body(receive)
            except ArmError as exc:
                body = b""
                reply = reply or Reply(exc.status, exc.body(), dict(exc.headers))
            limit: tuple[str, int] | None = None
            if route.subscription and ids.GUID_RE.match(route.subscription):
                # ARM's subscription buckets sit in front of the resource provider.
                kind = ratelimits.kind_of(method)
                try:
                    remaining = emu.ratelimits.take(
                        route.subscription.lower(), kind, emu.config, emu.config.arm_region
                    )
                except ArmError as exc:
                    remaining, reply = 0, reply or Reply(exc.status, exc.body(), dict(exc.headers))
                limit = (kind, remaining)
            if reply is None:
                reply = self._handle(scope, headers, route, method, query_string, body, correlation)
            if drop_after:
                await _drop(scope)
                return
            status = reply.status
            await self._send(send, reply, headers, correlation, operation, limit)
        finally:
            emu.requests.record(
                method=method,
                path=path,
                query=query_string,
                operation=operation,
                status=status,
                sim_time=emu.now(),
                duration_ms=(time.perf_counter() - started) * 1000,
                correlation_id=correlation,
                fault=fault_note,
            )
            emu.events.flush()

    # ---- request handling ----------------------------------------------------------------------

    def _handle(
        self,
        scope: Scope,
        headers: dict[str, str],
        route: ids.Route,
        method: str,
        query_string: str,
        body: bytes,
        correlation: str,
    ) -> Reply:
        try:
            if route.kind == "not_found":
                raise errors.unknown_path(scope["path"])
            token = self._authenticate(headers)
            query = _parse_query(query_string)
            api_version = query.get("api-version")
            if not api_version:
                raise errors.missing_api_version()
            if route.kind == "unknown_namespace":
                raise errors.invalid_namespace(route.namespace or "")
            if route.kind == "unknown_type":
                raise errors.invalid_resource_type(
                    route.resource_type or "", route.namespace or "", api_version
                )
            family = FAMILY[route.kind]
            if not versions.is_supported(family, api_version):
                raise errors.invalid_api_version(api_version, versions.FAMILIES[family])
            entry = ROUTES.get((route.kind, method))
            if entry is None:
                raise errors.method_not_allowed(method)
            parsed = _parse_json(body, headers) if method in ("PUT", "PATCH", "POST") else None
            # Claims only matter for events, which only writes emit.
            claims, principal = (
                claims_from_token(token, self.emu.config.tenant_id) if method != "GET" else ({}, "")
            )
            context = RequestContext(
                method=method,
                url=f"{self._base_url(scope, headers)}{scope['path']}"
                + (f"?{query_string}" if query_string else ""),
                correlation_id=correlation,
                client_request_id=headers.get("x-ms-client-request-id"),
                client_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
                claims=claims,
                principal_id=principal,
            )
            request = ArmRequest(
                method=method,
                path=scope["path"],
                query=query,
                base_url=self._base_url(scope, headers),
                api_version=api_version,
                context=context,
                body=parsed,
                token=token,
            )
            return entry[1](self.emu, route, request)
        except ArmError as exc:
            return Reply(exc.status, exc.body(), dict(exc.headers))
        except Exception:  # a bug: answer like ARM does, never crash the server
            log.exception("unhandled error for %s %s", method, scope["path"])
            exc = errors.internal()
            return Reply(exc.status, exc.body())

    def _authenticate(self, headers: dict[str, str]) -> str:
        value = headers.get("authorization")
        if value is None:
            raise errors.missing_auth()
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.malformed_auth()
        expected = self.emu.config.token
        if expected is not None and token != expected:
            raise errors.invalid_token()
        return token

    def _base_url(self, scope: Scope, headers: dict[str, str]) -> str:
        configured = self.emu.config.public_base_url
        if configured:
            return configured.rstrip("/")
        host = headers.get("host")
        if not host:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        return f"{scope.get('scheme', 'http')}://{host}"

    def _fault_reply(self, params: dict[str, Any], route: ids.Route, correlation: str) -> Reply:
        status = int(params["status"])
        code, message = DEFAULT_HTTP_ERRORS.get(status, ("InternalServerError", "Injected fault."))
        message = params.get("message") or message.format(
            time=time.strftime("%Y-%m-%dT%H:%M:%S"),
            sub=route.subscription,
            tracking=uuid.uuid4(),
            correlation=correlation,
        )
        headers: dict[str, str] = {}
        if status == 429 or "retryAfter" in params:
            headers["Retry-After"] = str(int(params.get("retryAfter", 5)))
        if "body" in params:
            return Reply(status, params["body"], headers)
        if status < 400:
            return Reply(status, {}, headers)  # a success that is not what the client asked for
        return Reply(
            status, {"error": {"code": params.get("code", code), "message": message}}, headers
        )

    # ---- response ------------------------------------------------------------------------------

    async def _send(
        self,
        send: Send,
        reply: Reply,
        req_headers: dict[str, str],
        correlation: str,
        operation: str,
        limit: tuple[str, int] | None,
    ) -> None:
        emu = self.emu
        if reply.body is None:
            payload = b""
        elif isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = dumps(reply.body, emu.config.pretty_json)
        request_id = ids.fast_guid()
        out: list[tuple[bytes, bytes]] = list(STATIC_HEADERS)
        if payload:
            out.append((b"content-type", JSON_TYPE))
        out.append((b"content-length", str(len(payload)).encode()))
        out.append((b"x-ms-request-id", request_id.encode()))
        out.append((b"x-ms-correlation-request-id", correlation.encode()))
        routing = f"{emu.config.arm_region}:{format_routing(emu.now())}:{request_id}"
        out.append((b"x-ms-routing-request-id", routing.encode()))
        if limit is not None:
            out.extend(ratelimits.headers(limit[0], limit[1], emu.config))
        if (
            "x-ms-ratelimit-remaining-resource" not in reply.headers
            and operation in RESOURCE_LIMITS
        ):
            out.append((b"x-ms-ratelimit-remaining-resource", RESOURCE_LIMITS[operation].encode()))
        client_id = req_headers.get("x-ms-client-request-id")
        if client_id and req_headers.get("x-ms-return-client-request-id", "").lower() == "true":
            out.append((b"x-ms-client-request-id", client_id.encode()))
        for name, value in reply.headers.items():
            out.append((name.lower().encode(), value.encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


def _parse_query(query: str) -> dict[str, str]:
    """Query parameters with lower-cased names; decodes only when there is something to decode."""
    if "%" in query or "+" in query:
        return {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
    out: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.setdefault(name.lower(), value)
    return out


def _operation_name(route: ids.Route, method: str) -> str:
    if route.kind == "drp_action" and method == "POST":
        return (
            "DiskRestorePoint_GrantAccess"
            if route.action == "beginGetAccess"
            else "DiskRestorePoint_RevokeAccess"
        )
    return OPERATIONS.get((route.kind, method), "Unknown")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if size > MAX_BODY:
        raise ArmError(413, "RequestEntityTooLarge", "The request content exceeds 4 MB.")
    return b"".join(chunks)


def _parse_json(body: bytes, headers: dict[str, str]) -> Any:
    if not body.strip():
        return None
    media = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if media and not (
        media == "application/json" or media.endswith("+json") or media == "text/json"
    ):
        raise errors.unsupported_media_type(media)
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.invalid_content(
            f"Invalid UTF-8 in the request body at byte {exc.start}"
        ) from exc
    except json.JSONDecodeError as exc:
        raise errors.invalid_content(
            f"{exc.msg}. Path '', line {exc.lineno}, position {exc.colno}"
        ) from exc


async def _drop(scope: Scope) -> None:
    """Close the TCP connection without any HTTP response (a real network failure)."""
    transport = scope.get(TRANSPORT_KEY)
    if transport is None:
        raise ConnectionDropped("drop fault: connection closed without a response")
    transport.abort()  # RST: the client sees a reset / remote-protocol error, not a status
    # Let the server notice the lost connection before the app returns.
    for _ in range(3):
        await asyncio.sleep(0)
