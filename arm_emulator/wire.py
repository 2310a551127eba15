"""What an ARM handler takes and gives (`ArmRequest`, `Reply`), and readers of request bodies that
refuse a wrong shape with the error ARM gives (`InvalidRequestContent`, `InvalidParameter`, ...).

Every handler has the signature `handler(core, route, request) -> Reply`; `arm_routes` parses the
HTTP request into an `ArmRequest` and renders the `Reply`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import errors, ids
from .events import RequestContext


@dataclass(slots=True)
class ArmRequest:
    """What an ARM handler needs from the HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    base_url: str
    api_version: str
    context: RequestContext
    body: Any = None  # parsed JSON (None when empty)
    token: str = ""  # the bearer token the caller sent (whose permissions to answer)


@dataclass(slots=True)
class Reply:
    status: int
    body: Any = None  # dict/list to serialise, bytes already serialised, or None
    headers: dict[str, str] = field(default_factory=dict)


def _json_path(path: str) -> str:
    """`restorePoint.properties.x` -> `properties.x`: ARM names the path below the parameter."""
    return path.split(".", 1)[-1]


def read_object(value: Any, path: str, *, required: bool = False) -> dict[str, Any]:
    if value is None:
        if required:
            raise errors.missing_parameter(path)
        return {}
    if not isinstance(value, dict):
        raise errors.invalid_content(
            f"Error converting value to type 'object'. Path '{_json_path(path)}'"
        )
    return value


def read_string(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.invalid_content(
            f"Error converting value {value!r} to type 'System.String'. Path '{_json_path(path)}'"
        )
    return value


def read_bool(value: Any, path: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise errors.invalid_content(f"Could not convert to boolean. Path '{_json_path(path)}'")
    return value


def read_int(value: Any, path: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise errors.invalid_content(f"Could not convert to integer. Path '{_json_path(path)}'")
    return value


def read_location(body: dict[str, Any], resource_type: str) -> str:
    raw = body.get("location")
    if raw is None or raw == "":
        raise errors.location_required()
    if not isinstance(raw, str):
        raise errors.invalid_content(
            "Error converting value to type 'System.String'. Path 'location'"
        )
    location = ids.normalize_region(raw)
    if location is None:
        raise errors.location_not_available(raw, resource_type)
    return location


def read_tracked(value: Any, param: str, resource_type: str) -> tuple[dict[str, Any], str, Any]:
    """A tracked resource's PUT body: the object, its `location` and its `tags`."""
    body = read_object(value, param)
    return body, read_location(body, resource_type), read_tags(body)


def read_tags(body: dict[str, Any]) -> dict[str, str] | None:
    tags = body.get("tags")
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise errors.invalid_content(
            "Error converting value to type 'System.Collections.Generic.Dictionary`2[System.String,"
            "System.String]'. Path 'tags'"
        )
    if len(tags) > 50:
        raise errors.invalid_parameter("A resource can have at most 50 tags.", target="tags")
    return dict(tags)


def read_exclude_disks(props: dict[str, Any]) -> list[str]:
    raw = props.get("excludeDisks")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.invalid_content(
            "Error converting value to type 'List`1'. Path 'properties.excludeDisks'"
        )
    out: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise errors.invalid_content(
                "Error converting value to type 'ApiEntityReference'. Path "
                f"'properties.excludeDisks[{i}]'"
            )
        value = item["id"]
        parsed = ids.parse_resource_id(value)
        if parsed is None or parsed.kind != "disk":
            raise errors.invalid_linked_id(value, f"properties.excludeDisks[{i}].id")
        out.append(value)
    return out


def read_expand(query: dict[str, str], allowed: str) -> bool:
    """`$expand=<allowed>` (case-insensitive): True; absent: False; anything else: 400."""
    expand = query.get("$expand")
    if expand is None:
        return False
    if expand.lower() != allowed.lower():
        raise errors.invalid_parameter(
            f"The value '{expand}' of parameter '$expand' is not valid. Allowed values are "
            f"'{allowed}'.",
            target="$expand",
        )
    return True
