"""The HTTP API, independent of the Functions binding types.

Each handler takes plain values (body bytes, route and query parameters) and returns an
`ApiResponse`; function_app.py turns it into a `func.HttpResponse`. Every error the app raises
on purpose becomes its response in `problems.problem_for`, and only there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from opentelemetry.trace import SpanKind

from shared import telemetry
from shared.errors import (
    ArmError,
    InvalidCursor,
    InvalidRequest,
    JobConflict,
    SourceProblem,
    StoreError,
)
from shared.http_api import dashboard, models, openapi
from shared.http_api.problems import ApiResponse, problem, problem_for
from shared.http_api.requests import parse_cancel_query, parse_copy_request, parse_list_query
from shared.http_api.views import job_view, runs_view
from shared.jobs.create_intake import CreateRequest, request_create_in_target
from shared.jobs.intake import request_copy
from shared.jobs.operator_actions import cancel_job, retry_job
from shared.ops.preflight import preflight, report
from shared.services import Services
from shared.sweep.reconcile import sweep
from shared.sweep.status import protection

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")

Handler = Callable[..., Awaitable[ApiResponse]]


def traced(method: str, route: str) -> Callable[[Handler], Handler]:
    """A server span per request, with the answer's status (and the job, where there is one)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def traced_handler(*args: Any, **kwargs: Any) -> ApiResponse:
            with telemetry.tracer.start_as_current_span(
                f"{method} {route}",
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "http.route": route},
            ) as span:
                response = await handler(*args, **kwargs)
                span.set_attribute("http.response.status_code", response.status)
                if isinstance(response.body, dict) and isinstance(response.body.get("id"), str):
                    span.set_attribute("rpcopy.job_id", response.body["id"])
                return response

        return traced_handler

    return wrap


def copy_location(job_id: str) -> str:
    return f"/api/copies/{job_id}"


@traced("POST", "/api/copies")
async def post_copy(services: Services, body: bytes) -> ApiResponse:
    try:
        limits = services.settings.input_limits
        request = parse_copy_request(
            body, max_bytes=limits.max_request_bytes, max_depth=limits.max_json_depth
        )
        if isinstance(request, CreateRequest):
            record, started = await request_create_in_target(services, request)
        else:
            record, started = await request_copy(services, request)
    except (InvalidRequest, SourceProblem, ArmError, StoreError) as exc:
        return problem_for(exc)
    headers = {"Location": copy_location(record.job_id)}
    return ApiResponse(202 if started else 200, job_view(record), headers)


def _bad_job_id(job_id: str) -> ApiResponse | None:
    if _JOB_ID.match(job_id or ""):
        return None
    return problem(
        400,
        "Invalid job id",
        f"{job_id!r} is not a job id (32 lower-case hex "
        "characters, as returned in the Location header)",
    )


def _not_found(job_id: str) -> ApiResponse:
    return problem(404, "Copy job not found", f"no copy job has id {job_id}")


@traced("GET", "/api/copies/{id}")
async def get_copy(services: Services, job_id: str) -> ApiResponse:
    if bad := _bad_job_id(job_id):
        return bad
    record = await services.ledger.get(job_id)
    if record is None:
        return _not_found(job_id)
    return ApiResponse(200, job_view(record))


# -- cancel, retry and the runs of a job (the `rpcopy` command line's issue) ---------------------


@traced("DELETE", "/api/copies/{id}")
async def cancel_copy(services: Services, job_id: str, params: Mapping[str, str]) -> ApiResponse:
    """Cancel a job that has not ended: 200 + the job and what became of its copy."""
    if bad := _bad_job_id(job_id):
        return bad
    try:
        delete_copy = parse_cancel_query(params)
        outcome = await cancel_job(services, job_id, delete_copy=delete_copy)
    except (InvalidRequest, JobConflict, StoreError) as exc:
        return problem_for(exc)
    if outcome is None:
        return _not_found(job_id)
    copy: dict[str, Any] = {"status": outcome.copy.value}
    if outcome.copy_id:
        copy["id"] = outcome.copy_id
    if outcome.copy_error:
        copy["error"] = outcome.copy_error
    return ApiResponse(
        200, models.shape(models.CancelView, {**job_view(outcome.record), "copy": copy})
    )


@traced("POST", "/api/copies/{id}/retry")
async def retry_copy(services: Services, job_id: str) -> ApiResponse:
    """Run a Failed or Cancelled job again: 202 + the job (RerunPending) and its status URL."""
    if bad := _bad_job_id(job_id):
        return bad
    try:
        record = await retry_job(services, job_id)
    except (JobConflict, StoreError) as exc:
        return problem_for(exc)
    if record is None:
        return _not_found(job_id)
    return ApiResponse(202, job_view(record), {"Location": copy_location(job_id)})


@traced("GET", "/api/copies/{id}/runs")
async def copy_runs(services: Services, job_id: str) -> ApiResponse:
    if bad := _bad_job_id(job_id):
        return bad
    record = await services.ledger.get(job_id)
    if record is None:
        return _not_found(job_id)
    return ApiResponse(200, runs_view(record))


@traced("GET", "/api/copies")
async def list_copies(services: Services, params: Mapping[str, str]) -> ApiResponse:
    try:
        filters, page_size, cursor = parse_list_query(params)
        records, next_cursor = await services.ledger.list(
            filters, page_size=page_size, cursor=cursor
        )
    except (InvalidRequest, InvalidCursor, StoreError) as exc:
        return problem_for(exc)
    body: dict[str, Any] = {"value": [job_view(r) for r in records]}
    if next_cursor:
        query = {k: v for k, v in params.items() if k not in ("cursor", "code")}
        query["cursor"] = next_cursor
        body["nextLink"] = f"/api/copies?{urlencode(query)}"
    return ApiResponse(200, models.shape(models.JobList, body))


@traced("GET", "/api/protection")
async def protection_status(services: Services) -> ApiResponse:
    try:
        return ApiResponse(200, models.shape(models.ProtectionResponse, await protection(services)))
    except (ArmError, StoreError) as exc:
        return problem_for(exc)


@traced("GET", "/api/plan")
async def sweep_plan(services: Services) -> ApiResponse:
    """What the sweep would copy and delete, and why, without doing it."""
    try:
        report = await sweep(services, dry_run=True)
    except (ArmError, StoreError) as exc:
        return problem_for(exc)
    return ApiResponse(200, models.shape(models.PlanResponse, report.to_api()))


@traced("GET", "/api/preflight")
async def preflight_report(services: Services) -> ApiResponse:
    """Can this deployment do its job? Each check passed or failed, with what to do."""
    return ApiResponse(
        200, models.shape(models.PreflightResponse, report(await preflight(services)))
    )


# -- the status page and the OpenAPI document ------------------------------------------------


@traced("GET", "/api/dashboard")
async def dashboard_page() -> ApiResponse:
    """The page's HTML shell: no data and no key in it (see shared/http_api/dashboard.py)."""
    html, headers = dashboard.page()
    return ApiResponse(200, html, dict(headers), "text/html")


@traced("GET", "/api/dashboard/data")
async def dashboard_data(services: Services, params: Mapping[str, str]) -> ApiResponse:
    hours = dashboard.window_hours(params.get("hours"))
    if hours is None:
        message = f"must be a number above 0 and at most {dashboard.MAX_WINDOW_HOURS:g}"
        return problem(
            400,
            "Invalid query",
            f"hours: {message}",
            errors=[{"field": "hours", "message": message}],
        )
    try:
        return ApiResponse(200, await dashboard.dashboard_data(services, hours))
    except (ArmError, StoreError) as exc:
        return problem_for(exc)


@traced("GET", "/api/openapi.json")
async def openapi_document(services: Services) -> ApiResponse:
    keys_required = services.settings.http_auth_level != "anonymous"
    return ApiResponse(200, openapi.document(keys_required))
