"""The Event Grid function called directly with real `func.EventGridEvent` / `func.CloudEvent`
objects: both schemas start copies for protected collections (here: tag policies); other event
types, copies and malformed events are dropped quietly (no exception, so no redelivery storm)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import Scenario
from shared.model.message import decode_message
from tests.functions.conftest import FunctionApp
from tests.support import SUBSCRIPTION, seed_source

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
RP_WRITE = "Microsoft.Compute/restorePointCollections/restorePoints/write"


def _data(resource: str, operation: str = RP_WRITE) -> dict[str, Any]:
    return {
        "operationName": operation,
        "resourceUri": resource,
        "status": "Succeeded",
        "subscriptionId": SUBSCRIPTION,
        "resourceProvider": "Microsoft.Compute",
    }


def grid_event(subject: str, data: Any, event_type: str = WRITE) -> func.EventGridEvent:
    return func.EventGridEvent(
        id=str(uuid.uuid4()),
        data=data,
        topic=f"/subscriptions/{SUBSCRIPTION}",
        subject=subject,
        event_type=event_type,
        event_time=datetime.now(UTC),
        data_version="2",
    )


def cloud_event(subject: str, data: Any, event_type: str = WRITE) -> func.CloudEvent:
    return func.CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/subscriptions/{SUBSCRIPTION}",
        type=event_type,
        specversion="1.0",
        data=data,
        subject=subject,
    )


def _queued(fn_app: FunctionApp) -> list[str]:
    return [
        decode_message(t).source_restore_point_id for t in fn_app.receive("QUEUE_ENSURE_TARGET")
    ]


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
async def test_a_restore_point_write_in_a_protected_collection_starts_copies(
    fn_app: FunctionApp, schema: str
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, tags={"rpcopy-targets": "westus, northeurope"})
    fn_app.receive("QUEUE_ENSURE_TARGET")
    make = grid_event if schema == "eventgrid" else cloud_event
    rp = source.restore_point_id
    await fn_app.function("restore_point_created")(make(rp, _data(rp)))
    assert sorted(_queued(fn_app)) == [rp, rp]  # one copy per target region
    # A redelivery of the same event changes nothing.
    await fn_app.function("restore_point_created")(make(rp, _data(rp)))
    assert _queued(fn_app) == []


async def test_unprotected_collections_and_copies_start_nothing(fn_app: FunctionApp) -> None:
    unprotected = seed_source(fn_app.stack.arm_endpoint)
    fn_app.receive("QUEUE_ENSURE_TARGET")
    rp = unprotected.restore_point_id
    await fn_app.function("restore_point_created")(grid_event(rp, _data(rp)))
    assert _queued(fn_app) == []

    # A copy target collection, even one carrying the opt-in tag, is never a source: the write
    # of a copied restore point (the app's own, in a DR region) must not start a copy-of-copy.
    protected = seed_source(fn_app.stack.arm_endpoint, tags={"rpcopy-targets": "northeurope"})
    name = protected.collection_id.rsplit("/", 1)[-1]
    scenario = (
        Scenario(SUBSCRIPTION)
        .resource_group("rg-dr", "westus")
        .collection(
            f"{name}-westus",
            source=protected.collection_id,
            rg="rg-dr",
            location="westus",
            tags={"rpcopy-targets": "northeurope"},
        )
        .copy("rp1", f"{name}-westus", protected.restore_point_id)
    )
    with EmulatorControl(fn_app.stack.arm_endpoint) as control:
        control.seed(scenario)
    copy = scenario.rp_id(f"{name}-westus", "rp1")
    fn_app.receive("QUEUE_ENSURE_TARGET")
    await fn_app.function("restore_point_created")(cloud_event(copy, _data(copy)))
    assert _queued(fn_app) == []


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("Microsoft.Resources.ResourceDeleteSuccess", "rp-data"),  # another event type
        (WRITE, "rpc-data"),  # a collection write, not a restore point write
        (WRITE, None),  # malformed: no data
        (WRITE, {"operationName": RP_WRITE, "resourceUri": "/not/an/id"}),  # malformed id
        (WRITE, {"resourceUri": "x"}),  # malformed: no operationName
        ("", "rp-data"),  # malformed: no type
    ],
)
async def test_other_and_malformed_events_are_dropped_quietly(
    fn_app: FunctionApp, event_type: str, data: Any
) -> None:
    source = seed_source(fn_app.stack.arm_endpoint, tags={"rpcopy-targets": "westus"})
    fn_app.receive("QUEUE_ENSURE_TARGET")
    rp = source.restore_point_id
    named = {
        "rp-data": _data(rp),
        "rpc-data": _data(source.collection_id, "Microsoft.Compute/restorePointCollections/write"),
    }
    payload = named[data] if isinstance(data, str) else data
    await fn_app.function("restore_point_created")(grid_event(rp, payload, event_type))
    assert _queued(fn_app) == []
