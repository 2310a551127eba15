"""The drill queue message, its view and its events."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from shared.errors import InvalidMessage
from shared.model.drills import (
    DrillDisk,
    DrillFailure,
    DrillPair,
    DrillPhase,
    DrillRecord,
    DrillState,
    OutboxItem,
    decode_drill_message,
    drill_event,
    drill_id_of,
    drill_view,
    encode_drill_message,
)
from shared.model.event_identity import EventIdentity

ID = "a" * 32
IDENTITY = EventIdentity.for_host("rpcopy-prod.azurewebsites.net")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_message_round_trip_plain_and_base64() -> None:
    text = encode_drill_message(ID, 3)
    assert decode_drill_message(text) == (ID, 3)
    assert decode_drill_message(base64.b64encode(text.encode())) == (ID, 3)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        json.dumps({"version": 2, "drillId": ID, "step": 0}),
        json.dumps({"version": 1, "drillId": "A" * 32, "step": 0}),
        json.dumps({"version": 1, "drillId": ID, "step": -1}),
        json.dumps({"version": 1, "drillId": ID, "step": True}),
        json.dumps({"version": 1, "drillId": ID, "step": 0, "extra": 1}),
        b"\xff\xfe",
    ],
)
def test_bad_messages_are_refused(raw: str | bytes) -> None:
    with pytest.raises(InvalidMessage):
        decode_drill_message(raw)


def test_drill_id_is_recovered_from_a_bad_message_where_it_is_readable() -> None:
    assert drill_id_of(json.dumps({"drillId": ID, "step": "x"})) == ID
    assert drill_id_of(json.dumps({"drillId": "../x"})) is None
    assert drill_id_of("garbage") is None


def record(state: DrillState = DrillState.FAILED) -> DrillRecord:
    return DrillRecord(
        id=ID,
        state=state,
        phase=DrillPhase.DONE,
        pair=DrillPair(source_collection_id="/c", target_region="westus"),
        trigger="http",
        subscription_id="s",
        resource_group="rg",
        started_at=NOW,
        updated_at=NOW,
        finished_at=NOW,
        reason=DrillFailure(code="SasReadFailed", message="403", phase=DrillPhase.READ),
        disks=(DrillDisk(name="d", disk_id="/d", disk_restore_point_id="/drp", created=True),),
        outbox=(OutboxItem(queue="q", text="t"),),
        outbox_sent=False,
    )


def test_view_hides_bookkeeping_and_writes_times_as_the_app_does() -> None:
    view = drill_view(record())
    assert {"outbox", "outboxSent", "step", "waits"}.isdisjoint(view)
    assert view["startedAt"] == NOW.isoformat()
    assert view["disks"][0]["created"] is True
    assert view["disks"][0]["verified"] is False
    assert view["reason"] == {"code": "SasReadFailed", "message": "403", "phase": "read"}
    assert view["location"] == f"/api/drills/{ID}"
    json.dumps(view)


@pytest.mark.parametrize(
    ("state", "event_type"),
    [
        (DrillState.SUCCEEDED, "com.example.rpcopy.drill.succeeded"),
        (DrillState.FAILED, "com.example.rpcopy.drill.failed"),
    ],
)
def test_events(state: DrillState, event_type: str) -> None:
    event = drill_event(record(state), identity=IDENTITY, time=NOW)
    assert event["type"] == event_type
    assert event["data"]["drillId"] == ID
    assert event["id"] == drill_event(record(state), identity=IDENTITY, time=NOW)["id"]
    json.dumps(event)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DRILL_POLL_SECONDS": "0"}, "DRILL_POLL_SECONDS must be at least 0.01"),
        ({"DRILL_TIMEOUT_SECONDS": "0.5"}, "DRILL_TIMEOUT_SECONDS must be at least 1"),
        ({"DRILL_POLL_SECONDS": "soon"}, "DRILL_POLL_SECONDS='soon' must be a number"),
        ({"QUEUE_DRILL": "rpcopy-poll"}, "different names"),
    ],
)
def test_bad_drill_settings_stop_the_app_naming_the_setting(
    env: dict[str, str], message: str
) -> None:
    from shared.errors import SettingsError
    from shared.settings import Settings

    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
    assert Settings.from_env({"DRILL_POLL_SECONDS": "2"}).drills.poll_seconds == 2.0
