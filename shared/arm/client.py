"""Azure Resource Manager client: auth, retries, the long-running-operation protocol.

- One `httpx.AsyncClient` per worker, explicit timeouts.
- The bearer token is sent only to the configured ARM origin. Any absolute URL that ARM hands
  back (operation status, Location, nextLink) on another origin is refused before a token is
  even fetched.
- Retries only named transient failures (429, 408, 5xx, connection errors), bounded and jittered
  by stamina, honouring Retry-After. A Retry-After longer than the inline limit is not slept
  through: `ArmThrottled` goes up so the stage can re-enqueue its message with that delay.
- Errors are parsed from ARM's body (`{"error": {...}}`, or the bare Compute 429 shape) and
  classified transient or permanent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# httpx imports httpcore (its connection pools) only when the first client is made, which is
# inside the first request: import it with the app instead, so that request does not wait on it.
import httpcore  # noqa: F401
import httpx
import stamina
from opentelemetry.trace import SpanKind

from shared import telemetry
from shared.arm import bodies
from shared.arm.auth import TokenSource
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, ArmNotFound, ArmThrottled, ForeignHostError
from shared.settings import ArmSettings

log = logging.getLogger(__name__)

# The copy job an ARM call works for, sent as x-ms-client-request-id. A ContextVar follows each
# asyncio task, so concurrent invocations in one worker never mix their ids.
current_job_id: ContextVar[str | None] = ContextVar("current_job_id", default=None)

# ARM requests this process sent, by operation (every attempt, as the emulator's log counts):
# the benchmarks read it to show the ARM work per completed copy.
_calls_by_operation: dict[str, int] = {}


def call_counts() -> dict[str, int]:
    """ARM requests sent so far, by operation name (a copy)."""
    return dict(_calls_by_operation)


_TERMINAL = {"succeeded", "failed", "canceled"}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
USER_AGENT = "rpcopy/0.1 (+azure-functions-python)"


@dataclass(frozen=True)
class ArmResponse:
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


@dataclass(frozen=True)
class LroResult:
    succeeded: bool
    status: str
    error: ArmError | None
    body: dict[str, Any]


def parse_retry_after(value: str | None) -> float | None:
    """ARM sends whole seconds; an HTTP-date or garbage is treated as absent."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_response(
    status: int, headers: Mapping[str, str], body: Any, operation: ArmOperation
) -> ArmError:
    """Build the classified error for a non-2xx ARM answer."""
    detail: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error")
        # Compute's 429 body comes without the "error" wrapper; accept both shapes.
        detail = inner if isinstance(inner, Mapping) else body
    code = str(detail.get("code") or f"Http{status}")
    message = str(detail.get("message") or f"ARM answered HTTP {status}")
    retry_after = parse_retry_after(headers.get("retry-after"))
    transient = status in _TRANSIENT_STATUS
    kind: type[ArmError] = ArmNotFound if status == 404 else ArmError
    return kind(
        message,
        code=code,
        status=status,
        transient=transient,
        retry_after=retry_after,
        operation=operation,
    )


class ArmClient:
    def __init__(
        self,
        settings: ArmSettings,
        tokens: TokenSource,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._tokens = tokens
        origin = urlsplit(settings.endpoint)
        self._origin = (origin.scheme, origin.hostname, origin.port)
        self._http = httpx.AsyncClient(
            base_url=settings.endpoint,
            timeout=httpx.Timeout(
                settings.timeout_seconds, connect=min(10.0, settings.timeout_seconds)
            ),
            follow_redirects=False,  # a redirect could carry the token elsewhere
            transport=transport,
            # httpx's own limits, on purpose: httpcore checks every pooled connection, and for
            # each idle one counts them all again, each time a request joins or leaves the pool.
            # Keeping all 100 a burst opens made that the host's largest CPU cost (pipeline
            # benchmark, py-spy); a burst's extra connections are opened again instead.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    async def token(self) -> str:
        """A bearer token for the configured ARM endpoint (the preflight's first check)."""
        return await self._tokens.token()

    async def close(self) -> None:
        await self._http.aclose()
        await self._tokens.close()

    # -- origin guard ---------------------------------------------------------------------

    def check_url(self, url: str, operation: ArmOperation) -> str:
        """Return a URL that is safe to send the token to, or raise ForeignHostError."""
        if url.startswith("/") and not url.startswith("//"):
            return url
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:  # not a number, or not in 0-65535: not our endpoint either
            port = -1
        default = {"https": 443, "http": 80}.get(parts.scheme)
        expected_port = self._origin[2] or {"https": 443, "http": 80}.get(self._origin[0])
        same = (
            parts.scheme == self._origin[0]
            and (parts.hostname or "").lower() == (self._origin[1] or "").lower()
            and (port or default) == expected_port
        )
        if not same:
            # Never log the full URL: it could carry a signature or token-like query.
            raise ForeignHostError(
                f"refused to call {parts.scheme}://{parts.hostname}: only the configured ARM "
                "endpoint receives requests",
                code="ForeignHost",
                operation=operation,
            )
        return url

    # -- core request -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        operation: ArmOperation,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
        api_version: str | None = None,
        accept_status: tuple[int, ...] = (),
    ) -> ArmResponse:
        """One logical ARM call with bounded retries of transient failures."""
        # Only the operations in shared.arm.operations (whose permissions the deployed role
        # holds) reach ARM; a name outside the table is a programming error.
        operation = ArmOperation(operation)
        target = self.check_url(url, operation)
        query = dict(params or {})
        if "api-version=" not in target:
            query.setdefault("api-version", api_version or self.settings.api_version)

        def backoff(exc: Exception) -> bool | float:
            if not isinstance(exc, ArmError) or not exc.transient or isinstance(exc, ArmThrottled):
                return False
            if exc.retry_after is not None:
                return max(exc.retry_after, 0.01)  # 0 would read as "do not retry"
            return True

        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=self.settings.max_attempts,
            timeout=None,
            wait_initial=0.5,
            wait_max=min(30.0, self.settings.max_inline_wait_seconds or 30.0),
            wait_jitter=1.0,
        ):
            with attempt:
                return await self._send_once(
                    method, target, operation, json, query, correlation_id, accept_status
                )
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        url: str,
        operation: ArmOperation,
        json: Any,
        params: Mapping[str, str],
        correlation_id: str | None,
        accept_status: tuple[int, ...],
    ) -> ArmResponse:
        headers = {
            "Authorization": f"Bearer {await self._tokens.token()}",
            # The job id, so a support case can find every call one copy made (issue #3).
            "x-ms-client-request-id": current_job_id.get() or str(uuid.uuid4()),
        }
        if correlation_id:
            headers["x-ms-correlation-request-id"] = correlation_id
        # httpx *replaces* a URL's own query with `params`; merge instead, or operation URLs,
        # nextLink and Location lose their api-version and tokens.
        target = httpx.URL(url).copy_merge_params(dict(params)) if params else url
        started = time.perf_counter()
        # `$expand` reads are counted apart: the poll stage's instance view reads are the
        # replication polls, the sweep's restorePoints reads its listing.
        counted = operation.value + (f"?$expand={params['$expand']}" if "$expand" in params else "")
        _calls_by_operation[counted] = _calls_by_operation.get(counted, 0) + 1
        try:
            with telemetry.tracer.start_as_current_span(
                f"ARM {operation.value}",
                kind=SpanKind.CLIENT,
                attributes={"http.request.method": method, "rpcopy.arm.operation": operation.value},
            ) as span:
                response = await self._http.request(method, target, headers=headers, json=json)
                span.set_attribute("http.response.status_code", response.status_code)
        except httpx.TransportError as exc:
            telemetry.arm_requests.add(
                1, {"rpcopy.arm.operation": operation.value, "http.response.status_code": 0}
            )
            log.warning("ARM %s %s failed to connect: %s", operation, method, type(exc).__name__)
            raise ArmError(
                f"connection to ARM failed ({type(exc).__name__})",
                code="ConnectionError",
                transient=True,
                operation=operation,
            ) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        metric = {
            "rpcopy.arm.operation": operation.value,
            "http.response.status_code": response.status_code,
        }
        telemetry.arm_requests.add(1, metric)
        if response.status_code == 429:
            telemetry.arm_throttles.add(1, {"rpcopy.arm.operation": operation.value})
        log.info(
            "ARM %s %s -> %s in %.0f ms (request id %s)",
            operation,
            method,
            response.status_code,
            elapsed_ms,
            response.headers.get("x-ms-request-id", "-"),
        )
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = None
        if response.status_code >= 400 and response.status_code not in accept_status:
            error = error_from_response(response.status_code, response.headers, body, operation)
            if (
                error.transient
                and error.retry_after is not None
                and error.retry_after > self.settings.max_inline_wait_seconds
            ):
                raise ArmThrottled(
                    error.message,
                    code=error.code,
                    status=error.status,
                    transient=True,
                    retry_after=error.retry_after,
                    operation=operation,
                )
            raise error
        return ArmResponse(response.status_code, response.headers, body)

    # -- conveniences -------------------------------------------------------------------------

    async def get(self, url: str, *, operation: ArmOperation, **kwargs: Any) -> dict[str, Any]:
        return (await self.request("GET", url, operation=operation, **kwargs)).json

    async def get_or_none(
        self, url: str, *, operation: ArmOperation, **kwargs: Any
    ) -> dict[str, Any] | None:
        try:
            return await self.get(url, operation=operation, **kwargs)
        except ArmNotFound:
            return None

    async def put(
        self, url: str, body: Any, *, operation: ArmOperation, **kwargs: Any
    ) -> ArmResponse:
        return await self.request("PUT", url, operation=operation, json=body, **kwargs)

    async def list_all(
        self,
        url: str,
        *,
        operation: ArmOperation,
        params: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a pageable list, following nextLink (same-origin only)."""
        page = await self.get(url, operation=operation, params=params, **kwargs)
        while True:
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            next_link = page.get("nextLink")
            if not next_link:
                return
            # nextLink carries its own query (api-version, skiptoken): do not add params again.
            page = await self.get(str(next_link), operation=operation, **kwargs)

    async def operation_status(
        self, url: str, *, operation: ArmOperation, **kwargs: Any
    ) -> dict[str, Any]:
        """One read of an Azure-AsyncOperation resource (always 200 while readable)."""
        return await self.get(url, operation=operation, **kwargs)

    async def wait_for_completion(
        self,
        method: str,
        resource_url: str,
        response: ArmResponse,
        *,
        operation: ArmOperation,
        correlation_id: str | None = None,
        poll_operation: ArmOperation = ArmOperation.OPERATIONS_GET,
        location_only: bool = False,
    ) -> LroResult:
        """The ARM long-running-operation protocol: Azure-AsyncOperation, then Location, then
        the resource's provisioningState. Bounded by `lro_timeout_seconds`.

        `poll_operation` names the status reads (disk operations have their own RBAC action);
        `location_only` follows Location even when Azure-AsyncOperation is given, for
        operations whose result is only at the Location (`final-state-via: location`)."""
        deadline = time.monotonic() + self.settings.lro_timeout_seconds
        async_url = None if location_only else response.headers.get("azure-asyncoperation")
        location = response.headers.get("location")
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if response.status in (200, 201, 204) and method != "PUT" and not async_url:
            return LroResult(True, "Succeeded", None, response.json)
        while True:
            if async_url:
                status_body = await self.operation_status(
                    async_url, operation=poll_operation, correlation_id=correlation_id
                )
                status = str(status_body.get("status") or "InProgress")
                if status.lower() in _TERMINAL:
                    return await self._finish(
                        method, resource_url, status, status_body, operation, correlation_id
                    )
            elif location:
                polled = await self.request(
                    "GET",
                    location,
                    operation=poll_operation,
                    correlation_id=correlation_id,
                )
                retry_after = parse_retry_after(polled.headers.get("retry-after"))
                if polled.status != 202:
                    return LroResult(True, "Succeeded", None, polled.json)
            else:
                body = await self.get_or_none(
                    resource_url, operation=operation, correlation_id=correlation_id
                )
                if body is None:
                    # A DELETE without operation headers is done when the resource is gone.
                    gone = method == "DELETE"
                    return LroResult(gone, "Succeeded" if gone else "Failed", None, {})
                state = bodies.provisioning_state(body) or "Succeeded"
                if state.lower() in _TERMINAL:
                    ok = state.lower() == "succeeded"
                    error = (
                        None
                        if ok
                        else ArmError(f"provisioningState {state}", code=state, operation=operation)
                    )
                    return LroResult(ok, state, error, body)
            if time.monotonic() > deadline:
                raise ArmError(
                    "the long-running operation did not finish within "
                    f"{self.settings.lro_timeout_seconds:.0f}s",
                    code="OperationTimeout",
                    transient=True,
                    operation=operation,
                )
            await asyncio.sleep(
                retry_after if retry_after is not None else self.settings.lro_poll_seconds
            )

    async def _finish(
        self,
        method: str,
        resource_url: str,
        status: str,
        status_body: Mapping[str, Any],
        operation: ArmOperation,
        correlation_id: str | None,
    ) -> LroResult:
        if status.lower() != "succeeded":
            raw = status_body.get("error")
            detail = raw if isinstance(raw, Mapping) else {}
            error = ArmError(
                str(detail.get("message") or f"the operation ended {status}"),
                code=str(detail.get("code") or status),
                operation=operation,
            )
            return LroResult(False, status, error, dict(status_body))
        if method == "PUT":
            body = await self.get(resource_url, operation=operation, correlation_id=correlation_id)
            return LroResult(True, status, None, body)
        return LroResult(True, status, None, dict(status_body))
