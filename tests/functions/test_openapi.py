"""The OpenAPI document against function_app.py and against real answers.

Every HTTP route registered in function_app.py is documented (and nothing else is); and every
documented answer of every operation is produced here by calling the function with a real
`func.HttpRequest` against Azurite and the emulator, and its body and headers are checked
against the document with a JSON Schema 2020-12 validator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
from jsonschema import Draft202012Validator

from arm_emulator.control import EmulatorControl
from devstack.stack import Stack
from tests.functions.conftest import FunctionApp
from tests.functions.test_bindings import _bindings, _load_app
from tests.functions.test_queue_functions import pump
from tests.support import SUBSCRIPTION, TARGET_REGION, seed_source

RP_SHAPE = "/providers/Microsoft.Compute/restorePointCollections/"
MISSING_RP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-none{RP_SHAPE}nope/restorePoints/r"
# Documented answers a function-level test cannot make the app give, and why. Keep it short:
# each entry is a documented answer not checked against a real one. (401 is the host's answer,
# before any function runs: tests/integration/test_dashboard_browser.py checks it.)
_STORE_DOWN = (
    "needs Table storage itself to fail; the same Problem schema is checked with the 503s of "
    "the other operations"
)
NOT_PRODUCED = {
    ("copies_list", 503): _STORE_DOWN,
    ("copies_cancel", 503): _STORE_DOWN,
    ("copies_retry", 503): _STORE_DOWN,
    ("drills_list", 503): _STORE_DOWN,
    ("drills_get", 503): _STORE_DOWN,
}


def test_every_registered_route_is_documented_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.http_api.openapi import document

    registered = set()
    for name, bindings in _bindings(_load_app(monkeypatch)).items():
        for binding in bindings:
            if binding["type"] == "httpTrigger":
                for method in binding["methods"]:
                    registered.add((name, method.lower(), f"/api/{binding['route']}"))
    documented = {
        (op["operationId"], method, path)
        for path, methods in document()["paths"].items()
        for method, op in methods.items()
    }
    assert registered - documented == set(), (
        "routes missing from the OpenAPI document: add an Operation to "
        "shared/http_api/openapi.py OPERATIONS for each"
    )
    assert documented - registered == set(), "documented operations that function_app lacks"


class Answers:
    """Checks real answers against the document and remembers which were seen."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.operations = {
            op["operationId"]: op
            for methods in document["paths"].values()
            for op in methods.values()
        }
        self.seen: set[tuple[str, int]] = set()

    def check(self, operation: str, response: func.HttpResponse) -> Any:
        op = self.operations[operation]
        status = response.status_code
        answer = op["responses"].get(str(status))
        assert answer is not None, f"{operation} answered {status}, which is not documented"
        content_type = response.mimetype
        assert content_type in answer["content"], (operation, status, content_type)
        text = response.get_body().decode()
        body = json.loads(text) if content_type.endswith("json") else text
        schema = {**answer["content"][content_type]["schema"]}
        schema["components"] = self.document["components"]  # where the $refs point
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
        assert not errors, f"{operation} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
        for header in answer.get("headers", {}):
            assert header in response.headers, (operation, status, header)
        self.seen.add((operation, status))
        return body

    def documented(self) -> set[tuple[str, int]]:
        return {
            (name, int(status))
            for name, op in self.operations.items()
            for status in op["responses"]
            if status != "401"
        }


@pytest.fixture(scope="module")
def answers() -> Answers:
    from shared.http_api.openapi import document

    return Answers(document())


@pytest.fixture(autouse=True)
def _quiet_queues(fn_app: FunctionApp) -> Iterator[None]:
    """The copies these tests leave queued are never run: their messages must not reach the
    next test that plays the host (it hands every message it finds to the stages)."""
    stage_queues = [k for k in fn_app.settings if k.startswith("QUEUE_")]
    for setting in stage_queues:
        fn_app.receive(setting)
    yield
    for setting in stage_queues:
        fn_app.receive(setting)


@pytest.fixture
def emulator(stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(stack.arm_endpoint) as control:
        yield control
        control.clear_faults()


async def _post(fn_app: FunctionApp, body: object) -> func.HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await fn_app.http("copies_create", "POST", "/api/copies", body=raw)


async def test_the_served_document_is_the_document(fn_app: FunctionApp, answers: Answers) -> None:
    response = await fn_app.http("openapi_document", "GET", "/api/openapi.json")
    assert answers.check("openapi_document", response) == answers.document


async def test_the_page_is_served_with_its_csp(fn_app: FunctionApp, answers: Answers) -> None:
    response = await fn_app.http("dashboard_page", "GET", "/api/dashboard")
    html = answers.check("dashboard_page", response)
    assert "<title>rpcopy status</title>" in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


async def test_event_schema_answers(fn_app: FunctionApp, answers: Answers) -> None:
    for name, status in (("copy.succeeded.json", 200), ("no-such.json", 404)):
        response = await fn_app.http(
            "event_schema", "GET", f"/api/schemas/events/{name}", route_params={"name": name}
        )
        assert response.status_code == status
        answers.check("event_schema", response)


async def test_copies_answers(
    fn_app: FunctionApp, answers: Answers, emulator: EmulatorControl
) -> None:
    assert answers.check("copies_create", await _post(fn_app, b"{nope"))["status"] == 400
    missing = await _post(fn_app, {"sourceRestorePointId": MISSING_RP, "targetRegion": "westus"})
    assert answers.check("copies_create", missing)["status"] == 422

    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    request = {"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION}
    created = await _post(fn_app, request)
    assert created.status_code == 202
    job = answers.check("copies_create", created)
    again = await _post(fn_app, request)
    assert again.status_code == 200
    answers.check("copies_create", again)

    # ARM trouble while reading the source: refused (502), or unavailable (503, Retry-After).
    other = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    other_request = {"sourceRestorePointId": other.restore_point_id, "targetRegion": TARGET_REGION}
    match = {"pathContains": other.restore_point_id.rsplit("/", 3)[1]}
    # A collection the app has not seen yet is read with its restore points (one GET).
    read = "RestorePointCollections_Get"
    emulator.add_fault(operation=read, kind="http", status=403, times=1, match=match)
    refused = await _post(fn_app, other_request)
    assert answers.check("copies_create", refused)["status"] == 502
    emulator.add_fault(
        operation=read, kind="http", status=429, retryAfter=120, times=1, match=match
    )
    throttled = await _post(fn_app, other_request)
    assert answers.check("copies_create", throttled)["status"] == 503
    assert (await _post(fn_app, other_request)).status_code == 202  # the faults are spent

    got = await fn_app.http(
        "copies_get", "GET", f"/api/copies/{job['id']}", route_params={"id": job["id"]}
    )
    assert answers.check("copies_get", got)["id"] == job["id"]
    for bad, status in (("not-an-id", 400), ("0" * 32, 404)):
        response = await fn_app.http(
            "copies_get", "GET", f"/api/copies/{bad}", route_params={"id": bad}
        )
        assert answers.check("copies_get", response)["status"] == status

    page = await fn_app.http("copies_list", "GET", "/api/copies", params={"pageSize": "1"})
    assert "nextLink" in answers.check("copies_list", page)
    bad_query = await fn_app.http("copies_list", "GET", "/api/copies", params={"colour": "x"})
    assert answers.check("copies_list", bad_query)["status"] == 400


async def test_cancel_retry_and_runs_answers(fn_app: FunctionApp, answers: Answers) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    created = await _post(
        fn_app, {"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION}
    )
    job_id = answers.check("copies_create", created)["id"]

    def at(name: str, method: str, suffix: str = "", **kw: Any) -> Any:
        return fn_app.http(
            name, method, f"/api/copies/{job_id}{suffix}", route_params={"id": job_id}, **kw
        )

    # Retry refuses a job that has not ended; a bad query refuses the cancel.
    assert (
        answers.check("copies_retry", await at("copies_retry", "POST", "/retry"))["status"] == 409
    )
    bad = await at("copies_cancel", "DELETE", params={"deleteCopy": "maybe"})
    assert answers.check("copies_cancel", bad)["status"] == 400
    cancelled = answers.check("copies_cancel", await at("copies_cancel", "DELETE"))
    assert cancelled["state"] == "Cancelled"
    assert cancelled["copy"]["status"] in {"none", "left"}
    runs = answers.check("copies_runs", await at("copies_runs", "GET", "/runs"))
    assert [r["state"] for r in runs["value"]] == ["Cancelled"]
    retried = await at("copies_retry", "POST", "/retry")
    assert answers.check("copies_retry", retried)["state"] == "RerunPending"
    # A job that is running again cannot be cancelled twice over: it ends first.
    again = await at("copies_cancel", "DELETE")
    assert again.status_code in {200, 409}
    answers.check("copies_cancel", again)
    runs = answers.check("copies_runs", await at("copies_runs", "GET", "/runs"))
    assert runs["value"][0]["state"] == "Cancelled"
    assert [r["run"] for r in runs["value"]] == [1, 2]

    for name, method, suffix in (
        ("copies_cancel", "DELETE", ""),
        ("copies_retry", "POST", "/retry"),
        ("copies_runs", "GET", "/runs"),
    ):
        for bad_id, status in (("not-an-id", 400), ("0" * 32, 404)):
            response = await fn_app.http(
                name, method, f"/api/copies/{bad_id}{suffix}", route_params={"id": bad_id}
            )
            assert answers.check(name, response)["status"] == status
    # An ended job (Succeeded) cannot be cancelled: 409.
    done = seed_source(fn_app.stack.arm_endpoint, data_disks=0)
    finished = await _post(
        fn_app, {"sourceRestorePointId": done.restore_point_id, "targetRegion": TARGET_REGION}
    )
    finished_id = answers.check("copies_create", finished)["id"]
    record, _ = await pump(fn_app, finished_id)
    assert record.state.value == "Succeeded"
    ended = await fn_app.http(
        "copies_cancel", "DELETE", f"/api/copies/{finished_id}", route_params={"id": finished_id}
    )
    assert answers.check("copies_cancel", ended)["status"] == 409


async def test_status_answers_with_real_pairs(
    fn_app: FunctionApp, answers: Answers, emulator: EmulatorControl
) -> None:
    """A tag-protected collection with a finished copy, a failed one and one in flight: the
    protection, plan, preflight and dashboard answers all match the document."""
    tags = {"rpcopy-targets": TARGET_REGION, "rpcopy-rpo-minutes": "240"}
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1, restore_points=3, tags=tags)
    first, second, third = source.restore_point_ids
    done = answers.check(
        "copies_create",
        await _post(fn_app, {"sourceRestorePointId": first, "targetRegion": TARGET_REGION}),
    )
    assert (await pump(fn_app, done["id"]))[0].state.value == "Succeeded"
    emulator.add_fault(
        operation="RestorePoints_Create", kind="replication_failure", os=True, times=1
    )
    failed = answers.check(
        "copies_create",
        await _post(fn_app, {"sourceRestorePointId": second, "targetRegion": TARGET_REGION}),
    )
    assert (await pump(fn_app, failed["id"]))[0].state.value == "Failed"
    queued = answers.check(
        "copies_create",
        await _post(fn_app, {"sourceRestorePointId": third, "targetRegion": TARGET_REGION}),
    )

    status = answers.check(
        "protection_status", await fn_app.http("protection_status", "GET", "/api/protection")
    )
    (pair,) = [p for p in status["pairs"] if p["sourceCollectionId"] == source.collection_id]
    assert pair["newestUsable"]["jobId"] == done["id"]
    assert pair["lastFailure"]["jobId"] == failed["id"]
    assert [c["jobId"] for c in pair["inFlight"]] == [queued["id"]]

    plan = answers.check("sweep_plan", await fn_app.http("sweep_plan", "GET", "/api/plan"))
    assert any(p["sourceCollectionId"] == source.collection_id for p in plan["pairs"])
    preflight = answers.check("preflight", await fn_app.http("preflight", "GET", "/api/preflight"))
    assert preflight["checks"]

    data = answers.check(
        "dashboard_data",
        await fn_app.http("dashboard_data", "GET", "/api/dashboard/data", params={"hours": "2"}),
    )
    assert data["windowHours"] == 2
    assert queued["id"] in {j["id"] for j in data["inFlight"]}
    assert done["id"] in {j["id"] for j in data["recentlyFinished"]}
    (failure,) = [j for j in data["recentFailures"] if j["id"] == failed["id"]]
    assert failure["error"]["code"]
    (series,) = [h for h in data["history"] if h["sourceCollectionId"] == source.collection_id]
    assert series["rpoMinutes"] == 240
    assert series["points"], "the finished copy starts the age line"
    # A copy in flight stays listed whatever the window (it may have waited longer than that).
    narrow = answers.check(
        "dashboard_data",
        await fn_app.http(
            "dashboard_data", "GET", "/api/dashboard/data", params={"hours": "0.000001"}
        ),
    )
    assert queued["id"] in {j["id"] for j in narrow["inFlight"]}
    bad = await fn_app.http("dashboard_data", "GET", "/api/dashboard/data", params={"hours": "-1"})
    assert answers.check("dashboard_data", bad)["errors"][0]["field"] == "hours"


@pytest.mark.parametrize(
    ("operation", "route"),
    [
        ("protection_status", "/api/protection"),
        ("sweep_plan", "/api/plan"),
        ("dashboard_data", "/api/dashboard/data"),
    ],
)
async def test_arm_trouble_while_listing(
    fn_app: FunctionApp, answers: Answers, emulator: EmulatorControl, operation: str, route: str
) -> None:
    """Listing the subscription's collections fails: refused is 502, throttled for longer than
    the app waits inline is 503 with Retry-After."""
    listing = "RestorePointCollections_ListAll"
    emulator.add_fault(operation=listing, kind="http", status=403, times=1)
    refused = answers.check(operation, await fn_app.http(operation, "GET", route))
    assert refused["status"] == 502
    emulator.add_fault(operation=listing, kind="http", status=429, retryAfter=120, times=1)
    throttled = await fn_app.http(operation, "GET", route)
    assert answers.check(operation, throttled)["status"] == 503


async def test_drill_answers(
    fn_app: FunctionApp, answers: Answers, emulator: EmulatorControl
) -> None:
    """Restore drills: started (202), already running (200), read, listed, and refused."""
    tags = {"rpcopy-targets": TARGET_REGION}
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=0, tags=tags)
    copy = answers.check(
        "copies_create",
        await _post(
            fn_app, {"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION}
        ),
    )
    assert (await pump(fn_app, copy["id"]))[0].state.value == "Succeeded"

    async def post(body: object) -> func.HttpResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await fn_app.http("drills_create", "POST", "/api/drills", body=raw)

    request = {"sourceCollectionId": source.collection_id, "targetRegion": TARGET_REGION}
    started = await post(request)
    assert started.status_code == 202
    drill = answers.check("drills_create", started)
    assert drill["state"] == "Running"
    running = await post(request)
    assert running.status_code == 200
    assert answers.check("drills_create", running)["id"] == drill["id"]
    assert answers.check("drills_create", await post(b"{nope"))["status"] == 400
    other = {"sourceCollectionId": source.collection_id, "targetRegion": "northeurope"}
    assert answers.check("drills_create", await post(other))["status"] == 422
    match = {"pathContains": source.collection_id.rsplit("/", 1)[1]}
    emulator.add_fault(
        operation="RestorePointCollections_Get", kind="http", status=403, times=1, match=match
    )
    assert answers.check("drills_create", await post(request))["status"] == 502
    emulator.add_fault(
        operation="RestorePointCollections_Get",
        kind="http",
        status=429,
        retryAfter=120,
        times=1,
        match=match,
    )
    assert answers.check("drills_create", await post(request))["status"] == 503

    got = await fn_app.http(
        "drills_get", "GET", f"/api/drills/{drill['id']}", route_params={"id": drill["id"]}
    )
    assert answers.check("drills_get", got)["id"] == drill["id"]
    for bad, status in (("nope", 400), ("0" * 32, 404)):
        response = await fn_app.http(
            "drills_get", "GET", f"/api/drills/{bad}", route_params={"id": bad}
        )
        assert answers.check("drills_get", response)["status"] == status
    listed = await fn_app.http("drills_list", "GET", "/api/drills", params={"limit": "200"})
    assert drill["id"] in {d["id"] for d in answers.check("drills_list", listed)["drills"]}
    bad_query = await fn_app.http("drills_list", "GET", "/api/drills", params={"limit": "0"})
    assert answers.check("drills_list", bad_query)["status"] == 400


def test_every_documented_answer_was_checked(answers: Answers) -> None:
    """Runs last in this file: each documented (operation, status) was produced above."""
    missing = answers.documented() - answers.seen - set(NOT_PRODUCED)
    assert missing == set(), f"documented answers never checked against a real one: {missing}"
