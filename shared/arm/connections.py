"""ARM connections whose idle check costs one poll, not a socket introspection.

httpcore's pool checks every pooled connection each time a request joins or leaves it: an idle
connection is asked whether its socket is readable (a server-side close). With the anyio
backend that question rebuilds anyio's socket attribute table (a getpeername system call and a
dict) just to find the socket. The ARM client keeps up to 100 connections (a burst of copies),
so that check ran 100 times per request and was the host's largest single CPU cost in the
pipeline benchmark (py-spy). Here each stream looks its socket up once, when it is opened, and
answers the same question with the same poll.
"""

# The `timeout` parameters are httpcore's network interface, not ours to replace.
# ruff: noqa: ASYNC109

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


def socket_readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data or the end); a socket gone counts as readable,
    as in httpcore, so the pool drops its connection."""
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class SocketKnownStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return SocketKnownStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return socket_readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


class SocketKnownBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return SocketKnownStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return SocketKnownStream(
            await self._inner.connect_unix_socket(path, timeout, socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(client: httpx.AsyncClient) -> bool:
    """Give the client's own connection pool (httpx's default transport, as configured by the
    client: limits, TLS, proxies from the environment) streams of this module. httpx offers no
    parameter for the pool's network backend, so this reaches into its transport (httpx and
    httpcore are pinned; tests/unit/arm/test_connections.py fails if that shape changes).
    False, and nothing changed, for a transport of another kind (tests pass their own)."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        return False
    if not isinstance(pool, httpcore.AsyncConnectionPool):
        return False
    backend = getattr(pool, "_network_backend", None)
    if backend is None or isinstance(backend, SocketKnownBackend):
        return isinstance(backend, SocketKnownBackend)
    pool._network_backend = SocketKnownBackend(backend)
    return True
