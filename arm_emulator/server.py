"""Serve the emulator with uvicorn; a `drop` fault needs the connection's transport.

uvicorn does not expose the TCP transport to the app, so the HTTP protocol is subclassed to put it
into the ASGI scope (`arm_emulator.transport`); `arm_routes._drop` aborts it, and the client sees
the connection reset with no HTTP response at all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import EmulatorApp
from .arm_routes import TRANSPORT_KEY


class DroppableH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope[TRANSPORT_KEY] = self.transport
            await inner(scope, receive, send)

        self.app = app


def build_server(
    app: EmulatorApp, host: str, port: int, log_level: str = "warning"
) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=DroppableH11Protocol,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        server_header=False,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


def serve(app: EmulatorApp, host: str, port: int, log_level: str = "warning") -> None:
    server = build_server(app, host, port, log_level)
    logging.getLogger("arm_emulator").info("listening on http://%s:%s", host, port)
    asyncio.run(server.serve())
