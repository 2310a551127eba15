"""Binding contract: every function's trigger, queue, connection and route, as the host sees
them, and function_app.py indexed by the Python worker's own indexer."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import azure.functions as func
import pytest

REPO = Path(__file__).resolve().parents[2]

EXPECTED_QUEUES = {
    "stage_ensure_target": "rpcopy-ensure-target",
    "poison_ensure_target": "rpcopy-ensure-target-poison",
    "stage_start_copy": "rpcopy-start-copy",
    "poison_start_copy": "rpcopy-start-copy-poison",
    "stage_poll": "rpcopy-poll",
    "poison_poll": "rpcopy-poll-poison",
    "stage_finish": "rpcopy-finish",
    "poison_finish": "rpcopy-finish-poison",
    "stage_rerun": "rpcopy-rerun",
    "poison_rerun": "rpcopy-rerun-poison",
    "stage_drill": "rpcopy-drill",
    "poison_drill": "rpcopy-drill-poison",
}
EXPECTED_EVENTGRID = {"restore_point_created"}
EXPECTED_ROUTES = {
    "copies_create": ("copies", ["POST"]),
    "copies_get": ("copies/{id}", ["GET"]),
    "copies_list": ("copies", ["GET"]),
    "copies_cancel": ("copies/{id}", ["DELETE"]),
    "copies_retry": ("copies/{id}/retry", ["POST"]),
    "copies_runs": ("copies/{id}/runs", ["GET"]),
    "protection_status": ("protection", ["GET"]),
    "sweep_plan": ("plan", ["GET"]),
    "preflight": ("preflight", ["GET"]),
    "event_schema": ("schemas/events/{name}", ["GET"]),
    # the status page's data and the OpenAPI document
    "dashboard_data": ("dashboard/data", ["GET"]),
    "openapi_document": ("openapi.json", ["GET"]),
    "drills_create": ("drills", ["POST"]),
    "drills_get": ("drills/{id}", ["GET"]),
    "drills_list": ("drills", ["GET"]),
}
# Served without a key whatever HTTP_AUTH_LEVEL says: the status page's shell, which holds no
# data and no key (shared/http_api/dashboard.py says why).
EXPECTED_ANONYMOUS_ROUTES = {"dashboard_page": ("dashboard", ["GET"])}
EXPECTED_TIMERS = {"sweep_timer": "0 */15 * * * *", "schedule_timer": "0 * * * * *"}


def _load_app(monkeypatch: pytest.MonkeyPatch, **env: str) -> func.FunctionApp:
    prefixes = ("QUEUE_", "HTTP_AUTH", "SWEEP_", "POLICY_", "SCHEDULE_")
    for key in [k for k in list(__import__("os").environ) if k.startswith(prefixes)]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    return module.app


def _bindings(app: func.FunctionApp) -> dict[str, list[dict[str, object]]]:
    """The raw binding JSON, exactly what the host reads (function.json equivalent)."""
    return {
        f.get_function_name(): [json.loads(raw) for raw in f.get_raw_bindings()]
        for f in app.get_functions()
    }


def test_every_function_is_declared_as_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    bindings = _bindings(_load_app(monkeypatch))
    assert set(bindings) == set(EXPECTED_QUEUES) | set(EXPECTED_ROUTES) | set(
        EXPECTED_ANONYMOUS_ROUTES
    ) | EXPECTED_EVENTGRID | set(EXPECTED_TIMERS), (
        "a function was added or removed: update this contract test and the README"
    )
    for name, queue in EXPECTED_QUEUES.items():
        (trigger,) = bindings[name]
        assert trigger["type"] == "queueTrigger"
        assert trigger["direction"] == "IN"
        assert trigger["queueName"] == queue
        assert trigger["connection"] == "AzureWebJobsStorage"
        assert trigger["name"] == "msg"
    for name, (route, methods) in EXPECTED_ROUTES.items():
        trigger = next(b for b in bindings[name] if b["type"] == "httpTrigger")
        output = next(b for b in bindings[name] if b["type"] == "http")
        assert trigger["route"] == route
        assert [m.upper() for m in trigger["methods"]] == methods
        assert str(trigger["authLevel"]).upper().endswith("FUNCTION"), (
            "keys are required by default"
        )
        assert output["direction"] == "OUT"
    for name, (route, methods) in EXPECTED_ANONYMOUS_ROUTES.items():
        trigger = next(b for b in bindings[name] if b["type"] == "httpTrigger")
        assert (trigger["route"], [m.upper() for m in trigger["methods"]]) == (route, methods)
        assert str(trigger["authLevel"]).upper().endswith("ANONYMOUS")
    for name, schedule in EXPECTED_TIMERS.items():
        (trigger,) = bindings[name]
        assert trigger["type"] == "timerTrigger"
        assert trigger["schedule"] == schedule
        assert trigger["useMonitor"] is True
    for name in EXPECTED_EVENTGRID:
        (trigger,) = bindings[name]
        assert trigger["type"] == "eventGridTrigger"
        assert trigger["name"] == "event"


def test_queue_names_and_auth_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    bindings = _bindings(
        _load_app(
            monkeypatch,
            SWEEP_SCHEDULE="30 */5 * * * *",
            QUEUE_POLL="custom-poll",
            HTTP_AUTH_LEVEL="anonymous",
            STORAGE_CONNECTION="OtherStorage",
        )
    )
    assert bindings["stage_poll"][0]["queueName"] == "custom-poll"
    assert bindings["sweep_timer"][0]["schedule"] == "30 */5 * * * *"
    assert bindings["poison_poll"][0]["queueName"] == "custom-poll-poison"
    assert bindings["stage_poll"][0]["connection"] == "OtherStorage"
    trigger = next(b for b in bindings["copies_create"] if b["type"] == "httpTrigger")
    assert str(trigger["authLevel"]).upper().endswith("ANONYMOUS")


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("QUEUE_POLL", "Not_A_Queue", "QUEUE_POLL"),
        ("SWEEP_SCHEDULE", "*/5 * * * *", "SWEEP_SCHEDULE"),
        ("POLICY_FILE", "tests/fixtures/policies/invalid-many.json", "invalid-many.json"),
        ("POLICY_FILE", "/no/such/policy.json", "policy.json"),
    ],
)
def test_bad_settings_fail_at_indexing(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, named: str
) -> None:
    """The app never runs on a half-understood configuration or half a policy."""
    monkeypatch.chdir(REPO)
    with pytest.raises(ValueError, match=named):
        _load_app(monkeypatch, **{setting: value})


INDEXER = textwrap.dedent(
    """
    import os, sys, types
    sys.path.insert(0, os.getcwd())
    from azure_functions_runtime import loader
    from azure_functions_runtime.bindings import meta
    from azure_functions_runtime.functions import Registry
    meta.load_binding_registry()
    # The worker passes its gRPC protos module; the indexer only reads these enum values.
    protos = types.SimpleNamespace(BindingInfo=types.SimpleNamespace(
        **{"in": 0}, out=1, inout=2, undefined=0))
    registry = Registry()
    for function in loader.index_function_app(os.path.join(os.getcwd(), "function_app.py")):
        info = registry.add_indexed_function(function=function, protos=protos)
        print(info.name, "async" if info.is_async else "sync", ",".join(info.input_types))
    """
)


def test_the_python_worker_indexes_function_app() -> None:
    pytest.importorskip("azure_functions_runtime", reason="installed by `make setup`")
    result = subprocess.run(
        [sys.executable, "-c", INDEXER],
        cwd=REPO,
        env={"AzureWebJobsStorage": "UseDevelopmentStorage=true", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    indexed = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert set(indexed) == set(EXPECTED_QUEUES) | set(EXPECTED_ROUTES) | set(
        EXPECTED_ANONYMOUS_ROUTES
    ) | EXPECTED_EVENTGRID | set(EXPECTED_TIMERS)
    assert all(kind == "async" for kind, _ in indexed.values())
    assert indexed["stage_poll"][1] == "msg"
    assert indexed["copies_create"][1] == "req"
