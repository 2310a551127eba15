"""The OpenAPI 3.1 document of the HTTP API (`GET /api/openapi.json`), built from the models
the handlers answer with (`models.py`).

Every HTTP route of function_app.py has one `Operation` in `OPERATIONS` (a test fails when a
route is missing here, or documented but not registered). To document a new route, add an
`Operation` naming its function, its responses and their models; `problems(...)` adds the
problem+json answers it can give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema

from shared.http_api import drill_models, models
from shared.http_api.problems import JSON, PROBLEM_JSON
from shared.http_api.schemas import SCHEMA_JSON
from shared.model.job import JobState

HTML = "text/html"
API_VERSION = "1.0.0"
KEY_SCHEME = "functionKey"


@dataclass(frozen=True)
class Answer:
    description: str
    model: type[models.ApiModel] | None = None
    content_type: str = JSON
    # Response headers worth documenting: name -> description.
    headers: Mapping[str, str] = field(default_factory=dict)
    # For a body without a model (the page, this document): its JSON Schema.
    raw_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" or "query"
    description: str
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    function: str  # the function's name in function_app.py
    method: str
    path: str  # as the client calls it, with the route prefix
    summary: str
    answers: Mapping[int, Answer]
    params: tuple[Param, ...] = ()
    body: type[models.ApiModel] | None = None
    # False for the page shell: it holds no data (see dashboard.py for why it needs no key).
    keyed: bool = True


_PROBLEM_TEXT = {
    400: "the request was malformed; `detail` (and `errors`) say what to fix",
    404: "no such resource",
    422: "the request was understood but cannot be carried out (e.g. the source is missing)",
    409: "the job is in a state that does not allow this (e.g. cancelling a finished job)",
    502: "Azure Resource Manager refused a request the app made",
    503: "Azure Resource Manager or storage is unavailable; try again after Retry-After",
}


def problems(*statuses: int) -> dict[int, Answer]:
    return {
        s: Answer(
            _PROBLEM_TEXT[s],
            models.Problem,
            PROBLEM_JSON,
            {"Retry-After": "seconds to wait before trying again"} if s == 503 else {},
        )
        for s in statuses
    }


_STRING: Mapping[str, Any] = {"type": "string"}

_JOB_ID = Param(
    "id",
    "path",
    "the job id (the Location header of POST /api/copies)",
    {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    required=True,
)
_LIST_PARAMS = (
    Param("state", "query", "only jobs in this state", TypeAdapter(JobState).json_schema()),
    Param("sourceCollectionId", "query", "only copies of this source collection (ARM id)", _STRING),
    Param("targetRegion", "query", "only copies to this region", _STRING),
    Param(
        "pageSize",
        "query",
        "jobs per page (default 50)",
        {"type": "integer", "minimum": 1, "maximum": 1000},
    ),
    Param("cursor", "query", "from a previous page's nextLink", _STRING),
)
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "copies_create",
        "post",
        "/api/copies",
        "Request a copy of a restore point to another region",
        {
            202: Answer(
                "the copy job was created (or a failed one started again)",
                models.JobView,
                headers={"Location": "the job's URL"},
            ),
            200: Answer(
                "the same copy is already queued, running, done or superseded",
                models.JobView,
                headers={"Location": "the job's URL"},
            ),
            **problems(400, 422, 502, 503),
        },
        body=models.CopyRequestBody,
    ),
    Operation(
        "copies_list",
        "get",
        "/api/copies",
        "List copy jobs, filtered and paged",
        {200: Answer("one page of jobs", models.JobList), **problems(400, 503)},
        params=_LIST_PARAMS,
    ),
    Operation(
        "copies_get",
        "get",
        "/api/copies/{id}",
        "One copy job",
        {200: Answer("the job", models.JobView), **problems(400, 404)},
        params=(_JOB_ID,),
    ),
    Operation(
        "copies_cancel",
        "delete",
        "/api/copies/{id}",
        "Cancel a job that has not ended (a started copy is left to Azure unless deleteCopy)",
        {
            200: Answer("the job, Cancelled, and what became of its copy", models.CancelView),
            **problems(400, 404, 409, 503),
        },
        params=(
            _JOB_ID,
            Param(
                "deleteCopy",
                "query",
                "also delete the run's copy in the target (default false: left to Azure)",
                {"type": "string", "enum": ["true", "false", "1", "0"]},
            ),
        ),
    ),
    Operation(
        "copies_retry",
        "post",
        "/api/copies/{id}/retry",
        "Run a Failed or Cancelled job again (its copy is deleted first)",
        {
            202: Answer(
                "the job, RerunPending", models.JobView, headers={"Location": "the job's URL"}
            ),
            **problems(400, 404, 409, 503),
        },
        params=(_JOB_ID,),
    ),
    Operation(
        "copies_runs",
        "get",
        "/api/copies/{id}/runs",
        "Every run of a job, oldest first",
        {200: Answer("the runs", models.RunsView), **problems(400, 404)},
        params=(_JOB_ID,),
    ),
    Operation(
        "protection_status",
        "get",
        "/api/protection",
        "Every protected pair: newest usable copy, RPO state and age, copies in flight",
        {200: Answer("the pairs", models.ProtectionResponse), **problems(502, 503)},
    ),
    Operation(
        "sweep_plan",
        "get",
        "/api/plan",
        "The sweep as a dry run: what it would copy and delete, and why",
        {200: Answer("the plan", models.PlanResponse), **problems(502, 503)},
    ),
    Operation(
        "preflight",
        "get",
        "/api/preflight",
        "Can this deployment do its job? Each check passed or failed, with what to do",
        {200: Answer("the checks", models.PreflightResponse)},
    ),
    # -- restore drills (docs/policies.md, "Restore drills") --
    Operation(
        "drills_create",
        "post",
        "/api/drills",
        "Start a restore drill of a pair's newest usable copy",
        {
            202: Answer(
                "the drill was started",
                drill_models.DrillRecordView,
                headers={"Location": "its URL"},
            ),
            200: Answer(
                "a drill of the pair already runs: that drill",
                drill_models.DrillRecordView,
                headers={"Location": "its URL"},
            ),
            **problems(400, 422, 502, 503),
        },
        body=drill_models.DrillRequestBody,
    ),
    Operation(
        "drills_list",
        "get",
        "/api/drills",
        "Restore drills, newest first",
        {200: Answer("the drills", drill_models.DrillList), **problems(400, 503)},
        params=(
            Param(
                "state",
                "query",
                "only drills in this state",
                {"enum": ["Running", "Succeeded", "Failed"]},
            ),
            Param("sourceCollectionId", "query", "only drills of this source collection", _STRING),
            Param("targetRegion", "query", "only drills in this region", _STRING),
            Param(
                "limit",
                "query",
                "at most this many (default 50)",
                {"type": "integer", "minimum": 1, "maximum": 200},
            ),
        ),
    ),
    Operation(
        "drills_get",
        "get",
        "/api/drills/{id}",
        "One restore drill",
        {200: Answer("the drill", drill_models.DrillRecordView), **problems(400, 404, 503)},
        params=(
            Param(
                "id",
                "path",
                "the drill id (the Location header of POST /api/drills)",
                {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                required=True,
            ),
        ),
    ),
    Operation(
        "event_schema",
        "get",
        "/api/schemas/events/{name}",
        "The JSON Schema of an event's data (what each CloudEvent's `dataschema` names)",
        {
            200: Answer(
                "the schema (JSON Schema 2020-12)",
                content_type=SCHEMA_JSON,
                raw_schema={"type": "object"},
                headers={"Cache-Control": "how long the schema may be cached"},
            ),
            **problems(404),
        },
        params=(
            Param(
                "name",
                "path",
                "the schema's file name, e.g. copy.succeeded.json or job-run.defs.json",
                _STRING,
                required=True,
            ),
        ),
    ),
    Operation(
        "dashboard_page",
        "get",
        "/api/dashboard",
        "The status page (HTML, no data in it; it asks for the function key)",
        {
            200: Answer(
                "the page",
                content_type=HTML,
                raw_schema={"type": "string"},
                headers={"Content-Security-Policy": "the page may load nothing from elsewhere"},
            )
        },
        keyed=False,
    ),
    Operation(
        "dashboard_data",
        "get",
        "/api/dashboard/data",
        "Everything the status page shows",
        {200: Answer("the page's data", models.DashboardData), **problems(400, 502, 503)},
        params=(
            Param(
                "hours",
                "query",
                "how far back recent copies, failures and ages go (default 24, at most 336)",
                {"type": "number", "exclusiveMinimum": 0, "maximum": 336},
            ),
        ),
    ),
    Operation(
        "openapi_document",
        "get",
        "/api/openapi.json",
        "This document",
        {
            200: Answer(
                "the OpenAPI 3.1 document",
                raw_schema={"type": "object", "required": ["openapi", "paths"]},
            )
        },
    ),
)


def _models() -> list[type[models.ApiModel]]:
    seen: dict[str, type[models.ApiModel]] = {}
    for op in OPERATIONS:
        for model in [op.body, *(a.model for a in op.answers.values())]:
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _content(schema: Mapping[str, Any], content_type: str) -> dict[str, Any]:
    return {content_type: {"schema": dict(schema)}}


def _ref(model: type[models.ApiModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(op: Operation, keys_required: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in sorted(op.answers.items()):
        body: dict[str, Any] = {"description": answer.description}
        schema = _ref(answer.model) if answer.model else answer.raw_schema
        if schema is not None:
            body["content"] = _content(schema, answer.content_type)
        if answer.headers:
            body["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in answer.headers.items()
            }
        responses[str(status)] = body
    keyed = op.keyed and keys_required
    if keyed:
        responses["401"] = {
            "description": "no valid function key (answered by the Functions host, no body)"
        }
    out: dict[str, Any] = {
        "operationId": op.function,
        "summary": op.summary,
        "responses": responses,
        "security": [{KEY_SCHEME: []}] if keyed else [],
    }
    if op.params:
        out["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "description": p.description,
                "required": p.required or p.where == "path",
                "schema": dict(p.schema),
            }
            for p in op.params
        ]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": _content(_ref(op.body), JSON)}
    return out


@cache
def document(keys_required: bool = True) -> dict[str, Any]:
    """The whole document; `keys_required` is False when HTTP_AUTH_LEVEL=anonymous."""
    _, top = models_json_schema(
        [(m, "validation") for m in _models()], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, keys_required)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rpcopy",
            "version": API_VERSION,
            "summary": "Cross-region copies of Azure VM restore points, for disaster recovery",
            "description": "Errors are application/problem+json (RFC 9457). The function key "
            "goes in the x-functions-key header (the host also reads ?code=, which reaches "
            "logs: prefer the header).",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                KEY_SCHEME: {"type": "apiKey", "in": "header", "name": "x-functions-key"}
            },
        },
    }
