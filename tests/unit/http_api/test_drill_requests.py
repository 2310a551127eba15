"""Reading `POST /api/drills` bodies and `GET /api/drills` queries: anything from outside is a
typed value or InvalidRequest, never another exception (a property over generated input)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidRequest
from shared.http_api.drills import parse_drill_query, parse_drill_request

RPC = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/c"
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=20,
)


def parse(body: bytes) -> object:
    return parse_drill_request(body, max_bytes=65536, max_depth=32)


def test_a_good_request() -> None:
    source, region = parse(
        json.dumps({"sourceCollectionId": RPC, "targetRegion": "westus"}).encode()
    )
    assert str(source) == RPC
    assert region == "westus"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(["sourceCollectionId", "targetRegion", "x"]), json_values, max_size=3
        ).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),
    )
)
def test_any_body_is_a_request_or_invalid_request(body: bytes) -> None:
    detail = "parsed"
    try:
        parse(body)
    except InvalidRequest as exc:
        detail = exc.detail
    assert detail  # anything else than InvalidRequest escapes and fails the test


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["state", "sourceCollectionId", "targetRegion", "limit", "code", "x"]),
        st.text(max_size=30),
        max_size=5,
    )
)
def test_any_query_is_filters_or_invalid_request(params: dict[str, str]) -> None:
    errors: list[dict[str, str]] = []
    limit = 1
    try:
        limit = parse_drill_query(params)[3]
    except InvalidRequest as exc:
        errors = exc.errors
        assert errors
    assert 1 <= limit <= 200


@pytest.mark.parametrize("limit", ["0", "201", "-1", "1.5", "01", "abc", ""])
def test_bad_limits(limit: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_drill_query({"limit": limit})
