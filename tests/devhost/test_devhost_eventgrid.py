"""The Event Grid webhook of a running devhost: handshake, both schemas, failures, keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.devhost.devhost_support import (
    EVENTGRID_KEY,
    DevhostProcess,
    ResultCollector,
    post,
    token,
)

WEBHOOK = "/runtime/webhooks/eventgrid"


def deliver(
    host: DevhostProcess,
    body: Any,
    *,
    kind: str = "Notification",
    function: str = "on_event",
    key: str = EVENTGRID_KEY,
    content_type: str = "application/json",
):
    return post(
        host.url(WEBHOOK),
        params={"functionName": function, "code": key},
        headers={"aeg-event-type": kind, "content-type": content_type},
        content=body if isinstance(body, bytes) else json.dumps(body),
    )


def eventgrid_event(mark: str, n: int, **data: Any) -> dict[str, Any]:
    return {
        "id": f"{mark}-{n}",
        "topic": "/subscriptions/s/resourceGroups/rg",
        "subject": f"/restorePoints/rp{n}",
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": "2025-01-02T03:04:05Z",
        "dataVersion": "1",
        "data": {"token": mark, **data},
    }


def cloud_event(mark: str, n: int, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{mark}-{n}",
        "source": "/rpcopy",
        "type": "rpcopy.copy.completed",
        "subject": f"jobs/{n}",
        "time": "2025-01-02T03:04:05Z",
        "datacontenttype": "application/json",
        "data": {"token": mark, **data},
    }


def test_subscription_validation_handshake(devhost: DevhostProcess) -> None:
    validation = [
        {
            "id": "v1",
            "topic": "/subscriptions/s",
            "subject": "",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2025-01-01T00:00:00Z",
            "dataVersion": "2",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        }
    ]
    response = deliver(devhost, validation, kind="SubscriptionValidation")
    assert response.status_code == 200
    assert response.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}


def test_eventgrid_schema_batch_invokes_once_per_event(
    devhost: DevhostProcess, results: ResultCollector
) -> None:
    mark = token()
    response = deliver(devhost, [eventgrid_event(mark, n) for n in range(3)])
    assert response.status_code == 202  # the extension answers Accepted
    found = results.wait_for(
        lambda r: r.get("fn") == "on_event" and r.get("token") == mark, count=3, what="3 events"
    )
    assert sorted(r["id"] for r in found) == [f"{mark}-{n}" for n in range(3)]
    first = next(r for r in found if r["id"] == f"{mark}-0")
    assert first["kind"] == "EventGridEvent"
    assert first["type"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert first["source"] == "/subscriptions/s/resourceGroups/rg"
    assert first["subject"] == "/restorePoints/rp0"
    assert first["time"].startswith("2025-01-02 03:04:05")


def test_cloudevent_single(devhost: DevhostProcess, results: ResultCollector) -> None:
    mark = token()
    response = deliver(
        devhost, cloud_event(mark, 0), content_type="application/cloudevents+json; charset=utf-8"
    )
    assert response.status_code == 202
    (report,) = results.wait_for(
        lambda r: r.get("fn") == "on_event" and r.get("token") == mark, what="the CloudEvent"
    )
    assert report["kind"] == "CloudEvent"  # what azure-functions' decoder gives, as in Azure
    assert report["type"] == "rpcopy.copy.completed"
    assert report["source"] == "/rpcopy"
    assert report["subject"] == "jobs/0"


def test_cloudevents_batch(devhost: DevhostProcess, results: ResultCollector) -> None:
    mark = token()
    batch = [cloud_event(mark, n) for n in range(4)]
    response = deliver(devhost, batch, content_type="application/cloudevents-batch+json")
    assert response.status_code == 202
    results.wait_for(
        lambda r: r.get("fn") == "on_event" and r.get("token") == mark, count=4, what="4 events"
    )


def test_a_failing_event_fails_the_delivery_with_500(
    devhost: DevhostProcess, results: ResultCollector
) -> None:
    mark = token()
    batch = [eventgrid_event(mark, 0), eventgrid_event(mark, 1, fail=True)]
    response = deliver(devhost, batch)
    assert response.status_code == 500  # Event Grid retries the delivery
    assert b"Traceback" not in response.content
    results.wait_for(
        lambda r: r.get("fn") == "on_event" and r.get("token") == mark, what="the good event"
    )


@pytest.mark.parametrize("key", ["wrong", ""])
def test_wrong_key_is_401(devhost: DevhostProcess, key: str) -> None:
    assert deliver(devhost, [eventgrid_event(token(), 0)], key=key).status_code == 401


def test_unknown_function_is_404(devhost: DevhostProcess) -> None:
    assert deliver(devhost, [eventgrid_event(token(), 0)], function="nope").status_code == 404


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"[]", b'"text"'])
def test_malformed_body_is_400(devhost: DevhostProcess, body: bytes) -> None:
    assert deliver(devhost, body).status_code == 400


def test_missing_event_type_header_is_400(devhost: DevhostProcess) -> None:
    assert deliver(devhost, [eventgrid_event(token(), 0)], kind="").status_code == 400
