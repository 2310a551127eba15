"""The host's HTTP surface: HTTP triggers, the Event Grid webhook and the admin API.

A plain ASGI app (served by uvicorn) so routing follows the Functions host, not a web
framework: function routes under the route prefix, `/runtime/webhooks/eventgrid`,
`/admin/host/status` and `/admin/functions/{name}`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from http.cookies import SimpleCookie
from typing import Any

import azure.functions as func
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from devhost import eventgrid
from devhost.invocation import Invoker
from devhost.keys import KeyStore, provided_key
from devhost.logs import host_logger
from devhost.metadata import EVENTGRID_TRIGGER, HTTP_TRIGGER, FunctionSpec
from devhost.routing import Route, Router, RouteTemplate, join_prefix

log = host_logger("http")

AdminInvoke = Callable[[FunctionSpec, str], Awaitable[None]]
HOST_VERSION = "4.0.0-devhost"


def build_router(functions: list[FunctionSpec], route_prefix: str) -> Router[FunctionSpec]:
    router: Router[FunctionSpec] = Router()
    for spec in functions:
        if spec.trigger_type != HTTP_TRIGGER or spec.disabled:
            continue
        # No route in the binding means the function name is the route.
        template = join_prefix(route_prefix, spec.trigger.get("route") or spec.name)
        methods = spec.trigger.get("methods")
        router.add(
            Route(
                RouteTemplate.parse(template),
                frozenset(str(m).upper() for m in methods) if methods else None,
                spec,
            )
        )
    return router


def _to_response(value: Any) -> Response:
    """Translate what an HTTP function returned, as the worker's HTTP converter does."""
    if isinstance(value, func.HttpResponse):
        headers = value.headers
        raw: list[tuple[bytes, bytes]] = []
        content_type = None
        for name, header in headers.items():
            if name.lower() == "content-type":
                content_type = header
                continue
            if name.lower() == "set-cookie":
                for cookie in SimpleCookie(header).values():
                    raw.append((b"set-cookie", cookie.OutputString().encode("latin-1")))
                continue
            raw.append((name.lower().encode("latin-1"), str(header).encode("latin-1")))
        if content_type is None:
            mimetype = value.mimetype or "text/plain"
            content_type = (
                f"{mimetype}; charset={value.charset}" if mimetype.startswith("text/") else mimetype
            )
        response = Response(value.get_body() or b"", status_code=value.status_code)
        response.raw_headers = [
            (k, v) for k, v in response.raw_headers if k not in (b"content-type",)
        ]
        response.raw_headers.append((b"content-type", content_type.encode("latin-1")))
        response.raw_headers.extend(raw)
        return response
    if isinstance(value, (str, bytes)):
        return Response(value, status_code=200, media_type="text/plain")
    if value is None:
        return Response(status_code=204)
    raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(value)}")


class HostHttpApp:
    def __init__(
        self,
        *,
        functions: list[FunctionSpec],
        route_prefix: str,
        keys: KeyStore,
        invoker: Invoker,
        admin_invoke: AdminInvoke,
        instance_id: str,
    ) -> None:
        self._router = build_router(functions, route_prefix)
        self._by_name = {f.name.lower(): f for f in functions if not f.disabled}
        self._keys = keys
        self._invoker = invoker
        self._admin_invoke = admin_invoke
        self._instance_id = instance_id
        self._started = time.monotonic()
        self.state = "Initialized"

    @property
    def router(self) -> Router[FunctionSpec]:
        return self._router

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        try:
            response = await self._dispatch(request)
        except ClientDisconnect:
            # The client went away before its request arrived whole: nobody is left to
            # answer, and nothing failed here (no 500, no traceback).
            log.info(
                "%s %s: the client disconnected before the request arrived",
                request.method,
                request.url.path,
            )
            return
        except Exception:  # a host bug must still answer, never with a stack trace
            log.exception("unhandled error serving %s %s", request.method, request.url.path)
            response = Response(status_code=500)
        # Path only: the query string may carry `code=<key>`.
        log.info(
            "%s %s -> %d (%dms)",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        await response(scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        lowered = path.lower().rstrip("/")
        if lowered == eventgrid.WEBHOOK_PATH:
            return await self._eventgrid(request)
        if lowered == "/admin/host/status":
            return self._status()
        if lowered.startswith("/admin/functions/"):
            return await self._admin(request, path.rstrip("/").split("/")[-1])
        found = self._router.match(path, request.method)
        if found is not None:
            route, params = found
            return await self._http_function(request, route.target, params)
        if lowered == "" and request.method in ("GET", "HEAD"):
            return Response(
                "Your Functions 4.0 app (devhost) is up and running", media_type="text/plain"
            )
        return Response(status_code=404)

    def _key(self, request: Request) -> str | None:
        return provided_key(request.headers, request.query_params)

    def _status(self) -> Response:
        return JSONResponse(
            {
                "id": self._instance_id,
                "state": self.state,
                "version": HOST_VERSION,
                "processUptime": int((time.monotonic() - self._started) * 1000),
                "functions": sorted(f.name for f in self._by_name.values()),
            },
            status_code=200 if self.state == "Running" else 503,
        )

    async def _http_function(
        self, request: Request, spec: FunctionSpec, params: Mapping[str, str]
    ) -> Response:
        level = str(spec.trigger.get("authLevel") or "function")
        if not self._keys.allows(level, self._key(request)):
            return Response(status_code=401)
        body = await request.body()
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=headers,
            params=dict(request.query_params),
            route_params=dict(params),
            body=body,
        )
        result = await self._invoker.invoke(
            spec,
            http_request,
            reason="This function was programmatically called via the host APIs.",
        )
        if not result.succeeded:
            return Response(status_code=500)  # details are in the log, never in the body
        http_out = next((b for b in spec.outputs if b.type == "http"), None)
        value = result.value if http_out is None else result.outputs.get(http_out.name)
        try:
            return _to_response(value)
        except TypeError:
            log.exception("function '%s' returned an unusable HTTP response", spec.name)
            return Response(status_code=500)

    async def _eventgrid(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405)
        name = request.query_params.get("functionName", "")
        spec = self._by_name.get(name.lower())
        if spec is None or spec.trigger_type != EVENTGRID_TRIGGER:
            return Response(f"cannot find function: '{name}'", status_code=404)
        if not self._keys.allows_eventgrid(self._key(request)):
            return Response(status_code=401)
        kind = request.headers.get(eventgrid.EVENT_TYPE_HEADER, "").lower()
        body = await request.body()
        try:
            if kind == eventgrid.VALIDATION:
                code = eventgrid.validation_code(body)
                log.info("perform handshake with eventGrid for function: %s", spec.name)
                return JSONResponse({"validationResponse": code})
            if kind == eventgrid.UNSUBSCRIBE:
                return Response(status_code=202)
            if kind != eventgrid.NOTIFICATION:
                return Response(f"unknown {eventgrid.EVENT_TYPE_HEADER} header", status_code=400)
            values = [eventgrid.trigger_value(e) for e in eventgrid.parse_events(body)]
        except eventgrid.MalformedPayload as exc:
            return Response(str(exc), status_code=400)
        # The extension runs the events of one delivery in parallel and fails the delivery
        # if any invocation failed, so Event Grid redelivers the whole payload.
        results = await asyncio.gather(
            *(
                self._invoker.invoke(spec, value, reason="EventGrid trigger fired")
                for value in values
            )
        )
        if not all(r.succeeded for r in results):
            return Response(
                f"Exception while executing function: Functions.{spec.name}", status_code=500
            )
        return Response(status_code=202)

    async def _admin(self, request: Request, name: str) -> Response:
        if not self._keys.allows("admin", self._key(request)):
            return Response(status_code=401)
        if request.method != "POST":
            return Response(status_code=405)
        spec = self._by_name.get(name.lower())
        if spec is None:
            return Response(status_code=404)
        if spec.trigger_type == HTTP_TRIGGER:
            return Response(
                "HTTP-triggered functions are invoked through their route", status_code=400
            )
        raw = await request.body()
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):
            return Response('body must be JSON like {"input": "..."}', status_code=400)
        payload = doc.get("input", "") if isinstance(doc, dict) else ""
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        try:
            await self._admin_invoke(spec, payload)
        except eventgrid.MalformedPayload as exc:
            return Response(str(exc), status_code=400)
        return Response(status_code=202)
