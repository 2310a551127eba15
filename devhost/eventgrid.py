"""Event Grid webhook payloads: the validation handshake and events for the trigger.

The host's Event Grid extension answers `aeg-event-type: SubscriptionValidation` with the
validation code, invokes the function once per event of a `Notification` (an Event Grid
schema array, or CloudEvents 1.0 single/batch), answers 202 when all succeeded and 500 when
any failed (so Event Grid redelivers), and 202 for `Unsubscribe`. The event object is built
by azure-functions' own trigger converter, exactly as the worker builds it: an Event Grid
schema event becomes `func.EventGridEvent`, a CloudEvent (`specversion` present) becomes
`func.CloudEvent`.
"""

from __future__ import annotations

import json
from typing import Any

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

EVENT_TYPE_HEADER = "aeg-event-type"
VALIDATION = "subscriptionvalidation"
NOTIFICATION = "notification"
UNSUBSCRIBE = "unsubscribe"
WEBHOOK_PATH = "/runtime/webhooks/eventgrid"


class MalformedPayload(ValueError):
    """The body is not an event, an array of events, or a validation event."""


def parse_events(body: bytes) -> list[dict[str, Any]]:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from exc
    events = doc if isinstance(doc, list) else [doc]
    if not events or not all(isinstance(e, dict) for e in events):
        raise MalformedPayload("body must be a JSON object or a non-empty array of objects")
    return events


def validation_code(body: bytes) -> str:
    """The code from a SubscriptionValidation event (Event Grid or CloudEvents schema)."""
    event = parse_events(body)[0]
    data = event.get("data")
    if isinstance(data, str):  # CloudEvents validation double-encodes its data
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise MalformedPayload("validation event data is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("validationCode"), str):
        raise MalformedPayload("validation event has no data.validationCode")
    return data["validationCode"]


def trigger_value(event: dict[str, Any]) -> Any:
    """The object the worker passes for one event (EventGridEvent or CloudEvent)."""
    datum = meta.Datum(value=json.dumps(event), type="json")
    try:
        return EventGridEventInConverter.decode(datum, trigger_metadata={})
    except (ValueError, TypeError) as exc:  # e.g. an unparsable eventTime
        raise MalformedPayload(f"event {event.get('id')!r} cannot be read: {exc}") from exc
