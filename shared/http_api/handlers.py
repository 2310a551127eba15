"""The HTTP API, independent of the Functions binding types.

Each handler takes plain values (body bytes, route and query parameters) and returns an
`ApiResponse`; function_app.py turns it into a `func.HttpResponse`. Client mistakes are 4xx
`application/problem+json` (RFC 9457) bodies that say what was wrong and how to fix it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from shared.arm.client import ArmError
from shared.jobs.intake import CopyRequest, IntakeError, request_copy
from shared.model.ids import CollectionId, InvalidResourceId, RestorePointId, normalize_region
from shared.model.message import Trigger
from shared.services import Services
from shared.storage.ledger import JobFilter, JobState

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_POST_FIELDS = {
    "sourceRestorePointId",
    "targetRegion",
    "targetResourceGroup",
    "targetCollectionName",
}
# `code` is the function key; it may arrive as a query parameter and is not a filter.
_LIST_PARAMS = {"state", "sourceCollectionId", "targetRegion", "pageSize", "cursor", "code"}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    def text(self) -> str:
        return json.dumps(self.body, indent=None, separators=(",", ":"))


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return ApiResponse(status, body, headers or {}, PROBLEM_JSON)


def _from_intake(exc: IntakeError) -> ApiResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return problem(exc.status, exc.title, exc.detail, errors=exc.errors, headers=headers)


def copy_location(job_id: str) -> str:
    return f"/api/copies/{job_id}"


def parse_copy_request(body: bytes) -> CopyRequest:
    """Validate the POST body; IntakeError(400) names each problem."""
    try:
        document = json.loads(body.decode("utf-8")) if body else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntakeError(
            400, "Malformed JSON", f"the request body is not valid JSON: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise IntakeError(
            400,
            "Invalid copy request",
            'the body must be a JSON object such as {"sourceRestorePointId": "...", '
            '"targetRegion": "westus"}',
        )
    errors: list[dict[str, str]] = []
    unknown = sorted(set(document) - _POST_FIELDS)
    for name in unknown:
        errors.append(
            {
                "field": name,
                "message": f"unknown field {name!r}; allowed: {', '.join(sorted(_POST_FIELDS))}",
            }
        )
    source: RestorePointId | None = None
    if "sourceRestorePointId" not in document:
        errors.append({"field": "sourceRestorePointId", "message": "is required"})
    else:
        try:
            source = RestorePointId.parse(document["sourceRestorePointId"], "sourceRestorePointId")
        except InvalidResourceId as exc:
            errors.append({"field": "sourceRestorePointId", "message": str(exc)})
    if "targetRegion" not in document:
        errors.append({"field": "targetRegion", "message": "is required"})
    elif not isinstance(document["targetRegion"], str):
        errors.append({"field": "targetRegion", "message": "must be a string such as 'westus'"})
    for optional in ("targetResourceGroup", "targetCollectionName"):
        if optional in document and not isinstance(document[optional], str):
            errors.append({"field": optional, "message": "must be a string"})
    if errors or source is None:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise IntakeError(400, "Invalid copy request", detail, errors=errors)
    return CopyRequest(
        source=source,
        target_region=document["targetRegion"],
        target_resource_group=document.get("targetResourceGroup") or None,
        target_collection_name=document.get("targetCollectionName") or None,
        trigger=Trigger.HTTP,
    )


async def post_copy(services: Services, body: bytes) -> ApiResponse:
    try:
        request = parse_copy_request(body)
        record, started = await request_copy(services, request)
    except IntakeError as exc:
        return _from_intake(exc)
    headers = {"Location": copy_location(record.job_id)}
    return ApiResponse(202 if started else 200, record.to_api(), headers)


async def get_copy(services: Services, job_id: str) -> ApiResponse:
    if not _JOB_ID.match(job_id or ""):
        return problem(
            400,
            "Invalid job id",
            f"{job_id!r} is not a job id (32 lower-case hex "
            "characters, as returned in the Location header)",
        )
    record = await services.ledger.get(job_id)
    if record is None:
        return problem(404, "Copy job not found", f"no copy job has id {job_id}")
    return ApiResponse(200, record.to_api())


def parse_list_query(params: Mapping[str, str]) -> tuple[JobFilter, int, str | None]:
    errors: list[dict[str, str]] = []
    for name in sorted(set(params) - _LIST_PARAMS):
        errors.append(
            {
                "field": name,
                "message": "unknown query parameter; allowed: state, "
                "sourceCollectionId, targetRegion, pageSize, cursor",
            }
        )
    state = None
    if params.get("state"):
        try:
            state = JobState(params["state"])
        except ValueError:
            errors.append(
                {
                    "field": "state",
                    "message": f"must be one of {', '.join(s.value for s in JobState)}",
                }
            )
    source = None
    if params.get("sourceCollectionId"):
        try:
            source = str(CollectionId.parse(params["sourceCollectionId"], "sourceCollectionId"))
        except InvalidResourceId as exc:
            errors.append({"field": "sourceCollectionId", "message": str(exc)})
    region = None
    if params.get("targetRegion"):
        try:
            region = normalize_region(params["targetRegion"], "targetRegion")
        except InvalidResourceId as exc:
            errors.append({"field": "targetRegion", "message": str(exc)})
    page_size = 50
    if params.get("pageSize"):
        raw = params["pageSize"]
        # isdigit() alone accepts "²", which int() refuses.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
            errors.append({"field": "pageSize", "message": "must be a whole number from 1 to 1000"})
        else:
            page_size = int(raw)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise IntakeError(400, "Invalid query", detail, errors=errors)
    return JobFilter(state, source, region), page_size, params.get("cursor") or None


async def list_copies(services: Services, params: Mapping[str, str]) -> ApiResponse:
    try:
        filters, page_size, cursor = parse_list_query(params)
        records, next_cursor = await services.ledger.list(
            filters, page_size=page_size, cursor=cursor
        )
    except IntakeError as exc:
        return _from_intake(exc)
    except ValueError as exc:  # a cursor that is not ours
        return problem(400, "Invalid cursor", f"{exc}; use the nextLink of a previous page")
    body: dict[str, Any] = {"value": [r.to_api() for r in records]}
    if next_cursor:
        query = {k: v for k, v in params.items() if k not in ("cursor", "code")}
        query["cursor"] = next_cursor
        body["nextLink"] = f"/api/copies?{urlencode(query)}"
    return ApiResponse(200, body)


async def protection_status(services: Services) -> ApiResponse:
    from shared.sweep.reconcile import protection

    try:
        return ApiResponse(200, await protection(services))
    except ArmError as exc:
        return _arm_problem(exc)


async def sweep_plan(services: Services) -> ApiResponse:
    """What the sweep would copy and delete, and why, without doing it."""
    from shared.sweep.reconcile import sweep

    try:
        report = await sweep(services, dry_run=True)
    except ArmError as exc:
        return _arm_problem(exc)
    return ApiResponse(200, report.to_api())


def _arm_problem(exc: ArmError) -> ApiResponse:
    if exc.transient:
        return problem(
            503,
            "Azure Resource Manager is unavailable",
            f"{exc}; try again shortly",
            headers={"Retry-After": str(int(exc.retry_after or 30))},
        )
    return problem(502, "Azure Resource Manager refused a request", str(exc))
