"""HTTP triggers through a running devhost: routes, methods, keys, errors, outputs."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.devhost.devhost_support import (
    FUNCTION_KEY,
    MASTER_KEY,
    DevhostProcess,
    ResultCollector,
    get,
    post,
    token,
)


def test_anonymous_route_with_alpha_constraint(devhost: DevhostProcess) -> None:
    response = get(devhost.url("/api/hello/World"))
    assert response.status_code == 200
    assert response.text == "hello, World"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_constraint_mismatch_and_unknown_routes_are_404(devhost: DevhostProcess) -> None:
    assert get(devhost.url("/api/hello/abc123")).status_code == 404  # alpha fails
    assert get(devhost.url("/api/nothing-here")).status_code == 404
    assert get(devhost.url("/hello/World")).status_code == 404  # route prefix required


def test_wrong_method_is_404(devhost: DevhostProcess) -> None:
    assert post(devhost.url("/api/hello/World")).status_code == 404


def test_route_prefix_and_literal_segments_are_case_insensitive(devhost: DevhostProcess) -> None:
    assert get(devhost.url("/API/Hello/World")).status_code == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/items/42", {"num": "42"}),
        ("/api/items/42/", {"num": "42"}),
        ("/api/items/42/more%20things", {"num": "42", "extra": "more things"}),
    ],
)
def test_int_and_optional_parameters(devhost: DevhostProcess, path: str, expected: dict) -> None:
    response = get(devhost.url(path))
    assert response.status_code == 200
    assert response.json() == expected


def test_int_constraint_rejects_text(devhost: DevhostProcess) -> None:
    assert get(devhost.url("/api/items/forty")).status_code == 404


def test_function_key_via_header_and_code(devhost: DevhostProcess) -> None:
    copy_id = str(uuid.uuid4())
    url = devhost.url(f"/api/copies/{copy_id}")
    by_header = get(url, headers={"x-functions-key": FUNCTION_KEY}, params={"x": "1"})
    assert by_header.status_code == 200
    assert by_header.json() == {"id": copy_id, "method": "GET", "params": {"x": "1"}}
    assert by_header.headers["content-type"] == "application/json"
    by_code = get(url, params={"code": FUNCTION_KEY})
    assert by_code.status_code == 200
    # The master key opens function-level routes too.
    assert get(url, headers={"x-functions-key": MASTER_KEY}).status_code == 200


@pytest.mark.parametrize(
    "auth",
    [{}, {"headers": {"x-functions-key": "wrong"}}, {"params": {"code": "wrong"}}],
    ids=["missing", "wrong-header", "wrong-code"],
)
def test_function_level_without_valid_key_is_401(devhost: DevhostProcess, auth: dict) -> None:
    response = get(devhost.url(f"/api/copies/{uuid.uuid4()}"), **auth)
    assert response.status_code == 401
    assert response.content == b""


def test_guid_constraint(devhost: DevhostProcess) -> None:
    response = get(devhost.url("/api/copies/not-a-guid"), headers={"x-functions-key": FUNCTION_KEY})
    assert response.status_code == 404


def test_admin_level_needs_master_key(devhost: DevhostProcess) -> None:
    url = devhost.url("/api/secret")
    assert get(url, headers={"x-functions-key": FUNCTION_KEY}).status_code == 401
    assert get(url).status_code == 401
    response = get(url, params={"code": MASTER_KEY})
    assert response.status_code == 200
    assert response.text == "admin ok"


def test_unhandled_exception_is_500_without_details(devhost: DevhostProcess) -> None:
    response = get(devhost.url("/api/boom"))
    assert response.status_code == 500
    assert b"kaboom" not in response.content
    assert b"Traceback" not in response.content
    devhost.wait_log("kaboom: internal detail that must not leak")  # but it is logged


def test_async_function_status_headers_body_and_context(devhost: DevhostProcess) -> None:
    payload = {"hello": "world"}
    response = post(devhost.url("/api/echo"), content=json.dumps(payload))
    assert response.status_code == 201
    assert response.json() == payload
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-method"] == "POST"
    invocation_id = response.headers["x-invocation-id"]
    uuid.UUID(invocation_id)
    # The user's log line carries the function name and invocation id.
    devhost.wait_log(f"[echo {invocation_id}] sample_app: echo called")


def test_http_function_with_queue_output(devhost: DevhostProcess, results: ResultCollector) -> None:
    mark = token()
    response = post(
        devhost.url("/api/copies"),
        json={"token": mark},
        headers={"x-functions-key": FUNCTION_KEY},
    )
    assert response.status_code == 202
    assert response.headers["location"] == f"/api/copies/{mark}"
    results.wait_for(
        lambda r: r.get("fn") == "copies_post" and r.get("token") == mark,
        what="copies_post output message",
    )


def test_keys_never_reach_the_log(devhost: DevhostProcess) -> None:
    get(devhost.url(f"/api/copies/{uuid.uuid4()}"), params={"code": FUNCTION_KEY})
    devhost.wait_log("GET /api/copies/")
    text = devhost.log_text()
    assert FUNCTION_KEY not in text
    assert MASTER_KEY not in text
    assert "AccountKey=Eby8" not in text


def test_a_client_that_disconnects_mid_body_is_not_a_server_error(
    devhost: DevhostProcess,
) -> None:
    """Found by the bad-input drill: a client that went away before its body arrived was
    logged as an unhandled host error (traceback, `-> 500`) although nothing failed."""
    import socket

    request = (
        b"POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"a"'
    )
    with socket.create_connection(("127.0.0.1", devhost.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1024)
    devhost.wait_log("POST /api/echo: the client disconnected before the request arrived")
    text = devhost.log_text()
    assert "unhandled error serving POST /api/echo" not in text
    assert "POST /api/echo -> 500" not in text
