"""The control plane under `/_emulator/` (no auth, JSON): seed, clock, faults, webhooks, logs.

The prefix can never collide with an ARM path (those start with /subscriptions or /providers).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from . import __version__, local_rps, sas, variants, versions
from .clock import format_arm
from .engine import Emulator
from .errors import ArmError
from .faults import FaultError
from .seeding import SeedError, apply_seed, changed_map, resolve_disk_refs

PREFIX = "/_emulator"


class ControlError(ValueError):
    pass


def _error(status: int, message: str, code: str = "InvalidControlRequest") -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _json(request: Request, *, default: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if default is not None:
            return default
        raise ControlError("a JSON body is required")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ControlError(f"malformed JSON: {exc}") from exc


def build_control_app(emu: Emulator) -> Router:
    def clock_body() -> dict[str, Any]:
        now = emu.now()
        return {
            "now": format_arm(now),
            "epochSeconds": now,
            "timeScale": emu.clock.time_scale,
            "advancedSeconds": emu.clock.advanced_seconds,
        }

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "clock": clock_body(),
                "resources": {
                    "virtualMachines": len(emu.store.vms),
                    "restorePointCollections": len(emu.store.rpcs),
                    "restorePoints": len(emu.store.rps),
                },
            }
        )

    async def reset(request: Request) -> Response:
        emu.reset()
        return JSONResponse({"status": "reset", "clock": clock_body()})

    async def seed(request: Request) -> Response:
        scenario = await _json(request)
        emu.settle()
        return JSONResponse(apply_seed(emu, scenario), status_code=201)

    async def create_restore_point(request: Request) -> Response:
        spec = await _json(request)
        if not isinstance(spec, dict):
            raise ControlError("the body must be a JSON object")
        allowed = {
            "collectionId", "name", "changedBytes", "changedFraction", "consistencyMode",
            "excludeDisks", "instantAccessDurationMinutes", "hydrationSeconds",
        }  # fmt: skip
        unknown = set(spec) - allowed
        if unknown:
            raise ControlError(f"unknown field(s): {sorted(unknown)}")
        emu.settle()
        ref = spec.get("collectionId")
        if not isinstance(ref, str):
            raise ControlError("'collectionId' (a restore point collection id) is required")
        rpc = emu.find_rpc(ref)
        if rpc is None:
            return _error(404, f"no restore point collection {ref!r}", "ResourceNotFound")
        vm = emu.store.vms.get(rpc.source_key)
        if vm is None:
            raise ControlError(f"collection {ref!r} has no VM source (is it a copy target?)")
        name = spec.get("name") or _default_name(emu, rpc)
        if not isinstance(name, str):
            raise ControlError("'name' must be a string")
        fraction = spec.get("changedFraction")
        if fraction is not None and (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 <= fraction <= 1
        ):
            raise ControlError("'changedFraction' must be a number between 0 and 1")
        changed = changed_map(vm, spec.get("changedBytes"), "changedBytes")
        excluded = resolve_disk_refs(vm, spec.get("excludeDisks") or [], "excludeDisks")
        mode = spec.get("consistencyMode")
        if mode is not None and not isinstance(mode, str):
            raise ControlError("'consistencyMode' must be a string")
        if isinstance(mode, str) and mode.lower() in (
            "applicationconsistent",
            "filesystemconsistent",
        ):
            mode = None  # the default a schedule takes anyway
        if name.lower() in rpc.restore_points:
            return _error(409, f"restore point {name!r} already exists", "Conflict")
        minutes = spec.get("instantAccessDurationMinutes")
        hydration = spec.get("hydrationSeconds")
        inputs = (
            None,
            tuple(sorted(e.lower() for e in excluded)),
            mode.lower() if mode else None,
            minutes,
        )
        rp, op = local_rps.create_local_rp(
            emu,
            rpc,
            name,
            excluded=excluded,
            mode_raw=mode,
            minutes=minutes,
            inputs=inputs,
            api_version=versions.APP_COMPUTE_VERSION,
            context=emu.control_context(),
            changed=changed,
            changed_fraction=fraction,
            hydration_seconds=float(hydration) if hydration is not None else None,
        )
        base = str(request.base_url).rstrip("/")
        headers = emu.ops.headers(op, base, location=False, retry_after=False)
        return JSONResponse(
            {
                "id": rp.id,
                "name": rp.name,
                "collectionId": rpc.id,
                "provisioningState": rp.provisioning_state,
                "timeCreated": format_arm(rp.time_created),
                "operationId": op.id,
                "azureAsyncOperation": headers["Azure-AsyncOperation"],
                "completesAt": format_arm(op.end),
                "diskRestorePoints": [d.id for d in rp.disks],
            },
            status_code=201,
        )

    async def disks_get(request: Request) -> Response:
        """Every managed disk (tests assert that a restore drill left none behind)."""
        emu.settle()
        return JSONResponse(
            [
                {
                    "id": d.id,
                    "name": d.name,
                    "location": d.location,
                    "provisioningState": d.provisioning_state,
                    "diskSizeGB": d.size_gb,
                    "sourceResourceId": d.source_resource_id,
                    "tags": d.tags or {},
                }
                for d in sorted(emu.store.disks.values(), key=lambda d: d.seq)
            ]
        )

    async def sas_content_get(request: Request) -> Response:
        """What a SAS read of a disk restore point's first `bytes` returns (sha256, hex)."""
        drp_id = request.query_params.get("diskRestorePointId", "")
        length = request.query_params.get("bytes", str(1024 * 1024))
        found = emu.store.drps.get(drp_id.rstrip("/").lower())
        if found is None or not length.isdigit() or int(length) < 1:
            return _error(404, f"no disk restore point {drp_id!r} (or a bad 'bytes')")
        return JSONResponse(sas.expected_digest(found[1].id, found[1].size_gb, int(length)))

    async def requests_get(request: Request) -> Response:
        operation = request.query_params.get("operation")
        limit = request.query_params.get("limit")
        return JSONResponse(
            emu.requests.snapshot(operation, int(limit) if limit and limit.isdigit() else None)
        )

    async def requests_delete(request: Request) -> Response:
        emu.requests.clear()
        return JSONResponse({"status": "cleared"})

    async def faults_get(request: Request) -> Response:
        return JSONResponse(
            {"seed": emu.faults.seed, "faults": [r.to_dict() for r in emu.faults.rules]}
        )

    async def faults_put(request: Request) -> Response:
        body = await _json(request)
        specs = body.get("faults") if isinstance(body, dict) else body
        if not isinstance(specs, list):
            raise ControlError('PUT takes a list of fault rules (or {"faults": [...]})')
        saved = list(emu.faults.rules)
        emu.faults.clear()
        try:
            for spec in specs:
                emu.faults.add(spec)
        except FaultError:
            emu.faults.rules = saved
            raise
        return JSONResponse({"faults": [r.to_dict() for r in emu.faults.rules]})

    async def faults_post(request: Request) -> Response:
        rule = emu.faults.add(await _json(request))
        return JSONResponse(rule.to_dict(), status_code=201)

    async def faults_delete(request: Request) -> Response:
        emu.faults.clear()
        return JSONResponse({"status": "cleared"})

    async def fault_delete(request: Request) -> Response:
        if not emu.faults.remove(request.path_params["fault_id"]):
            return _error(404, "no such fault", "NotFound")
        return Response(status_code=204)

    async def clock_get(request: Request) -> Response:
        emu.settle()
        return JSONResponse(clock_body())

    async def clock_advance(request: Request) -> Response:
        body = await _json(request)
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ControlError("'seconds' (simulated seconds, a number >= 0) is required")
        emu.clock.advance(float(seconds))
        emu.settle()
        emu.events.flush()
        emu.wake()
        return JSONResponse(clock_body())

    async def clock_put(request: Request) -> Response:
        body = await _json(request)
        scale = body.get("timeScale") if isinstance(body, dict) else None
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ControlError("'timeScale' (a number >= 0) is required")
        emu.clock.set_time_scale(float(scale))
        emu.config.time_scale = float(scale)
        emu.wake()
        return JSONResponse(clock_body())

    async def webhooks_get(request: Request) -> Response:
        return JSONResponse({"webhooks": [s.to_dict() for s in emu.events.subscriptions.values()]})

    async def webhooks_put(request: Request) -> Response:
        sub = emu.events.subscribe(await _json(request))
        return JSONResponse(sub.to_dict(), status_code=201)

    async def webhooks_delete(request: Request) -> Response:
        emu.events.subscriptions.clear()
        return JSONResponse({"status": "cleared"})

    async def webhook_delete(request: Request) -> Response:
        if not emu.events.unsubscribe(request.path_params["name"]):
            return _error(404, "no such webhook", "NotFound")
        return Response(status_code=204)

    async def events_get(request: Request) -> Response:
        emu.settle()
        return JSONResponse(
            {
                "events": list(emu.events.events),
                "deliveries": [d.to_dict() for d in emu.events.deliveries],
            }
        )

    async def events_delete(request: Request) -> Response:
        emu.events.clear_log()
        return JSONResponse({"status": "cleared"})

    async def state_get(request: Request) -> Response:
        emu.settle()
        return JSONResponse(emu.snapshot_state())

    async def config_get(request: Request) -> Response:
        return JSONResponse(emu.config.to_dict())

    async def config_patch(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            raise ControlError("PATCH takes an object of config keys")
        if "timeScale" in body or "time_scale" in body:
            raise ControlError("use PUT /_emulator/clock to change the time scale")
        emu.config.update(body)
        emu.body_cache.clear()
        return JSONResponse(emu.config.to_dict())

    async def variants_get(request: Request) -> Response:
        return JSONResponse({"variants": [v.to_dict() for v in variants.ALL_VARIANT_SETS]})

    async def variant_apply(request: Request) -> Response:
        variant = variants.get(request.path_params["name"])
        emu.config.update({**variants.reset_overrides(), **variant.overrides})
        emu.body_cache.clear()
        return JSONResponse({"applied": variant.to_dict(), "config": emu.config.to_dict()})

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/seed", seed, methods=["POST"]),
        Route("/restore-points", create_restore_point, methods=["POST"]),
        Route("/disks", disks_get, methods=["GET"]),
        Route("/sas-content", sas_content_get, methods=["GET"]),
        Route("/requests", requests_get, methods=["GET"]),
        Route("/requests", requests_delete, methods=["DELETE"]),
        Route("/faults", faults_get, methods=["GET"]),
        Route("/faults", faults_put, methods=["PUT"]),
        Route("/faults", faults_post, methods=["POST"]),
        Route("/faults", faults_delete, methods=["DELETE"]),
        Route("/faults/{fault_id}", fault_delete, methods=["DELETE"]),
        Route("/clock", clock_get, methods=["GET"]),
        Route("/clock", clock_put, methods=["PUT"]),
        Route("/clock/advance", clock_advance, methods=["POST"]),
        Route("/webhooks", webhooks_get, methods=["GET"]),
        Route("/webhooks", webhooks_put, methods=["PUT", "POST"]),
        Route("/webhooks", webhooks_delete, methods=["DELETE"]),
        Route("/webhooks/{name}", webhook_delete, methods=["DELETE"]),
        Route("/events", events_get, methods=["GET"]),
        Route("/events", events_delete, methods=["DELETE"]),
        Route("/state", state_get, methods=["GET"]),
        Route("/config", config_get, methods=["GET"]),
        Route("/config", config_patch, methods=["PATCH"]),
        Route("/variants", variants_get, methods=["GET"]),
        Route("/variants/{name}", variant_apply, methods=["POST"]),
    ]
    router = Router(routes=routes)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Mount under the prefix (Starlette routes on path minus root_path).
        inner = dict(scope)
        inner["root_path"] = scope.get("root_path", "") + PREFIX
        try:
            await router(inner, receive, send)
        except (ControlError, SeedError, FaultError, ValueError) as exc:
            await _error(400, str(exc))(inner, receive, send)
        except ArmError as exc:
            await JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)(
                inner, receive, send
            )

    return app  # type: ignore[return-value]


def _default_name(emu: Emulator, rpc: Any) -> str:
    base = "rp-" + format_arm(emu.now())[:19].replace("-", "").replace(":", "")
    name, n = base, 1
    while name.lower() in rpc.restore_points:
        n += 1
        name = f"{base}-{n}"
    return name
