"""Typed clients for the `/_emulator` control plane (sync and async), for tests, demos, benchmarks.

    with EmulatorControl("http://127.0.0.1:8180") as ctl:
        scenario = Scenario().vm("vm1").collection("rpc1", vm="vm1").restore_point("rp1", "rpc1")
        created = ctl.seed(scenario)
        ctl.advance_clock(600)

Pass `client=` to reuse an httpx client, e.g. one on `httpx.ASGITransport(app)` in-process.
"""

from __future__ import annotations

from typing import Any

import httpx

from .scenarios import Scenario, restore_point_fields

PREFIX = "/_emulator"


class EmulatorControlError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"control plane answered {status}: {message}")
        self.status = status
        self.body = body


def _payload(response: httpx.Response) -> Any:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        raise EmulatorControlError(response.status_code, body)
    return body


def _scenario(scenario: Scenario | dict[str, Any]) -> dict[str, Any]:
    return scenario.to_dict() if isinstance(scenario, Scenario) else scenario


def _rp_request(
    collection_id: str,
    name: str | None,
    changed_bytes: int | dict[str, int] | None,
    changed_fraction: float | None,
    consistency_mode: str | None,
    exclude_disks: list[str | int] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"collectionId": collection_id}
    if name is not None:
        body["name"] = name
    body.update(
        restore_point_fields(changed_bytes, changed_fraction, consistency_mode, exclude_disks)
    )
    return body


def _webhook(
    url: str,
    schema: str,
    name: str | None,
    subject_begins_with: str | None,
    included_event_types: list[str] | None,
    cloud_events_batch: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "schema": schema}
    if name:
        body["name"] = name
    if subject_begins_with:
        body["subjectBeginsWith"] = subject_begins_with
    if included_event_types:
        body["includedEventTypes"] = included_event_types
    if cloud_events_batch:
        body["cloudEventsBatch"] = True
    return body


class EmulatorControl:
    """Synchronous control-plane client."""

    def __init__(
        self, base_url: str = "http://127.0.0.1:8180", *, client: httpx.Client | None = None
    ) -> None:
        self._owned = client is None
        self.client = client or httpx.Client(base_url=base_url, timeout=30.0, trust_env=False)

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"params": {k: v for k, v in params.items() if v is not None}}
        if body is not None:
            kwargs["json"] = body
        return _payload(self.client.request(method, PREFIX + path, **kwargs))

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/reset")

    def seed(self, scenario: Scenario | dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/seed", _scenario(scenario))

    def create_restore_point(
        self,
        collection_id: str,
        name: str | None = None,
        *,
        changed_bytes: int | dict[str, int] | None = None,
        changed_fraction: float | None = None,
        consistency_mode: str | None = None,
        exclude_disks: list[str | int] | None = None,
    ) -> dict[str, Any]:
        body = _rp_request(
            collection_id, name, changed_bytes, changed_fraction, consistency_mode, exclude_disks
        )
        return self._call("POST", "/restore-points", body)

    def add_fault(self, rule: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", {**(rule or {}), **fields})

    def set_faults(self, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("PUT", "/faults", {"faults": rules})

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock/advance", {"seconds": seconds})

    def set_time_scale(self, time_scale: float) -> dict[str, Any]:
        return self._call("PUT", "/clock", {"timeScale": time_scale})

    def requests(self, operation: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/requests", operation=operation)["requests"]

    def counts(self) -> dict[str, int]:
        return self._call("GET", "/requests")["counts"]

    def disks(self) -> list[dict[str, Any]]:
        return self._call("GET", "/disks")

    def sas_content(self, disk_restore_point_id: str, length: int = 1024 * 1024) -> dict[str, Any]:
        return self._call(
            "GET", "/sas-content", diskRestorePointId=disk_restore_point_id, bytes=length
        )

    def reset_requests(self) -> None:
        self._call("DELETE", "/requests")

    def subscribe_webhook(
        self,
        url: str,
        *,
        schema: str = "EventGridSchema",
        name: str | None = None,
        subject_begins_with: str | None = None,
        included_event_types: list[str] | None = None,
        cloud_events_batch: bool = False,
    ) -> dict[str, Any]:
        body = _webhook(
            url, schema, name, subject_begins_with, included_event_types, cloud_events_batch
        )
        return self._call("PUT", "/webhooks", body)

    def webhooks(self) -> list[dict[str, Any]]:
        return self._call("GET", "/webhooks")["webhooks"]

    def clear_webhooks(self) -> None:
        self._call("DELETE", "/webhooks")

    def events(self) -> dict[str, Any]:
        return self._call("GET", "/events")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def update_config(self, **settings: Any) -> dict[str, Any]:
        return self._call("PATCH", "/config", settings)

    def variants(self) -> list[dict[str, Any]]:
        return self._call("GET", "/variants")["variants"]

    def apply_variant(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/variants/{name}")


# The async client repeats the sync one method for method, on purpose: each method is one line
# that builds a request (the bodies are built once, above) and one `await`. Generating one client
# from the other, or sharing a base with "maybe-awaitable" calls, would hide the signatures that
# tests and editors rely on, for a saving of a few lines.
class AsyncEmulatorControl:
    """Asynchronous control-plane client (same methods, awaitable)."""

    def __init__(
        self, base_url: str = "http://127.0.0.1:8180", *, client: httpx.AsyncClient | None = None
    ) -> None:
        self._owned = client is None
        self.client = client or httpx.AsyncClient(base_url=base_url, timeout=30.0, trust_env=False)

    async def aclose(self) -> None:
        if self._owned:
            await self.client.aclose()

    async def __aenter__(self) -> AsyncEmulatorControl:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"params": {k: v for k, v in params.items() if v is not None}}
        if body is not None:
            kwargs["json"] = body
        return _payload(await self.client.request(method, PREFIX + path, **kwargs))

    async def health(self) -> dict[str, Any]:
        return await self._call("GET", "/health")

    async def reset(self) -> dict[str, Any]:
        return await self._call("POST", "/reset")

    async def seed(self, scenario: Scenario | dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/seed", _scenario(scenario))

    async def create_restore_point(
        self,
        collection_id: str,
        name: str | None = None,
        *,
        changed_bytes: int | dict[str, int] | None = None,
        changed_fraction: float | None = None,
        consistency_mode: str | None = None,
        exclude_disks: list[str | int] | None = None,
    ) -> dict[str, Any]:
        body = _rp_request(
            collection_id, name, changed_bytes, changed_fraction, consistency_mode, exclude_disks
        )
        return await self._call("POST", "/restore-points", body)

    async def add_fault(self, rule: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return await self._call("POST", "/faults", {**(rule or {}), **fields})

    async def set_faults(self, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("PUT", "/faults", {"faults": rules})

    async def faults(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/faults"))["faults"]

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def clock(self) -> dict[str, Any]:
        return await self._call("GET", "/clock")

    async def advance_clock(self, seconds: float) -> dict[str, Any]:
        return await self._call("POST", "/clock/advance", {"seconds": seconds})

    async def set_time_scale(self, time_scale: float) -> dict[str, Any]:
        return await self._call("PUT", "/clock", {"timeScale": time_scale})

    async def requests(self, operation: str | None = None) -> list[dict[str, Any]]:
        return (await self._call("GET", "/requests", operation=operation))["requests"]

    async def counts(self) -> dict[str, int]:
        return (await self._call("GET", "/requests"))["counts"]

    async def disks(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/disks")

    async def sas_content(
        self, disk_restore_point_id: str, length: int = 1024 * 1024
    ) -> dict[str, Any]:
        return await self._call(
            "GET", "/sas-content", diskRestorePointId=disk_restore_point_id, bytes=length
        )

    async def reset_requests(self) -> None:
        await self._call("DELETE", "/requests")

    async def subscribe_webhook(
        self,
        url: str,
        *,
        schema: str = "EventGridSchema",
        name: str | None = None,
        subject_begins_with: str | None = None,
        included_event_types: list[str] | None = None,
        cloud_events_batch: bool = False,
    ) -> dict[str, Any]:
        body = _webhook(
            url, schema, name, subject_begins_with, included_event_types, cloud_events_batch
        )
        return await self._call("PUT", "/webhooks", body)

    async def webhooks(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/webhooks"))["webhooks"]

    async def clear_webhooks(self) -> None:
        await self._call("DELETE", "/webhooks")

    async def events(self) -> dict[str, Any]:
        return await self._call("GET", "/events")

    async def state(self) -> dict[str, Any]:
        return await self._call("GET", "/state")

    async def update_config(self, **settings: Any) -> dict[str, Any]:
        return await self._call("PATCH", "/config", settings)

    async def variants(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/variants"))["variants"]

    async def apply_variant(self, name: str) -> dict[str, Any]:
        return await self._call("POST", f"/variants/{name}")
