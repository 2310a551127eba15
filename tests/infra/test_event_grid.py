"""The Event Grid subscription sends exactly what the app's intake accepts
(ResourceWriteSuccess for restore point writes) to a function that exists."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.infra.bicep import INFRA, REPO, first_module, load_json, parse

arm_events = first_module("shared.model.arm_events", "shared.resource_events")

SAMPLE = (
    REPO / "tests/fixtures/armspec/eventgrid-2018-01-01/examples/event-grid-schema/"
    "resource_write_success.json"
)
RESTORE_POINT = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/"
    "Microsoft.Compute/restorePointCollections/rpc-vm1/restorePoints/rp-1"
)
TOPIC = INFRA / "events" / "topic.bicep"


def _event(operation: str | None = None, resource: str | None = None) -> dict[str, Any]:
    event = json.loads(SAMPLE.read_text())
    if operation is None:
        return event
    event = copy.deepcopy(event)
    event["subject"] = event["data"]["resourceUri"] = resource
    event["data"]["operationName"] = operation
    return event


def _passes(event_filter: dict[str, Any], event: dict[str, Any]) -> bool:
    """Event Grid's matching for what filter.json uses (both case-insensitive)."""
    types = {t.lower() for t in event_filter["includedEventTypes"]}
    if event["eventType"].lower() not in types:
        return False
    for rule in event_filter["advancedFilters"]:
        assert rule["operatorType"] == "StringIn", "teach _passes this operator"
        node: Any = event
        for part in rule["key"].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, str) or node.lower() not in {v.lower() for v in rule["values"]}:
            return False
    return True


def _app_accepts(event: dict[str, Any]) -> bool:
    read = arm_events.read_event(event["id"], event["eventType"], event["subject"], event["data"])
    return read.verdict == arm_events.Verdict.RESTORE_POINT_WRITTEN


def test_filter_is_the_apps_constants() -> None:
    event_filter = load_json("events/filter.json")
    assert [t.lower() for t in event_filter["includedEventTypes"]] == [arm_events.WRITE_SUCCESS]
    (rule,) = event_filter["advancedFilters"]
    assert rule["key"] == "data.operationName"
    assert rule["operatorType"] == "StringIn"
    assert [v.lower() for v in rule["values"]] == [arm_events.RESTORE_POINT_WRITE]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            _event("Microsoft.Compute/restorePointCollections/restorePoints/write", RESTORE_POINT),
            True,
            id="restore-point-write",
        ),
        pytest.param(_event(), False, id="storage-account-write"),
        pytest.param(
            _event(
                "Microsoft.Compute/restorePointCollections/write",
                RESTORE_POINT.rsplit("/restorePoints/", 1)[0],
            ),
            False,
            id="collection-write",
        ),
    ],
)
def test_event_grid_delivers_exactly_what_the_app_accepts(
    event: dict[str, Any], expected: bool
) -> None:
    assert _passes(load_json("events/filter.json"), event) is expected
    assert _app_accepts(event) is expected


def test_the_subscription_uses_the_filter_and_delivers_safely() -> None:
    tree = parse(TOPIC)
    topic = tree["resources"]["topic"]
    assert topic["type"] == "Microsoft.EventGrid/systemTopics"
    assert topic["config"]["location"] == "global"
    assert topic["config"]["properties"]["topicType"] == "Microsoft.Resources.Subscriptions"
    text = TOPIC.read_text()
    assert "var eventFilter = loadJsonContent('filter.json')" in text
    assert "includedEventTypes: eventFilter.includedEventTypes" in text
    assert "advancedFilters: eventFilter.advancedFilters" in text
    assert "resourceId: '${functionAppId}/functions/${functionName}'" in text
    assert "endpointType: 'AzureFunction'" in text
    assert "retryPolicy: {" in text
    assert "deadLetterWithResourceIdentity: {" in text
    assert "endpointType: 'StorageBlob'" in text


def test_the_endpoint_function_exists_and_takes_event_grid_events(
    deployed_functions: dict[str, list[dict[str, Any]]],
) -> None:
    name = parse(TOPIC)["parameters"]["functionName"]["default"]
    assert name in deployed_functions, (
        f"{name} is not a function in function_app.py: {sorted(deployed_functions)}"
    )
    triggers = [b["type"] for b in deployed_functions[name] if b["type"].endswith("Trigger")]
    assert triggers == ["eventGridTrigger"]


def test_dead_letters_go_to_our_container_with_the_events_identity() -> None:
    main = parse(INFRA / "main.bicep")
    assert main["variables"]["deadLetterContainerName"]["value"] == "eventgrid-deadletter"
    storage = (INFRA / "app" / "storage.bicep").read_text()
    assert "name: deadLetterContainerName" in storage
    access = (INFRA / "rbac" / "storage-access.bicep").read_text()
    # Storage Blob Data Contributor for the events identity, on the container only.
    assert "scope: account::blobs::deadLetter" in access
    assert "principalId: eventsPrincipalId" in access
    hook = (INFRA / "hooks" / "postdeploy.sh").read_text()
    for output in (
        "RPCOPY_FUNCTION_APP_ID",
        "RPCOPY_EVENTS_IDENTITY_ID",
        "RPCOPY_STORAGE_ACCOUNT_ID",
        "RPCOPY_DEAD_LETTER_CONTAINER",
    ):
        assert output in main["outputs"], output
        assert f'"${output}"' in hook, output
