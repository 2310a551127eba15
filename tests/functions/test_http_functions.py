"""HTTP functions called directly: validation, dedupe, status and listing, problem+json."""

from __future__ import annotations

import json

import pytest

from shared.model.message import decode_message
from tests.functions.conftest import FunctionApp
from tests.support import SUBSCRIPTION, TARGET_REGION, seed_source

RP_SHAPE = "/providers/Microsoft.Compute/restorePointCollections/"
SOME_RP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg{RP_SHAPE}c/restorePoints/r"


def _json(response) -> dict:
    return json.loads(response.get_body())


async def _post(fn_app: FunctionApp, body: object) -> tuple[int, dict, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await fn_app.http("copies_create", "POST", "/api/copies", body=raw)
    return response.status_code, _json(response), dict(response.headers)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"", None),
        (b"[1, 2]", None),
        ({}, "sourceRestorePointId"),
        (
            {"sourceRestorePointId": "/subscriptions/x/rp", "targetRegion": "westus"},
            "sourceRestorePointId",
        ),
        (
            {"sourceRestorePointId": SOME_RP},
            "targetRegion",
        ),
        (
            {
                "sourceRestorePointId": SOME_RP,
                "targetRegion": "mars-north",
            },
            "targetRegion",
        ),
        (
            {
                "sourceRestorePointId": SOME_RP,
                "targetRegion": "atlantis",
            },
            "targetRegion",
        ),
        (
            {
                "sourceRestorePointId": SOME_RP,
                "targetRegion": 5,
            },
            "targetRegion",
        ),
        (
            {
                "sourceRestorePointId": SOME_RP,
                "targetRegion": "westus",
                "targetResourceGroup": "bad/group",
            },
            "targetResourceGroup",
        ),
        (
            {
                "sourceRestorePointId": SOME_RP,
                "targetRegion": "westus",
                "colour": "blue",
            },
            "colour",
        ),
    ],
)
async def test_bad_requests_get_400_problem_json(
    fn_app: FunctionApp, body: object, field: str | None
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await fn_app.http("copies_create", "POST", "/api/copies", body=raw)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = _json(response)
    assert problem["status"] == 400
    assert problem["title"]
    assert problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem


async def test_missing_source_is_a_422_that_names_the_id(fn_app: FunctionApp) -> None:
    missing = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod{RP_SHAPE}nothing-here"
        "/restorePoints/rp-404"
    )
    status, problem, _ = await _post(
        fn_app, {"sourceRestorePointId": missing, "targetRegion": "westus"}
    )
    assert status == 422
    assert missing in problem["detail"]


async def test_same_region_is_refused(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, region="westus")
    status, problem, _ = await _post(
        fn_app, {"sourceRestorePointId": source.restore_point_id, "targetRegion": "westus"}
    )
    assert status == 422
    assert "westus" in problem["detail"]


async def test_accepted_then_deduplicated(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint)
    request = {"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION}
    status, job, headers = await _post(fn_app, request)
    assert status == 202
    assert headers["Location"] == f"/api/copies/{job['id']}"
    assert job["state"] == "Queued"
    assert job["targetCollectionName"].endswith(f"-{TARGET_REGION}")
    queued = [decode_message(t) for t in fn_app.receive("QUEUE_ENSURE_TARGET")]
    assert [m.job_id for m in queued] == [job["id"]]

    # The same copy asked again, with different casing: the same job, nothing new queued.
    again = {
        **request,
        "sourceRestorePointId": source.restore_point_id.upper().replace(
            "/SUBSCRIPTIONS/", "/subscriptions/"
        ),
    }
    status, same, headers = await _post(fn_app, {**again, "targetRegion": "WestUS"})
    assert status == 200
    assert same["id"] == job["id"]
    assert fn_app.receive("QUEUE_ENSURE_TARGET") == []

    response = await fn_app.http(
        "copies_get", "GET", headers["Location"], route_params={"id": job["id"]}
    )
    assert response.status_code == 200
    assert _json(response)["sourceRestorePointId"] == source.restore_point_id


@pytest.mark.parametrize(
    ("job_id", "status"), [("not-a-job", 400), ("0" * 32, 404), ("A" * 32, 400)]
)
async def test_get_unknown_or_malformed_job(fn_app: FunctionApp, job_id: str, status: int) -> None:
    response = await fn_app.http(
        "copies_get", "GET", f"/api/copies/{job_id}", route_params={"id": job_id}
    )
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


async def test_list_filters_and_pages(fn_app: FunctionApp) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, restore_points=3)
    ids = source.restore_point_ids
    for rp in ids:
        status, _, _ = await _post(
            fn_app, {"sourceRestorePointId": rp, "targetRegion": "northeurope"}
        )
        assert status == 202
    fn_app.receive("QUEUE_ENSURE_TARGET")
    params = {"sourceCollectionId": source.collection_id, "pageSize": "2", "code": "ignored-key"}
    response = await fn_app.http("copies_list", "GET", "/api/copies", params=params)
    page = _json(response)
    assert response.status_code == 200
    assert len(page["value"]) == 2
    assert "code=" not in page["nextLink"], "the function key must not leak into links"
    from urllib.parse import parse_qsl, urlsplit

    next_params = dict(parse_qsl(urlsplit(page["nextLink"]).query))
    second = _json(await fn_app.http("copies_list", "GET", page["nextLink"], params=next_params))
    seen = {j["sourceRestorePointId"] for j in page["value"] + second["value"]}
    assert seen == set(ids)
    assert "nextLink" not in second

    filtered = _json(
        await fn_app.http(
            "copies_list",
            "GET",
            "/api/copies",
            params={"sourceCollectionId": source.collection_id, "targetRegion": "westus"},
        )
    )
    assert filtered["value"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"state": "Sleeping"},
        {"pageSize": "0"},
        {"pageSize": "lots"},
        {"sourceCollectionId": "/x"},
        {"cursor": "not-ours"},
        {"colour": "blue"},
    ],
)
async def test_list_rejects_bad_queries(fn_app: FunctionApp, params: dict[str, str]) -> None:
    response = await fn_app.http("copies_list", "GET", "/api/copies", params=params)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
