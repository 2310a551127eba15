"""`POST /api/drills`, `GET /api/drills`, `GET /api/drills/{id}`: restore drills over HTTP.

POST body: `{"sourceCollectionId": "<restore point collection id>", "targetRegion": "westus"}`
(the pair). Answers 202 + Location for a new drill, 200 + Location with the drill that already
runs for the pair. The list is newest first, `?state=Running|Succeeded|Failed`,
`?sourceCollectionId=...&targetRegion=...` (both: one pair), `?limit=1..200` (default 50).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.errors import ArmError, InvalidRequest, InvalidResourceId, SourceProblem, StoreError
from shared.http_api import drill_models, models
from shared.http_api.handlers import traced
from shared.http_api.problems import ApiResponse, problem, problem_for
from shared.http_api.requests import read_json_object
from shared.jobs.drill_intake import request_drill, resolve_pair
from shared.model.drills import DRILL_ID, DrillState, drill_view
from shared.model.ids import CollectionId
from shared.model.regions import normalize_region
from shared.services import Services

POST_FIELDS = {"sourceCollectionId", "targetRegion"}
LIST_PARAMS = {"state", "sourceCollectionId", "targetRegion", "limit", "code"}
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")


def parse_drill_request(body: bytes, *, max_bytes: int, max_depth: int) -> tuple[CollectionId, str]:
    document = read_json_object(
        body,
        max_bytes=max_bytes,
        max_depth=max_depth,
        what="drill request",
        example='{"sourceCollectionId": "...", "targetRegion": "westus"}',
    )
    errors: list[dict[str, str]] = [
        {
            "field": name,
            "message": f"unknown field {name!r}; allowed: {', '.join(sorted(POST_FIELDS))}",
        }
        for name in sorted(set(document) - POST_FIELDS)
    ]
    source: CollectionId | None = None
    region: str | None = None
    if "sourceCollectionId" not in document:
        errors.append({"field": "sourceCollectionId", "message": "is required"})
    else:
        try:
            source = CollectionId.parse(document["sourceCollectionId"], "sourceCollectionId")
        except InvalidResourceId as exc:
            errors.append({"field": "sourceCollectionId", "message": str(exc)})
    if "targetRegion" not in document:
        errors.append({"field": "targetRegion", "message": "is required"})
    else:
        try:
            region = normalize_region(document["targetRegion"], "targetRegion")
        except InvalidResourceId as exc:
            errors.append({"field": "targetRegion", "message": str(exc)})
    if errors or source is None or region is None:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidRequest("Invalid drill request", detail, errors=errors)
    return source, region


def parse_drill_query(
    params: Mapping[str, str],
) -> tuple[DrillState | None, str | None, str | None, int]:
    errors: list[dict[str, str]] = [
        {
            "field": name,
            "message": f"unknown parameter; allowed: {', '.join(sorted(LIST_PARAMS - {'code'}))}",
        }
        for name in sorted(set(params) - LIST_PARAMS)
    ]
    state: DrillState | None = None
    if "state" in params:
        try:
            state = DrillState(params["state"])
        except ValueError:
            errors.append({"field": "state", "message": "must be Running, Succeeded or Failed"})
    source = params.get("sourceCollectionId")
    if source is not None:
        try:
            source = str(CollectionId.parse(source, "sourceCollectionId"))
        except InvalidResourceId as exc:
            errors.append({"field": "sourceCollectionId", "message": str(exc)})
    region = params.get("targetRegion")
    if region is not None:
        try:
            region = normalize_region(region, "targetRegion")
        except InvalidResourceId as exc:
            errors.append({"field": "targetRegion", "message": str(exc)})
    limit = 50
    if "limit" in params:
        if not _LIMIT.fullmatch(params["limit"]) or int(params["limit"]) > 200:
            errors.append({"field": "limit", "message": "must be a whole number from 1 to 200"})
        else:
            limit = int(params["limit"])
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidRequest("Invalid drill query", detail, errors=errors)
    return state, source, region, limit


@traced("POST", "/api/drills")
async def post_drill(services: Services, body: bytes) -> ApiResponse:
    try:
        limits = services.settings.input_limits
        source, region = parse_drill_request(
            body, max_bytes=limits.max_request_bytes, max_depth=limits.max_json_depth
        )
        info, target = await resolve_pair(services, source, region)
        record, started = await request_drill(services, info, target, trigger="http")
    except (InvalidRequest, InvalidResourceId, SourceProblem, ArmError, StoreError) as exc:
        return problem_for(exc)
    headers = {"Location": f"/api/drills/{record.id}"}
    body = models.shape(drill_models.DrillRecordView, drill_view(record))
    return ApiResponse(202 if started else 200, body, headers)


@traced("GET", "/api/drills/{id}")
async def get_drill(services: Services, drill_id: str) -> ApiResponse:
    if not DRILL_ID.fullmatch(drill_id or ""):
        return problem(
            400,
            "Invalid drill id",
            f"{drill_id!r} is not a drill id (32 lower-case hex characters)",
        )
    try:
        record = await services.drills.get(drill_id)
    except StoreError as exc:
        return problem_for(exc)
    if record is None:
        return problem(404, "Drill not found", f"no restore drill has id {drill_id}")
    return ApiResponse(200, models.shape(drill_models.DrillRecordView, drill_view(record)))


@traced("GET", "/api/drills")
async def list_drills(services: Services, params: Mapping[str, str]) -> ApiResponse:
    try:
        state, source, region, limit = parse_drill_query(params)
        both = source is not None and region is not None
        records = await services.drills.list(
            limit=limit if both or (source is None and region is None) else 1000,
            state=state,
            source_collection_id=source if both else None,
            target_region=region if both else None,
        )
    except (InvalidRequest, StoreError) as exc:
        return problem_for(exc)
    if source is not None and region is None:
        records = [r for r in records if r.pair.source_collection_id.lower() == source.lower()]
    if region is not None and source is None:
        records = [r for r in records if r.pair.target_region == region]
    body: dict[str, Any] = {"drills": [drill_view(r) for r in records[:limit]]}
    return ApiResponse(200, models.shape(drill_models.DrillList, body))
