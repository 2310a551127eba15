"""Each event's `dataschema` resolves: the app's own `event_schema` function (called with a real
`func.HttpRequest`) serves the schema at that address, and the event's data validates against
what it served, with the relative `$ref`s fetched the same way."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared.model.job import JobState
from tests.functions.conftest import FunctionApp
from tests.functions.test_queue_functions import _events, _request, pump
from tests.support import seed_source


async def fetch(fn_app: FunctionApp, uri: str) -> Any:
    path = urlsplit(uri).path
    assert path.startswith("/api/schemas/events/"), uri
    name = path.removeprefix("/api/schemas/events/")
    response = await fn_app.http("event_schema", "GET", path, route_params={"name": name})
    assert response.status_code == 200, (uri, response.get_body())
    assert response.mimetype == "application/schema+json"
    return json.loads(response.get_body())


async def test_the_dataschema_of_each_event_is_served_and_its_data_valid(
    fn_app: FunctionApp,
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, data_disks=1)
    job_id = await _request(fn_app, source.restore_point_id)
    record, _ = await pump(fn_app, job_id)
    assert record.state is JobState.SUCCEEDED, record.failure
    events = _events(fn_app, job_id)
    assert len(events) == 2
    for event in events:
        uri = event["dataschema"]
        schema = await fetch(fn_app, uri)
        # The copy schemas $ref their shared definitions relative to their own address.
        shared = uri.rsplit("/", 1)[0] + "/job-run.defs.json"
        registry = Registry().with_resources(
            (u, Resource.from_contents(doc, default_specification=DRAFT202012))
            for u, doc in ((uri, schema), (shared, await fetch(fn_app, shared)))
        )
        validator = Draft202012Validator(
            {"$ref": uri}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        assert not list(validator.iter_errors(event["data"])), event["type"]


async def test_an_unknown_schema_is_a_404_problem(fn_app: FunctionApp) -> None:
    response = await fn_app.http(
        "event_schema",
        "GET",
        "/api/schemas/events/nope.json",
        route_params={"name": "nope.json"},
    )
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
