"""Event Grid delivery to a real local webhook receiver: schema, filters, retries, no
replication-finished event."""

from __future__ import annotations

import re

from .conftest import Arm, Receiver, eventually, rp_path, rpc_path

EVENT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")


async def test_restore_point_write_event_when_the_lro_succeeds(
    arm: Arm, receiver: Receiver
) -> None:
    await arm.ctl.subscribe_webhook(receiver.url, name="app")
    r = await arm.put(rp_path("rpc1", "rp9"), {}, headers={"x-ms-client-request-id": "cid"})
    correlation = r.headers["x-ms-correlation-request-id"]
    await arm.emu.events.drain()
    assert receiver.received == []  # nothing until the LRO completes
    await arm.advance(35)
    await eventually(lambda: len(receiver.received) == 1, timeout=10, what="the write event")
    hit = receiver.received[0]
    assert hit["headers"]["aeg-event-type"] == "Notification"
    assert hit["headers"]["content-type"].startswith("application/json")
    batch = hit["body"]
    assert isinstance(batch, list)
    assert len(batch) == 1
    event = batch[0]
    rp_id = rp_path("rpc1", "rp9")
    assert event["topic"] == f"/subscriptions/{rp_id.split('/')[2]}"
    assert event["subject"] == rp_id
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert EVENT_TIME.match(event["eventTime"])
    assert event["dataVersion"] == "2"
    assert event["metadataVersion"] == "1"
    data = event["data"]
    assert data["resourceUri"] == rp_id
    assert data["operationName"] == "Microsoft.Compute/restorePointCollections/restorePoints/write"
    assert data["status"] == "Succeeded"
    assert data["correlationId"] == correlation
    assert data["authorization"]["action"] == data["operationName"]
    assert data["authorization"]["scope"] == rp_id
    assert data["resourceProvider"] == "Microsoft.Compute"
    assert {"subscriptionId", "tenantId", "claims"} <= set(data)
    assert "httpRequest" not in data  # only for updates and deletes [DOC]


async def test_delete_event_has_http_request(arm: Arm, receiver: Receiver) -> None:
    await arm.ctl.subscribe_webhook(
        receiver.url, included_event_types=["Microsoft.Resources.ResourceDeleteSuccess"]
    )
    await arm.delete(rp_path("rpc1", "rp1"))
    await arm.advance(15)
    await eventually(lambda: len(receiver.received) == 1, timeout=10, what="the delete event")
    data = receiver.received[0]["body"][0]["data"]
    assert data["operationName"] == "Microsoft.Compute/restorePointCollections/restorePoints/delete"
    assert data["httpRequest"]["method"] == "DELETE"
    assert data["httpRequest"]["url"].startswith("http://arm.test/subscriptions/")


async def test_retries_with_backoff_until_delivered(make_arm, receiver: Receiver) -> None:
    from .conftest import standard_scenario

    arm = await make_arm(standard_scenario(1), webhook_retry_delays_real_seconds=[0.05, 0.05, 0.05])
    receiver.fail_first = 2
    await arm.ctl.subscribe_webhook(receiver.url)
    await arm.target_rpc()  # an RPC write is delivered at once (synchronous PUT)
    await eventually(lambda: len(receiver.received) == 3, timeout=10, what="3 delivery attempts")
    await arm.emu.events.drain()
    delivery = (await arm.ctl.events())["deliveries"][0]
    assert delivery["status"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [h["headers"]["aeg-delivery-count"] for h in receiver.received] == ["0", "1", "2"]


async def test_gives_up_after_bounded_retries(make_arm) -> None:
    from devstack.processes import free_port

    from .conftest import standard_scenario

    arm = await make_arm(standard_scenario(1), webhook_retry_delays_real_seconds=[0.01, 0.01])
    await arm.ctl.subscribe_webhook(f"http://127.0.0.1:{free_port()}/nobody-listens")
    await arm.target_rpc()
    await arm.emu.events.drain()
    delivery = (await arm.ctl.events())["deliveries"][0]
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 3
    assert "error" in delivery["attempts"][0]


async def test_cloud_events_single_and_batch(arm: Arm, receiver: Receiver) -> None:
    await arm.ctl.subscribe_webhook(receiver.url, schema="CloudEventSchemaV1_0", name="single")
    await arm.ctl.subscribe_webhook(
        receiver.url, schema="CloudEventSchemaV1_0", name="batch", cloud_events_batch=True
    )
    await arm.target_rpc()
    await eventually(lambda: len(receiver.received) == 2, timeout=10, what="two CloudEvents posts")
    by_type = {h["headers"]["content-type"].split(";")[0]: h["body"] for h in receiver.received}
    single = by_type["application/cloudevents+json"]
    batch = by_type["application/cloudevents-batch+json"]
    assert isinstance(batch, list)
    assert batch[0]["id"] == single["id"]
    assert single["specversion"] == "1.0"
    assert single["type"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert single["source"] == "/subscriptions/" + rpc_path("rpc1-dr").split("/")[2]
    assert single["subject"] == rpc_path("rpc1-dr")
    assert "dataVersion" not in single
    assert "metadataVersion" not in single


async def test_subject_filter(arm: Arm, receiver: Receiver) -> None:
    await arm.ctl.subscribe_webhook(
        receiver.url, subject_begins_with=rpc_path("rpc1") + "/restorePoints/"
    )
    await arm.target_rpc()  # an RPC write: filtered out
    await arm.ctl.create_restore_point(rpc_path("rpc1"), "sched")
    await arm.advance(40)
    await eventually(lambda: len(receiver.received) == 1, timeout=10, what="the filtered event")
    await arm.emu.events.drain()
    assert len(receiver.received) == 1
    assert receiver.received[0]["body"][0]["subject"].endswith("/restorePoints/sched")
    webhooks = await arm.ctl.webhooks()
    assert webhooks[0]["subjectBeginsWith"].endswith("/restorePoints/")


async def test_bad_webhook_subscription_rejected(arm: Arm) -> None:
    for body in (
        {"url": "ftp://x"},
        {"url": "http://x", "schema": "Nope"},
        {"url": "http://x", "includedEventTypes": ["Nope"]},
    ):
        r = await arm.client.put("/_emulator/webhooks", json=body)
        assert r.status_code == 400, body
