"""HTTP responses of the API, and the one place an error becomes an HTTP status.

Client mistakes are 4xx `application/problem+json` (RFC 9457) bodies that say what was wrong and
how to fix it; Azure trouble is 502/503 (with Retry-After where trying again can help).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from shared.errors import (
    ArmError,
    InvalidCursor,
    InvalidRequest,
    InvalidResourceId,
    JobConflict,
    RpcopyError,
    SourceProblem,
    StoreError,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    def text(self) -> str:
        if isinstance(self.body, str):  # a page, not JSON (the status page's HTML)
            return self.body
        return json.dumps(self.body, indent=None, separators=(",", ":"))


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return ApiResponse(status, body, headers or {}, PROBLEM_JSON)


def _retry_after(seconds: float | None, default: int = 30) -> dict[str, str]:
    return {"Retry-After": str(int(seconds or default))}


def problem_for(exc: RpcopyError) -> ApiResponse:
    """The response for an error raised while answering a request (the only such mapping)."""
    match exc:
        case InvalidRequest():
            return problem(400, exc.title, exc.detail, errors=exc.errors)
        case InvalidCursor():
            return problem(400, "Invalid cursor", f"{exc}; use the nextLink of a previous page")
        case InvalidResourceId():
            return problem(400, "Invalid resource id", str(exc))
        case SourceProblem():
            return problem(422, exc.title, exc.detail)
        case JobConflict():
            return problem(409, exc.title, exc.detail)
        case ArmError() if exc.transient:
            return problem(
                503,
                "Azure Resource Manager is unavailable",
                f"{exc}; try again shortly",
                headers=_retry_after(exc.retry_after),
            )
        case ArmError():
            return problem(502, "Azure Resource Manager refused a request", str(exc))
        case StoreError():
            log.warning("storage trouble while answering a request: %s", exc)
            return problem(
                503, "Storage is busy", f"{exc}; try again shortly", headers=_retry_after(None, 5)
            )
    log.error("unmapped error while answering a request: %r", exc)
    return problem(500, "Internal error", "the request could not be completed; see the app logs")
