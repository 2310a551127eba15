"""The contract every CloudEvent the app emits must meet, checked wherever tests see events.

- the CloudEvents SDK (`cloudevents`) reads it as a valid 1.0 structured-JSON event;
- `type` is `{reverse-DNS prefix}.{event name}` with an EventType name;
- `source` is an absolute URI; `dataschema` is `{http(s) base}/{event name}.json`;
- `data` validates against that schema, the repository's copy of schemas/events/ resolved at
  the event's own `dataschema` address (so the relative `$ref`s resolve as a consumer's would);
- `subject` is the source-side resource the event is about (the README's subject rule).

tests/conftest.py runs `check_event` on every event Services.emit sends in-process; EventLog
(tests/support.py) runs it on every event an integration test reads from a live host.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared.http_api.schemas import schema_documents
from shared.model.event_identity import check_absolute_uri, check_type_prefix
from shared.model.events import EventType

# Events whose subject is the source collection (about a pair, not one restore point).
COLLECTION_SUBJECT = {EventType.RPO_BREACHED: "sourceCollectionId"}
# Events whose data names the source restore point at the top level.
RESTORE_POINT_SUBJECT = {
    EventType.RETENTION_DELETED: "sourceRestorePointId",
    # The source restore point the app created (or tried to), and one source retention deleted.
    EventType.CREATION_SUCCEEDED: "restorePointId",
    EventType.CREATION_FAILED: "restorePointId",
    EventType.SOURCE_RETENTION_DELETED: "restorePointId",
    EventType.DRILL_SUCCEEDED: "sourceRestorePointId",
    EventType.DRILL_FAILED: "sourceRestorePointId",
}


@cache
def registry(schema_base: str) -> Registry[Any]:
    """Every schema file, registered at the address the app names it by."""
    return Registry().with_resources(
        (schema_base + name, Resource.from_contents(doc, default_specification=DRAFT202012))
        for name, doc in schema_documents().items()
    )


def event_name(event_type: str) -> EventType:
    """The EventType a full `type` ends with, after a reverse-DNS prefix."""
    for name in sorted(EventType, key=len, reverse=True):
        prefix = event_type.removesuffix("." + name.value)
        if prefix != event_type:
            check_type_prefix(prefix)
            return name
    raise AssertionError(f"type {event_type!r} does not end with an event name of EventType")


def data_errors(name: EventType, data: Any, dataschema: str) -> list[str]:
    base = dataschema.removesuffix(f"{name.value}.json")
    assert base != dataschema, f"dataschema {dataschema!r} does not end with /{name.value}.json"
    # Through a $ref to the address, so the schema's relative $refs resolve against it.
    validator = Draft202012Validator(
        {"$ref": dataschema},
        registry=registry(base),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(data)'}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def expected_subject(name: EventType, data: dict[str, Any]) -> Any:
    if name == EventType.RPO_BREACHED and "sourceVmId" in data:
        return data["sourceVmId"]  # a create-in-target pair: its source side is the VM
    if name in COLLECTION_SUBJECT:
        return data[COLLECTION_SUBJECT[name]]
    if name in RESTORE_POINT_SUBJECT:
        return data[RESTORE_POINT_SUBJECT[name]]
    if data.get("mode") == "create-in-target":
        return data["source"]["vmId"]
    return data["source"]["restorePointId"]


def check_event(event: str | dict[str, Any]) -> dict[str, Any]:
    """The event as a dict if it meets the contract; AssertionError saying how it fails."""
    text = event if isinstance(event, str) else json.dumps(event)
    body = json.loads(text)
    # The SDK fills in a missing id, specversion or time itself: the event must carry them.
    missing = {"id", "source", "specversion", "type", "time", "data"} - set(body)
    assert not missing, f"event without {sorted(missing)}: {text[:300]}"
    try:
        parsed = JSONFormat().read(CloudEvent, text)
    except Exception as exc:  # the SDK's validation error lists every bad attribute
        raise AssertionError(f"the CloudEvents SDK rejects {text[:300]}: {exc}") from exc
    assert parsed.get_datacontenttype() == "application/json", body
    time = parsed.get_time()
    assert time is not None, body
    assert time.tzinfo is not None, body
    name = event_name(parsed.get_type())
    check_absolute_uri(parsed.get_source())
    dataschema = parsed.get_dataschema()
    assert dataschema, f"{name} event without dataschema"
    check_absolute_uri(dataschema, web=True)
    data = body["data"]
    errors = data_errors(name, data, dataschema)
    assert not errors, f"{name} data does not match {dataschema}: {errors}"
    assert parsed.get_subject() == expected_subject(name, data), (name, parsed.get_subject())
    return body
