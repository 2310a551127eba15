"""Fixtures for the ARM emulator tests: in-process apps on a frozen clock, helpers, a receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from arm_emulator import ids
from arm_emulator.app import EmulatorApp, create_app
from arm_emulator.config import DEFAULT_SUBSCRIPTION_ID, EmulatorConfig
from arm_emulator.control import AsyncEmulatorControl
from arm_emulator.scenarios import DiskSpec, Scenario
from devstack.processes import free_port, wait_until

SUB = DEFAULT_SUBSCRIPTION_ID
API = "2025-04-01"
DISK_API = "2025-01-02"
BASE = "http://arm.test"
AUTH = {"Authorization": "Bearer test-token"}


def rpc_path(name: str, rg: str = "rg", sub: str = SUB) -> str:
    return ids.rpc_id(sub, rg, name)


def rp_path(rpc: str, rp: str, rg: str = "rg") -> str:
    return f"{rpc_path(rpc, rg)}/restorePoints/{rp}"


class Arm:
    """An httpx client on an in-process emulator, with ARM conveniences."""

    def __init__(self, app: EmulatorApp, client: httpx.AsyncClient) -> None:
        self.app = app
        self.emu = app.emulator
        self.client = client
        self.ctl = AsyncEmulatorControl(client=client)

    async def request(
        self,
        method: str,
        path: str,
        *,
        api: str | None = API,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        query = dict(params or {})
        if api is not None and "api-version" not in path:
            query["api-version"] = api
        hdrs = dict(AUTH) if auth else {}
        hdrs.update(headers or {})
        return await self.client.request(method, path, params=query, json=json_body, headers=hdrs)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, json_body={} if body is None else body, **kw)

    async def patch(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, json_body=body, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, json_body=body, **kw)

    async def advance(self, seconds: float) -> None:
        await self.ctl.advance_clock(seconds)

    async def target_rpc(
        self, name: str = "rpc1-dr", source: str = "rpc1", location: str = "westus"
    ) -> httpx.Response:
        body = {"location": location, "properties": {"source": {"id": rpc_path(source)}}}
        return await self.put(rpc_path(name), body)

    async def copy(
        self,
        rp: str,
        target_rpc: str = "rpc1-dr",
        name: str | None = None,
        source_rpc: str = "rpc1",
        api: str = API,
    ) -> httpx.Response:
        body = {"properties": {"sourceRestorePoint": {"id": rp_path(source_rpc, rp)}}}
        return await self.put(rp_path(target_rpc, name or f"{rp}-copy"), body, api=api)

    async def instance_view(self, rpc: str, rp: str) -> dict[str, Any]:
        r = await self.get(rp_path(rpc, rp), params={"$expand": "instanceView"})
        assert r.status_code == 200, r.text
        return r.json()["properties"]["instanceView"]


def standard_scenario(restore_points: int = 3, **vm_extra: Any) -> Scenario:
    """vm1 in eastus: OS 128 GB (30 used), data lun0 256 GB (40 used), lun1 64 GB (8 used);
    rpc1 with rp1..rpN an hour apart (oldest first)."""
    s = Scenario(SUB).vm(
        "vm1",
        rg="rg",
        location="eastus",
        os_disk=DiskSpec(size_gb=128, used_gb=30),
        data_disks=[
            DiskSpec(lun=0, size_gb=256, used_gb=40),
            DiskSpec(lun=1, size_gb=64, used_gb=8),
        ],
        **vm_extra,
    )
    s.collection("rpc1", vm="vm1")
    for i in range(1, restore_points + 1):
        s.restore_point(f"rp{i}", "rpc1", age_seconds=(restore_points - i + 1) * 3600)
    return s


@pytest.fixture
async def make_arm() -> AsyncIterator[Callable[..., Any]]:
    """Factory: `arm = await make_arm(scenario, **config)`; a frozen clock by default."""
    created: list[Arm] = []

    async def factory(scenario: Scenario | dict[str, Any] | None = None, **config: Any) -> Arm:
        config.setdefault("time_scale", 0.0)
        app = create_app(EmulatorConfig(**config))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE, timeout=30)
        instance = Arm(app, client)
        created.append(instance)
        if scenario is not None:
            await instance.ctl.seed(scenario)
        return instance

    yield factory
    for instance in created:
        await instance.client.aclose()
        await instance.emu.aclose()


@pytest.fixture
async def arm(make_arm: Callable[..., Any]) -> Arm:
    """An emulator with the standard scenario (vm1, rpc1, rp1..rp3) on a frozen clock."""
    return await make_arm(standard_scenario())


# ---- a real webhook receiver ---------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTP server on a free loopback port that records what it receives."""

    port: int
    fail_first: int = 0  # answer 500 to this many requests first (to exercise retries)
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.lock:
            self.received.append(
                {
                    "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                    "body": json.loads(body) if body else None,
                }
            )
            status = 500 if len(self.received) <= self.fail_first else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        wait_until(
            lambda: len(self.received) >= count,
            timeout=timeout,
            what=f"{count} webhook deliveries (got {len(self.received)})",
        )
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(port=free_port())
    config = uvicorn.Config(
        rec.app,
        host="127.0.0.1",
        port=rec.port,
        log_level="error",
        lifespan="off",
        interface="asgi3",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the webhook receiver to start")
    yield rec
    server.should_exit = True
    thread.join(timeout=10)


async def eventually(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Await a condition with a deadline without blocking the event loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        await asyncio.sleep(0.02)
