"""httpx's requests and responses over aiohttp's connection pool, for the ARM client.

A burst of copies (100 POSTs at once, each with its ARM read, then the stages' calls) runs on
one event loop. httpx's own pool (httpcore) spends about a millisecond of that loop per call
on pool bookkeeping and pure-Python HTTP parsing; aiohttp (already the Azure SDK clients'
transport) keeps its pool in O(1) and parses in C. The ARM client keeps httpx's API (and its
MockTransport in the unit tests); only the wire underneath changes. Everything that goes wrong
on the wire is raised as the httpx error the ARM client already handles (a TransportError).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import httpx

# As many connections as httpx's default pool; each is kept for reuse (a burst would otherwise
# open, and over TLS handshake, a new one for most calls).
MAX_CONNECTIONS = 100
_SET_BY_AIOHTTP = frozenset({"host", "content-length", "accept-encoding", "connection"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = MAX_CONNECTIONS) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running event loop.
        if self._session is None or self._session.closed:
            # The CA bundle httpx would use (certifi, or SSL_CERT_FILE / SSL_CERT_DIR).
            self._ssl = self._ssl or httpx.create_ssl_context()
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ssl=self._ssl, keepalive_timeout=60
            )
            # trust_env: the proxy variables httpx honours (HTTPS_PROXY, NO_PROXY) hold here too.
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=True, auto_decompress=True
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limits: dict[str, Any] = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.get("pool"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        body = await request.aread()
        # aiohttp sets these itself (and decodes only the encodings it offers).
        headers = [
            (k, v) for k, v in request.headers.multi_items() if k.lower() not in _SET_BY_AIOHTTP
        ]
        try:
            async with self._client().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,  # as the ARM client's httpx: a redirect is its answer
                timeout=timeout,
            ) as response:
                content = await response.read()
                answered = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
                ]
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"ARM did not answer in time ({exc})", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.NetworkError(str(exc), request=request) from exc
        # aiohttp already decoded any Content-Encoding: do not let httpx decode it again.
        answered = [(k, v) for k, v in answered if k.lower() != "content-encoding"]
        return httpx.Response(response.status, headers=answered, content=content, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await asyncio.sleep(0)  # let aiohttp close its sockets
