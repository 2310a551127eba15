"""shared/arm_client.py against httpx.MockTransport: auth, origin guard, retries, errors, LROs.

stamina runs in test mode (no backoff sleeps, attempts capped by the client's own max_attempts)
except where a test checks the wait the backoff hook asks for; those use sub-second Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stamina
import stamina.instrumentation

from shared.arm.auth import StaticToken, token_source_for
from shared.arm.client import ArmClient, ArmResponse, error_from_response, parse_retry_after
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, ArmNotFound, ArmThrottled, ForeignHostError
from shared.settings import ArmSettings

ARM = "https://arm.test"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RPC = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
    "/restorePointCollections/rpc1"
)
RP = f"{RPC}/restorePoints/rp1"
OP = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westus/operations/op1"
OP_URL = f"{OP}?p=7c1a&api-version=2025-04-01"
TOKEN = "test-token-abc"

SETTINGS = ArmSettings(
    endpoint=ARM,
    api_version="2025-04-01",
    credential="static",
    static_token=TOKEN,
    max_attempts=3,
    max_inline_wait_seconds=5.0,
    lro_poll_seconds=0.001,
    lro_timeout_seconds=5.0,
)

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class CountingToken(StaticToken):
    calls: int = 0

    async def token(self) -> str:
        self.calls += 1
        return self.value


@dataclass
class FakeArm:
    """Answers requests from a script: (method, path) -> replies, served in order."""

    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply) -> FakeArm:
        self.routes.setdefault((method, path), []).extend(replies)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        replies = self.routes.get(key)
        if not replies:
            return httpx.Response(599, json={"error": {"code": "NoRoute", "message": str(key)}})
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def ok(body: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


def arm_error(status: int, code: str, message: str = "m", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
def fake() -> FakeArm:
    return FakeArm()


@pytest.fixture
def tokens() -> CountingToken:
    return CountingToken(TOKEN)


@pytest.fixture
async def client(fake: FakeArm, tokens: CountingToken) -> Any:
    arm = ArmClient(SETTINGS, tokens, transport=httpx.MockTransport(fake.handler))
    yield arm
    await arm.close()


def make_client(fake: FakeArm, tokens: CountingToken | None = None, **settings: Any) -> ArmClient:
    merged = {**SETTINGS.__dict__, **settings}
    return ArmClient(
        ArmSettings(**merged),
        tokens or CountingToken(TOKEN),
        transport=httpx.MockTransport(fake.handler),
    )


# -- request basics -----------------------------------------------------------------------------


async def test_get_sends_api_version_token_and_ids(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, ok({"name": "rp1"}))
    assert await client.get(RP, operation="RestorePoints_Get") == {"name": "rp1"}
    (request,) = fake.requests
    assert request.url.host == "arm.test"
    assert request.url.params.get_list("api-version") == ["2025-04-01"]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-ms-client-request-id"]
    assert "x-ms-correlation-request-id" not in request.headers
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("rpcopy/")


async def test_params_and_api_version_override(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, ok({}))
    await client.get(
        RP,
        operation=ArmOperation.RESTORE_POINTS_GET,
        params={"$expand": "instanceView"},
        api_version="2025-01-02",
    )
    params = fake.requests[0].url.params
    assert params["$expand"] == "instanceView"
    assert params.get_list("api-version") == ["2025-01-02"]


async def test_url_with_api_version_is_not_given_another(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", "/subscriptions/x", ok({}))
    await client.get(
        f"{ARM}/subscriptions/x?api-version=2023-07-01&p=1",
        operation=ArmOperation.RESTORE_POINTS_GET,
    )
    params = fake.requests[0].url.params
    assert params.get_list("api-version") == ["2023-07-01"]
    assert params["p"] == "1"


async def test_url_query_is_kept_when_api_version_is_added(
    client: ArmClient, fake: FakeArm
) -> None:
    fake.on("GET", RP, ok({}))
    await client.get(
        f"{RP}?$expand=instanceView",
        operation=ArmOperation.RESTORE_POINTS_GET,
        params={"extra": "1"},
    )
    params = fake.requests[0].url.params
    assert params["$expand"] == "instanceView"
    assert params["extra"] == "1"
    assert params.get_list("api-version") == ["2025-04-01"]


async def test_correlation_id_sent(client: ArmClient, fake: FakeArm) -> None:
    fake.on("PUT", RP, ok({}, 201))
    await client.put(
        RP, {"properties": {}}, operation="RestorePoints_Create", correlation_id="c-42"
    )
    request = fake.requests[0]
    assert request.headers["x-ms-correlation-request-id"] == "c-42"
    assert json.loads(request.content) == {"properties": {}}


async def test_client_request_id_is_new_per_attempt(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(503, "ServiceUnavailable"), ok({}))
    await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    ids = {r.headers["x-ms-client-request-id"] for r in fake.requests}
    assert len(ids) == 2


async def test_same_origin_absolute_urls_are_allowed(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, ok({}))
    for url in (f"{ARM}{RP}", f"HTTPS://ARM.TEST{RP}", f"https://arm.test:443{RP}"):
        await client.get(url, operation=ArmOperation.RESTORE_POINTS_GET)
    assert len(fake.requests) == 3
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)


async def test_relative_paths_stay_on_the_arm_host(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", "/\\evil.example/x", ok({}))
    fake.on("GET", "/@evil.example", ok({}))
    await client.get("/\\evil.example/x", operation=ArmOperation.RESTORE_POINTS_GET)
    await client.get("/@evil.example", operation=ArmOperation.RESTORE_POINTS_GET)
    assert {r.url.host for r in fake.requests} == {"arm.test"}


async def test_redirects_are_not_followed(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, httpx.Response(302, headers={"Location": "https://evil.example/x"}))
    response = await client.request("GET", RP, operation=ArmOperation.RESTORE_POINTS_GET)
    assert response.status == 302
    assert len(fake.requests) == 1


async def test_non_json_success_body(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, httpx.Response(200, text="<html>"))
    response = await client.request("GET", RP, operation=ArmOperation.RESTORE_POINTS_GET)
    assert response.body is None
    assert response.json == {}


async def test_get_or_none(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(404, "ResourceNotFound"))
    fake.on("GET", RPC, ok({"name": "rpc1"}))
    assert await client.get_or_none(RP, operation=ArmOperation.RESTORE_POINTS_GET) is None
    assert await client.get_or_none(RPC, operation=ArmOperation.RESTORE_POINTS_GET) == {
        "name": "rpc1"
    }


# -- origin guard -------------------------------------------------------------------------------

_FOREIGN = {
    "other host": f"https://evil.example{RP}",
    "other scheme": f"http://arm.test{RP}",
    "other port": f"https://arm.test:8443{RP}",
    "host suffix": f"https://arm.test.evil.example{RP}",
    "userinfo trick": f"https://arm.test@evil.example{RP}",
    "scheme-relative": f"//evil.example{RP}",
    "ftp": f"ftp://arm.test{RP}",
    "port out of range": f"https://arm.test:99999{RP}",
    "port not a number": f"https://arm.test:https{RP}",
}


@pytest.mark.parametrize("url", list(_FOREIGN.values()), ids=list(_FOREIGN))
async def test_foreign_url_never_called(
    client: ArmClient, fake: FakeArm, tokens: CountingToken, url: str
) -> None:
    fake.on("GET", RP, ok({}))
    with pytest.raises(ForeignHostError) as info:
        await client.get(url, operation="Operations_Get")
    assert fake.requests == []
    assert tokens.calls == 0
    assert info.value.code == "ForeignHost"
    assert not info.value.transient
    assert info.value.operation == "Operations_Get"
    assert "configured ARM endpoint" in str(info.value)


async def test_foreign_error_does_not_echo_the_query(client: ArmClient) -> None:
    with pytest.raises(ForeignHostError) as info:
        await client.get(
            "https://evil.example/x?sig=secret-signature", operation=ArmOperation.RESTORE_POINTS_GET
        )
    assert "secret-signature" not in str(info.value)


async def test_list_all_refuses_foreign_next_link(
    client: ArmClient, fake: FakeArm, tokens: CountingToken
) -> None:
    fake.on("GET", RPC, ok({"value": [{"n": 1}], "nextLink": f"https://evil.example{RPC}?page=2"}))
    seen = []

    async def consume() -> None:
        async for item in client.list_all(
            RPC, operation=ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL
        ):
            seen.append(item)

    with pytest.raises(ForeignHostError):
        await consume()
    assert seen == [{"n": 1}]
    assert len(fake.requests) == 1
    assert tokens.calls == 1


@pytest.mark.parametrize("header", ["Azure-AsyncOperation", "Location"])
async def test_lro_refuses_foreign_operation_url(
    client: ArmClient, fake: FakeArm, tokens: CountingToken, header: str
) -> None:
    fake.on(
        "PUT",
        RP,
        ok({}, 202 if header == "Location" else 201, **{header: f"https://evil.example{OP}"}),
    )
    response = await client.put(RP, {}, operation="RestorePoints_Create")
    with pytest.raises(ForeignHostError):
        await client.wait_for_completion("PUT", RP, response, operation="RestorePoints_Create")
    assert fake.paths() == [f"PUT {RP}"]
    assert tokens.calls == 1


async def test_loopback_http_endpoint(fake: FakeArm) -> None:
    fake.on("GET", RP, ok({}))
    client = make_client(fake, endpoint="http://127.0.0.1:8999")
    try:
        await client.get(f"http://127.0.0.1:8999{RP}", operation=ArmOperation.RESTORE_POINTS_GET)
        with pytest.raises(ForeignHostError):
            await client.get(
                f"http://127.0.0.1:9000{RP}", operation=ArmOperation.RESTORE_POINTS_GET
            )
        with pytest.raises(ForeignHostError):
            await client.get(
                f"https://127.0.0.1:8999{RP}", operation=ArmOperation.RESTORE_POINTS_GET
            )
    finally:
        await client.close()
    assert len(fake.requests) == 1


# -- retries and errors -------------------------------------------------------------------------


async def test_503_then_200_is_retried(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(503, "ServiceUnavailable"), ok({"name": "rp1"}))
    assert await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET) == {"name": "rp1"}
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_transient_statuses_retried_up_to_max_attempts(
    client: ArmClient, fake: FakeArm, status: int
) -> None:
    fake.on("GET", RP, arm_error(status, "Busy"))
    with pytest.raises(ArmError) as info:
        await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    assert len(fake.requests) == SETTINGS.max_attempts == 3
    assert info.value.transient
    assert info.value.status == status
    assert not isinstance(info.value, ArmThrottled)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 422])
async def test_permanent_statuses_not_retried(
    client: ArmClient, fake: FakeArm, status: int
) -> None:
    fake.on("GET", RP, arm_error(status, "Nope", "no way"))
    with pytest.raises(ArmError) as info:
        await client.get(RP, operation="RestorePoints_Get")
    assert len(fake.requests) == 1
    exc = info.value
    assert (exc.status, exc.code, exc.message, exc.transient) == (status, "Nope", "no way", False)
    assert isinstance(exc, ArmNotFound) is (status == 404)
    assert str(exc) == f"HTTP {status} Nope during RestorePoints_Get: no way"


async def test_accept_status_returns_the_response(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(409, "Conflict"))
    response = await client.request(
        "GET", RP, operation=ArmOperation.RESTORE_POINTS_GET, accept_status=(409,)
    )
    assert response.status == 409
    assert response.json["error"]["code"] == "Conflict"


async def test_connection_error_is_transient_and_retried(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, httpx.ConnectError("refused"))
    with pytest.raises(ArmError) as info:
        await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    assert len(fake.requests) == 3
    assert info.value.code == "ConnectionError"
    assert info.value.transient
    assert info.value.status is None


async def test_connection_error_then_success(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, httpx.ReadTimeout("slow"), ok({"ok": True}))
    assert await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET) == {"ok": True}


async def test_long_retry_after_is_not_slept_through(client: ArmClient, fake: FakeArm) -> None:
    body = {"code": "OperationNotAllowed", "message": "too many requests"}
    fake.on("PUT", RP, httpx.Response(429, json=body, headers={"Retry-After": "1200"}))
    with pytest.raises(ArmThrottled) as info:
        await client.put(RP, {}, operation="RestorePoints_Create")
    assert len(fake.requests) == 1
    exc = info.value
    assert exc.retry_after == 1200.0
    assert exc.transient
    assert exc.status == 429
    assert exc.code == "OperationNotAllowed"  # the bare Compute 429 body
    assert exc.operation == "RestorePoints_Create"


@pytest.mark.parametrize(("retry_after", "expected_wait"), [("0.25", 0.25), ("0", 0.01)])
async def test_short_retry_after_is_honoured(
    fake: FakeArm, retry_after: str, expected_wait: float
) -> None:
    waits: list[float] = []

    def hook(details: stamina.instrumentation.RetryDetails) -> None:
        waits.append(details.wait_for)

    fake.on(
        "GET", RP, arm_error(429, "TooManyRequests", **{"Retry-After": retry_after}), ok({"n": 1})
    )
    client = make_client(fake)
    stamina.instrumentation.set_on_retry_hooks([hook])
    try:
        with stamina.set_testing(False):
            assert await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET) == {"n": 1}
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)
        await client.close()
    assert waits == [expected_wait]
    assert len(fake.requests) == 2


async def test_retry_after_at_the_inline_limit_is_waited(fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(503, "Busy", **{"Retry-After": "0.2"}), ok({}))
    client = make_client(fake, max_inline_wait_seconds=0.2)
    try:
        await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    finally:
        await client.close()
    assert len(fake.requests) == 2


async def test_retry_after_above_zero_inline_limit_throttles(fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(429, "TooMany", **{"Retry-After": "1"}))
    client = make_client(fake, max_inline_wait_seconds=0)
    try:
        with pytest.raises(ArmThrottled):
            await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    finally:
        await client.close()
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "code", "message", "transient", "retry_after"),
    [
        (
            400,
            {"error": {"code": "InvalidParameter", "message": "bad x", "target": "x"}},
            {},
            ArmError,
            "InvalidParameter",
            "bad x",
            False,
            None,
        ),
        (
            429,
            {"code": "OperationNotAllowed", "message": "slow down", "details": []},
            {"retry-after": "17"},
            ArmError,
            "OperationNotAllowed",
            "slow down",
            True,
            17.0,
        ),
        (
            404,
            {"error": {"code": "NotFound"}},
            {},
            ArmNotFound,
            "NotFound",
            "ARM answered HTTP 404",
            False,
            None,
        ),
        (500, None, {}, ArmError, "Http500", "ARM answered HTTP 500", True, None),
        (
            502,
            "<html>bad gateway</html>",
            {},
            ArmError,
            "Http502",
            "ARM answered HTTP 502",
            True,
            None,
        ),
        (503, {"error": "down"}, {}, ArmError, "Http503", "ARM answered HTTP 503", True, None),
        (503, {"error": None, "code": "X"}, {}, ArmError, "X", "ARM answered HTTP 503", True, None),
        (409, [1, 2], {}, ArmError, "Http409", "ARM answered HTTP 409", False, None),
        (
            503,
            {},
            {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
            ArmError,
            "Http503",
            "ARM answered HTTP 503",
            True,
            None,
        ),
    ],
)
def test_error_from_response(
    status: int,
    body: Any,
    headers: dict[str, str],
    kind: type[ArmError],
    code: str,
    message: str,
    transient: bool,
    retry_after: float | None,
) -> None:
    exc = error_from_response(status, headers, body, "op")
    assert type(exc) is kind
    assert (exc.code, exc.message, exc.transient, exc.retry_after) == (
        code,
        message,
        transient,
        retry_after,
    )
    assert exc.status == status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("10", 10.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


async def test_error_body_parsed_through_the_client(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, httpx.Response(400, json={"code": "BadRequest", "message": "old api"}))
    with pytest.raises(ArmError) as info:
        await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    assert (info.value.code, info.value.message) == ("BadRequest", "old api")


# -- paging -------------------------------------------------------------------------------------


async def test_list_all_follows_next_link(client: ArmClient, fake: FakeArm) -> None:
    page2 = f"{ARM}{RPC}/page2?api-version=2025-04-01&$skiptoken=abc"
    page3 = f"{ARM}{RPC}/page3?api-version=2025-04-01&$skiptoken=def"
    fake.on("GET", RPC, ok({"value": [{"n": 1}, {"n": 2}], "nextLink": page2}))
    fake.on("GET", f"{RPC}/page2", ok({"value": [], "nextLink": page3}))
    fake.on("GET", f"{RPC}/page3", ok({"value": [{"n": 3}, "junk"]}))
    items = [
        item
        async for item in client.list_all(
            RPC, operation=ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL, params={"$expand": "x"}
        )
    ]
    assert items == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert len(fake.requests) == 3
    first, second, third = (r.url.params for r in fake.requests)
    assert first["$expand"] == "x"
    # nextLink carries its own query: no params added, api-version not doubled
    assert "$expand" not in second
    assert second.get_list("api-version") == ["2025-04-01"]
    assert third["$skiptoken"] == "def"


async def test_list_all_single_page(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RPC, ok({"value": [{"n": 1}]}))
    assert [
        i
        async for i in client.list_all(
            RPC, operation=ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL
        )
    ] == [{"n": 1}]


async def test_list_all_relative_next_link(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RPC, ok({"value": [{"n": 1}], "nextLink": f"{RPC}/p2?api-version=2025-04-01"}))
    fake.on("GET", f"{RPC}/p2", ok({"value": [{"n": 2}]}))
    assert [
        i
        async for i in client.list_all(
            RPC, operation=ArmOperation.RESTORE_POINT_COLLECTIONS_LIST_ALL
        )
    ] == [{"n": 1}, {"n": 2}]


# -- long-running operations --------------------------------------------------------------------


async def test_lro_via_azure_async_operation(client: ArmClient, fake: FakeArm) -> None:
    fake.on(
        "PUT",
        RP,
        ok(
            {"properties": {"provisioningState": "Creating"}},
            201,
            **{"Azure-AsyncOperation": OP_URL},
        ),
    )
    fake.on(
        "GET",
        OP.removeprefix(ARM),
        ok({"status": "InProgress", "name": "op1"}),
        ok({"status": "InProgress", "name": "op1"}),
        ok({"status": "Succeeded", "name": "op1"}),
    )
    fake.on("GET", RP, ok({"name": "rp1", "properties": {"provisioningState": "Succeeded"}}))
    response = await client.put(RP, {"properties": {}}, operation="RestorePoints_Create")
    result = await client.wait_for_completion(
        "PUT", RP, response, operation="RestorePoints_Create", correlation_id="corr-9"
    )
    assert result.succeeded
    assert result.status == "Succeeded"
    assert result.error is None
    assert result.body == {"name": "rp1", "properties": {"provisioningState": "Succeeded"}}
    op_path = OP.removeprefix(ARM)
    assert fake.paths() == [f"PUT {RP}", *[f"GET {op_path}"] * 3, f"GET {RP}"]
    op_request = fake.requests[1]
    assert op_request.url.params.get_list("api-version") == ["2025-04-01"]
    assert op_request.url.params["p"] == "7c1a"
    assert all(r.headers["x-ms-correlation-request-id"] == "corr-9" for r in fake.requests[1:])


@pytest.mark.parametrize(
    ("op_body", "status", "code", "message"),
    [
        (
            {"status": "Failed", "error": {"code": "CopyNotAllowed", "message": "copy of a copy"}},
            "Failed",
            "CopyNotAllowed",
            "copy of a copy",
        ),
        ({"status": "Canceled"}, "Canceled", "Canceled", "the operation ended Canceled"),
        ({"status": "failed", "error": "text"}, "failed", "failed", "the operation ended failed"),
    ],
)
async def test_lro_failed_operation_carries_its_error(
    client: ArmClient, fake: FakeArm, op_body: dict[str, Any], status: str, code: str, message: str
) -> None:
    fake.on("PUT", RP, ok({}, 201, **{"Azure-AsyncOperation": OP_URL}))
    fake.on("GET", OP.removeprefix(ARM), ok({"status": "InProgress"}), ok(op_body))
    response = await client.put(RP, {}, operation="RestorePoints_Create")
    result = await client.wait_for_completion("PUT", RP, response, operation="RestorePoints_Create")
    assert not result.succeeded
    assert result.status == status
    assert result.error is not None
    assert (result.error.code, result.error.message) == (code, message)
    assert result.error.operation == "RestorePoints_Create"
    assert result.body == op_body
    assert f"GET {RP}" not in fake.paths()  # a failed PUT is not read back


async def test_lro_operation_status_read_error_is_retried(client: ArmClient, fake: FakeArm) -> None:
    # a 5xx on the status URL means reading failed, not that the operation failed
    fake.on(
        "GET",
        OP.removeprefix(ARM),
        arm_error(500, "InternalError"),
        ok({"status": "Succeeded"}),
    )
    fake.on("GET", RP, ok({"name": "rp1"}))
    response = ArmResponse(201, httpx.Headers({"Azure-AsyncOperation": OP_URL}), {})
    result = await client.wait_for_completion(
        "PUT", RP, response, operation=ArmOperation.RESTORE_POINTS_GET
    )
    assert result.succeeded
    assert result.body == {"name": "rp1"}


async def test_lro_delete_via_async_operation_returns_the_status(
    client: ArmClient, fake: FakeArm
) -> None:
    fake.on("GET", OP.removeprefix(ARM), ok({"status": "Succeeded", "name": "op1"}))
    response = ArmResponse(202, httpx.Headers({"Azure-AsyncOperation": OP_URL}), None)
    result = await client.wait_for_completion(
        "DELETE", RP, response, operation=ArmOperation.RESTORE_POINTS_GET
    )
    assert result.succeeded
    assert result.body == {"status": "Succeeded", "name": "op1"}
    assert f"GET {RP}" not in fake.paths()


async def test_lro_via_location(client: ArmClient, fake: FakeArm) -> None:
    location = f"{OP.rsplit('/operations/', 1)[0]}/operationResults/r1"
    fake.on(
        "POST",
        f"{RP}/x",
        httpx.Response(
            202, headers={"Location": f"{location}?monitor=true&api-version=2025-01-02"}
        ),
    )
    fake.on(
        "GET",
        location.removeprefix(ARM),
        httpx.Response(202, headers={"Retry-After": "0"}),
        httpx.Response(202),
        ok({"accessSAS": "https://x"}),
    )
    response = await client.request("POST", f"{RP}/x", operation=ArmOperation.RESTORE_POINTS_CREATE)
    result = await client.wait_for_completion(
        "POST", f"{RP}/x", response, operation=ArmOperation.RESTORE_POINTS_CREATE
    )
    assert result.succeeded
    assert result.body == {"accessSAS": "https://x"}
    assert len(fake.requests) == 4
    assert fake.requests[1].url.params.get_list("api-version") == ["2025-01-02"]


async def test_lro_delete_via_location_204(client: ArmClient, fake: FakeArm) -> None:
    location = f"{ARM}/operationResults/r2?api-version=2025-04-01"
    fake.on("GET", "/operationResults/r2", httpx.Response(202), httpx.Response(204))
    response = ArmResponse(202, httpx.Headers({"Location": location}), None)
    result = await client.wait_for_completion(
        "DELETE", RP, response, operation=ArmOperation.RESTORE_POINTS_DELETE
    )
    assert result.succeeded
    assert result.body == {}


async def test_async_operation_preferred_over_location(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", OP.removeprefix(ARM), ok({"status": "Succeeded"}))
    headers = httpx.Headers({"Azure-AsyncOperation": OP_URL, "Location": f"{ARM}/elsewhere"})
    result = await client.wait_for_completion(
        "DELETE", RP, ArmResponse(202, headers, None), operation=ArmOperation.RESTORE_POINTS_GET
    )
    assert result.succeeded
    assert fake.paths() == [f"GET {OP.removeprefix(ARM)}"]


@pytest.mark.parametrize(
    ("states", "succeeded", "final"),
    [
        (["Creating", "Creating", "Succeeded"], True, "Succeeded"),
        (["Creating", "Failed"], False, "Failed"),
        (["Updating", "canceled"], False, "canceled"),
        ([None], True, "Succeeded"),  # no provisioningState counts as Succeeded
    ],
)
async def test_lro_via_provisioning_state(
    client: ArmClient, fake: FakeArm, states: list[str | None], succeeded: bool, final: str
) -> None:
    bodies = [
        ok({"name": "rp1", "properties": {"provisioningState": s} if s else {}}) for s in states
    ]
    fake.on("PUT", RP, ok({"properties": {"provisioningState": "Creating"}}, 201))
    fake.on("GET", RP, *bodies)
    response = await client.put(RP, {}, operation="RestorePoints_Create")
    result = await client.wait_for_completion("PUT", RP, response, operation="RestorePoints_Create")
    assert result.succeeded is succeeded
    assert result.status == final
    assert result.body["name"] == "rp1"
    assert len(fake.requests) == 1 + len(states)
    if succeeded:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.code == final


async def test_lro_delete_without_headers_done_when_gone(client: ArmClient, fake: FakeArm) -> None:
    fake.on(
        "GET", RP, ok({"properties": {"provisioningState": "Deleting"}}), arm_error(404, "NotFound")
    )
    result = await client.wait_for_completion(
        "DELETE",
        RP,
        ArmResponse(202, httpx.Headers(), None),
        operation=ArmOperation.RESTORE_POINTS_DELETE,
    )
    assert result.succeeded
    assert len(fake.requests) == 2


async def test_lro_put_resource_vanished_is_a_failure(client: ArmClient, fake: FakeArm) -> None:
    fake.on("GET", RP, arm_error(404, "NotFound"))
    result = await client.wait_for_completion(
        "PUT", RP, ArmResponse(201, httpx.Headers(), {}), operation=ArmOperation.RESTORE_POINTS_GET
    )
    assert not result.succeeded
    assert result.status == "Failed"


@pytest.mark.parametrize("status", [200, 201, 204])
async def test_lro_synchronous_answer_needs_no_polling(
    client: ArmClient, fake: FakeArm, status: int
) -> None:
    result = await client.wait_for_completion(
        "POST",
        RP,
        ArmResponse(status, httpx.Headers(), {"done": True}),
        operation=ArmOperation.RESTORE_POINTS_GET,
    )
    assert result.succeeded
    assert result.body == {"done": True}
    assert fake.requests == []


async def test_lro_times_out(fake: FakeArm) -> None:
    fake.on("GET", OP.removeprefix(ARM), ok({"status": "InProgress"}))
    client = make_client(fake, lro_timeout_seconds=0.05, lro_poll_seconds=0.01)
    response = ArmResponse(201, httpx.Headers({"Azure-AsyncOperation": OP_URL}), {})
    try:
        with pytest.raises(ArmError) as info:
            await client.wait_for_completion("PUT", RP, response, operation="RestorePoints_Create")
    finally:
        await client.close()
    assert info.value.code == "OperationTimeout"
    assert info.value.transient
    assert info.value.operation == "RestorePoints_Create"
    assert fake.requests  # it polled before giving up (how often depends on the load)


async def test_lro_timeout_via_provisioning_state(fake: FakeArm) -> None:
    fake.on("GET", RP, ok({"properties": {"provisioningState": "Creating"}}))
    client = make_client(fake, lro_timeout_seconds=0.05, lro_poll_seconds=0.01)
    try:
        with pytest.raises(ArmError, match="did not finish"):
            await client.wait_for_completion(
                "PUT",
                RP,
                ArmResponse(201, httpx.Headers(), {}),
                operation=ArmOperation.RESTORE_POINTS_GET,
            )
    finally:
        await client.close()


# -- tokens -------------------------------------------------------------------------------------


async def test_static_token_source() -> None:
    source = token_source_for(SETTINGS)
    assert isinstance(source, StaticToken)
    assert await source.token() == TOKEN
    assert TOKEN not in repr(source)
    await source.close()


async def test_token_fetched_per_attempt(
    client: ArmClient, fake: FakeArm, tokens: CountingToken
) -> None:
    fake.on("GET", RP, arm_error(503, "Busy"), ok({}))
    await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    assert tokens.calls == 2


async def test_client_request_id_is_the_job_id_while_working_for_a_job(
    client: ArmClient, fake: FakeArm
) -> None:
    from shared.arm.client import current_job_id

    fake.on("GET", RP, ok({}))
    token = current_job_id.set("0123456789abcdef0123456789abcdef")
    try:
        await client.get(RP, operation=ArmOperation.RESTORE_POINTS_GET)
    finally:
        current_job_id.reset(token)
    assert fake.requests[-1].headers["x-ms-client-request-id"] == "0123456789abcdef0123456789abcdef"


async def test_an_operation_outside_the_table_never_reaches_arm() -> None:
    """Every ARM call names an operation whose permission the deployed role holds."""
    fake = FakeArm()
    client = make_client(fake)
    with pytest.raises(ValueError, match="not a valid ArmOperation"):
        await client.get(RP, operation="VirtualMachines_Delete")  # type: ignore[arg-type]
    assert fake.requests == []
