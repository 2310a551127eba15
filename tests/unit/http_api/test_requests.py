"""shared/http_api.py, the pure parts: request parsing and problem+json responses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.errors import InvalidRequest
from shared.http_api.handlers import copy_location
from shared.http_api.problems import PROBLEM_JSON, ApiResponse, problem, problem_for
from shared.http_api.requests import parse_copy_request, parse_list_query
from shared.model.ids import RP_SHAPE, RPC_SHAPE, RestorePointId
from shared.model.job import JobState
from shared.model.message import Trigger
from shared.storage.ledger import JobFilter

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RPC = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
    "/restorePointCollections/rpc1"
)
RP = f"{RPC}/restorePoints/rp1"


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


# -- parse_copy_request -------------------------------------------------------------------------


def test_minimal_request() -> None:
    request = parse_copy_request(body(sourceRestorePointId=RP, targetRegion="westus"))
    assert request.source == RestorePointId.parse(RP)
    assert request.target_region == "westus"
    assert request.target_resource_group is None
    assert request.target_collection_name is None
    assert request.trigger is Trigger.HTTP


def test_full_request() -> None:
    request = parse_copy_request(
        body(
            sourceRestorePointId=RP.upper(),
            targetRegion="WestUS",
            targetResourceGroup="rg-dr",
            targetCollectionName="rpc1-dr",
        )
    )
    assert request.source.normalized == RP.lower()
    assert request.target_region == "WestUS"  # normalized later, by validate_target
    assert request.target_resource_group == "rg-dr"
    assert request.target_collection_name == "rpc1-dr"


def test_empty_optional_strings_mean_default() -> None:
    request = parse_copy_request(
        body(
            sourceRestorePointId=RP,
            targetRegion="westus",
            targetResourceGroup="",
            targetCollectionName="",
        )
    )
    assert request.target_resource_group is None
    assert request.target_collection_name is None


@pytest.mark.parametrize(
    ("raw", "title", "words"),
    [
        (b"{not json", "Malformed JSON", "not valid JSON"),
        (b'{"sourceRestorePointId": ', "Malformed JSON", "not valid JSON"),
        (b"\xff\xfe\x00", "Malformed JSON", "not valid JSON"),
        (b"", "Invalid copy request", "JSON object"),
        (b"null", "Invalid copy request", "JSON object"),
        (b"[]", "Invalid copy request", "JSON object"),
        (b'["a"]', "Invalid copy request", "JSON object"),
        (b'"westus"', "Invalid copy request", "JSON object"),
        (b"42", "Invalid copy request", "JSON object"),
    ],
)
def test_not_an_object(raw: bytes, title: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_copy_request(raw)
    exc = info.value
    assert problem_for(exc).status == 400
    assert exc.title == title
    assert words in exc.detail


_OK: dict[str, Any] = {"sourceRestorePointId": RP, "targetRegion": "westus"}

# (body fields, the fields the errors must name, text the errors must contain)
_INVALID: dict[str, tuple[dict[str, Any], set[str], str]] = {
    "empty object": ({}, {"sourceRestorePointId", "targetRegion"}, "is required"),
    "missing source": ({"targetRegion": "westus"}, {"sourceRestorePointId"}, "is required"),
    "missing region": ({"sourceRestorePointId": RP}, {"targetRegion"}, "is required"),
    "unknown field": ({**_OK, "priority": "high"}, {"priority"}, "unknown field"),
    "snake_case field": ({**_OK, "target_region": "x"}, {"target_region"}, "allowed:"),
    "two unknown fields": ({**_OK, "a": 1, "b": 2}, {"a", "b"}, "unknown field"),
    "source not a string": ({**_OK, "sourceRestorePointId": 7}, {"sourceRestorePointId"}, RP_SHAPE),
    "source null": ({**_OK, "sourceRestorePointId": None}, {"sourceRestorePointId"}, RP_SHAPE),
    "source is a collection": (
        {**_OK, "sourceRestorePointId": RPC},
        {"sourceRestorePointId"},
        RP_SHAPE,
    ),
    "source trailing slash": (
        {**_OK, "sourceRestorePointId": RP + "/"},
        {"sourceRestorePointId"},
        RP_SHAPE,
    ),
    "source with query": (
        {**_OK, "sourceRestorePointId": RP + "?api-version=1"},
        {"sourceRestorePointId"},
        RP_SHAPE,
    ),
    "source bad subscription": (
        {**_OK, "sourceRestorePointId": RP.replace(SUB, "sub1")},
        {"sourceRestorePointId"},
        RP_SHAPE,
    ),
    "region not a string": ({**_OK, "targetRegion": 1}, {"targetRegion"}, "must be a string"),
    "region list": ({**_OK, "targetRegion": ["westus"]}, {"targetRegion"}, "must be a string"),
    "group not a string": (
        {**_OK, "targetResourceGroup": 5},
        {"targetResourceGroup"},
        "must be a string",
    ),
    "collection not a string": (
        {**_OK, "targetCollectionName": {"n": 1}},
        {"targetCollectionName"},
        "must be a string",
    ),
    "everything wrong": (
        {"sourceRestorePointId": "x", "targetRegion": 3, "targetResourceGroup": 1, "z": 0},
        {"sourceRestorePointId", "targetRegion", "targetResourceGroup", "z"},
        "",
    ),
}


@pytest.mark.parametrize(("fields", "named", "text"), list(_INVALID.values()), ids=list(_INVALID))
def test_invalid_request(fields: dict[str, Any], named: set[str], text: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_copy_request(body(**fields))
    exc = info.value
    assert problem_for(exc).status == 400
    assert exc.title == "Invalid copy request"
    assert {e["field"] for e in exc.errors} == named
    assert all(e["message"] for e in exc.errors)
    assert any(text in e["message"] for e in exc.errors)
    for field in named:
        assert f"{field}:" in exc.detail


# -- parse_list_query ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected_filter", "page_size", "cursor"),
    [
        ({}, JobFilter(), 50, None),
        ({"state": "Failed"}, JobFilter(state=JobState.FAILED), 50, None),
        ({"state": ""}, JobFilter(), 50, None),
        ({"sourceCollectionId": RPC}, JobFilter(source_collection_id=RPC), 50, None),
        ({"targetRegion": "WestUS"}, JobFilter(target_region="westus"), 50, None),
        ({"pageSize": "1"}, JobFilter(), 1, None),
        ({"pageSize": "1000"}, JobFilter(), 1000, None),
        ({"cursor": "abc"}, JobFilter(), 50, "abc"),
        ({"cursor": ""}, JobFilter(), 50, None),
        # `code` is the function key, not a filter
        ({"code": "secret-function-key"}, JobFilter(), 50, None),
        (
            {"state": "Replicating", "targetRegion": "eastus", "pageSize": "10", "code": "k"},
            JobFilter(state=JobState.REPLICATING, target_region="eastus"),
            10,
            None,
        ),
    ],
)
def test_list_query(
    params: dict[str, str], expected_filter: JobFilter, page_size: int, cursor: str | None
) -> None:
    assert parse_list_query(params) == (expected_filter, page_size, cursor)


@pytest.mark.parametrize(
    ("params", "named", "text"),
    [
        ({"state": "Done"}, {"state"}, "Succeeded"),
        ({"pageSize": "0"}, {"pageSize"}, "1 to 1000"),
        ({"pageSize": "1001"}, {"pageSize"}, "1 to 1000"),
        ({"pageSize": "-1"}, {"pageSize"}, "whole number"),
        ({"pageSize": "ten"}, {"pageSize"}, "whole number"),
        ({"pageSize": "2.5"}, {"pageSize"}, "whole number"),
        ({"pageSize": "²"}, {"pageSize"}, "whole number"),
        ({"top": "5"}, {"top"}, "unknown query parameter"),
        ({"State": "Failed"}, {"State"}, "unknown query parameter"),
        ({"sourceCollectionId": RP}, {"sourceCollectionId"}, RPC_SHAPE),
        ({"targetRegion": "West US"}, {"targetRegion"}, "region"),
        (
            {"state": "x", "pageSize": "x", "foo": "1", "targetRegion": "-"},
            {"state", "pageSize", "foo", "targetRegion"},
            "",
        ),
    ],
)
def test_list_query_rejects(params: dict[str, str], named: set[str], text: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_list_query(params)
    exc = info.value
    assert problem_for(exc).status == 400
    assert exc.title == "Invalid query"
    assert {e["field"] for e in exc.errors} == named
    assert any(text in e["message"] for e in exc.errors)


# -- problem+json -------------------------------------------------------------------------------


def test_problem_shape() -> None:
    response = problem(404, "Copy job not found", "no copy job has id x")
    assert isinstance(response, ApiResponse)
    assert response.status == 404
    assert response.content_type == PROBLEM_JSON == "application/problem+json"
    assert response.body == {
        "type": "about:blank",
        "title": "Copy job not found",
        "status": 404,
        "detail": "no copy job has id x",
    }
    assert response.headers == {}
    assert json.loads(response.text()) == response.body


def test_problem_with_errors_and_headers() -> None:
    errors = [{"field": "targetRegion", "message": "is required"}]
    response = problem(
        503, "Unavailable", "try later", errors=errors, headers={"Retry-After": "30"}
    )
    assert response.body["errors"] == errors
    assert response.body["status"] == 503
    assert response.headers == {"Retry-After": "30"}


def test_problem_omits_empty_errors() -> None:
    assert "errors" not in problem(400, "t", "d", errors=[]).body


def test_plain_response_is_json() -> None:
    response = ApiResponse(200, {"value": []})
    assert response.content_type == "application/json"
    assert response.text() == '{"value":[]}'


def test_copy_location() -> None:
    assert copy_location("0123456789abcdef0123456789abcdef") == (
        "/api/copies/0123456789abcdef0123456789abcdef"
    )


@pytest.mark.parametrize(
    ("raw", "state"),
    [("succeeded", JobState.SUCCEEDED), ("WAITINGFORBUDGET", JobState.WAITING_FOR_BUDGET),
     (" cancelled ", JobState.CANCELLED), ("Failed", JobState.FAILED)],
)  # fmt: skip
def test_state_filter_is_case_insensitive(raw: str, state: JobState) -> None:
    assert parse_list_query({"state": raw})[0] == JobFilter(state)
