"""Reading JSON that comes from outside the app, within bounds: size, depth, encoding, keys.

Every parser of outside input (HTTP bodies, queue messages, Event Grid deliveries) reads JSON
through `load_json`, so a huge body, nesting deeper than any real document, invalid UTF-8 or a
key given twice becomes one clear `InvalidJson` instead of a 500, a RecursionError or a
silently dropped duplicate. The limits are settings (MAX_REQUEST_BYTES, MAX_JSON_DEPTH).
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import InputError

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_DEPTH = 32


class InvalidJson(InputError):
    """Input that is not JSON we will read; the message says which rule it broke."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise InvalidJson(f"the key {key!r} appears more than once in one object")
        document[key] = value
    return document


def depth_of(value: Any, limit: int) -> int:
    """Nesting depth of a parsed document, counted without recursion (stops past `limit`)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _nesting_bound(text: str, limit: int) -> bool:
    """Does the text nest brackets deeper than `limit`? A cheap pre-check, so the parser is
    never handed a document deep enough to exhaust its recursion (brackets inside strings
    count too, which only errs on the strict side for pathological strings)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def load_json(
    data: bytes | str,
    *,
    what: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """Parse `data` (UTF-8 when bytes); InvalidJson names `what` and the rule it broke."""
    size = len(data.encode("utf-8", "replace") if isinstance(data, str) else data)
    if size > max_bytes:
        raise InvalidJson(f"{what} is {size} bytes; at most {max_bytes} are accepted")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJson(
                f"{what} is not valid JSON: it is not UTF-8 text (byte {exc.start})"
            ) from None
    else:
        text = data
    if _nesting_bound(text, max_depth):
        raise InvalidJson(f"{what} nests deeper than {max_depth} levels")
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except InvalidJson as exc:
        raise InvalidJson(f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidJson(f"{what} is not valid JSON: {exc}") from None
    if depth_of(document, max_depth) > max_depth:  # belt and braces: the pre-check is textual
        raise InvalidJson(f"{what} nests deeper than {max_depth} levels")
    return document
