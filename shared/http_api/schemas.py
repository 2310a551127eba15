"""The JSON Schemas of the events' data (schemas/events/ in the repository), served at the
address each event's `dataschema` names: GET /api/schemas/events/{name}.

`<event name>.json` is the schema of one event type; `*.defs.json` holds definitions they share
(relative `$ref`s, which resolve against the same base, so they are served too).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from shared.http_api.problems import ApiResponse, problem

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"
DEFS_SUFFIX = ".defs.json"
SCHEMA_JSON = "application/schema+json"


@cache
def schema_documents() -> dict[str, Any]:
    """Every schema file by its name, read once per worker."""
    return {p.name: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.json"))}


def event_schema_names() -> set[str]:
    """The event names that have a schema (copy.started, ...)."""
    return {n.removesuffix(".json") for n in schema_documents() if not n.endswith(DEFS_SUFFIX)}


def get_event_schema(name: str) -> ApiResponse:
    # Only names listed from the folder are served: no path ever comes from the request.
    document = schema_documents().get(name)
    if document is None:
        return problem(
            404,
            "No such schema",
            f"{name!r} is not one of {', '.join(schema_documents())}",
        )
    return ApiResponse(200, document, {"Cache-Control": "public, max-age=3600"}, SCHEMA_JSON)
