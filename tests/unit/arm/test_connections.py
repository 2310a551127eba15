"""shared/arm/connections.py over real loopback sockets: the pool keeps and reuses a
connection, and still drops one the server closed (the idle check it makes cheaper)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.arm import connections
from shared.arm.auth import StaticToken
from shared.arm.client import ArmClient
from shared.settings import ArmSettings

REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1: answers each request with `{}`; counts the connections it
    accepted; `close_all` ends every open one from the server side."""

    def __init__(self) -> None:
        self.accepted = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(REPLY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close_all(self) -> None:
        for writer in self._writers:
            writer.close()
            await writer.wait_closed()
        self._writers.clear()


@pytest.fixture
async def server() -> AsyncIterator[tuple[KeepAliveServer, str]]:
    state = KeepAliveServer()
    srv = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield state, f"http://127.0.0.1:{port}"
        await state.close_all()


def test_socket_readable_follows_the_socket() -> None:
    left, right = socket.socketpair()
    try:
        assert connections.socket_readable(left) is False
        right.sendall(b"x")
        assert connections.socket_readable(left) is True
        left.recv(1)
        right.close()  # the peer's close reads as the end: readable
        assert connections.socket_readable(left) is True
    finally:
        left.close()
        right.close()
    assert connections.socket_readable(left) is True  # closed here: no descriptor
    assert connections.socket_readable(None) is True


async def test_the_arm_client_pool_gets_the_backend() -> None:
    settings = ArmSettings(endpoint="https://arm.test", credential="static", static_token="t")
    arm = ArmClient(settings, StaticToken("t"))
    try:
        pool = arm._http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, connections.SocketKnownBackend)
        assert connections.install(arm._http) is True  # twice: still one wrapper
        assert isinstance(pool._network_backend._inner, connections.SocketKnownBackend) is False
    finally:
        await arm.close()


async def test_a_client_with_its_own_transport_is_left_alone() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=mock) as client:
        assert connections.install(client) is False
        assert client._transport is mock


async def test_connection_kept_reused_and_dropped_when_the_server_closes_it(
    server: tuple[KeepAliveServer, str],
) -> None:
    state, url = server
    async with httpx.AsyncClient(base_url=url) as client:
        assert connections.install(client) is True
        assert (await client.get("/a")).json() == {}
        assert (await client.get("/b")).json() == {}
        assert state.accepted == 1  # kept alive and reused

        await state.close_all()
        await asyncio.sleep(0.05)  # the close reaches the client's socket
        # The idle check sees the closed socket: a new connection, not a failed request.
        assert (await client.get("/c")).json() == {}
        assert state.accepted == 2
