"""The app's HTTP API as the command line calls it: one httpx client, the key in a header, and
every error answer turned into an `ApiProblem` (the problem+json title and detail)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from rpcopy_cli.config import Target

USER_AGENT = "rpcopy-cli/0.1"


@dataclass
class ApiProblem(Exception):
    """The app answered an error (or could not be reached): what it said, in its words."""

    title: str
    detail: str
    status: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}" if self.detail else self.title


def problem_from(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("title"), str):
        errors = body.get("errors")
        return ApiProblem(
            body["title"],
            str(body.get("detail") or ""),
            response.status_code,
            [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else [],
        )
    text = response.text.strip()[:300]
    reason = response.reason_phrase or "error"
    return ApiProblem(
        f"HTTP {response.status_code} {reason}",
        text or f"{response.request.method} {response.request.url.path} gave no detail",
        response.status_code,
    )


class Api:
    def __init__(
        self, target: Target, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if target.key:
            headers["x-functions-key"] = target.key
        self.target = target
        self.http = httpx.Client(
            base_url=target.endpoint,
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # never hand the key to wherever a redirect points
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        expect: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        try:
            response = self.http.request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise ApiProblem(
                "The app did not answer in time", f"{method} {self.target.endpoint}{path}"
            ) from None
        except httpx.TransportError as exc:
            raise ApiProblem(
                "Cannot reach the app", f"{self.target.endpoint}: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code not in expect:
            raise problem_from(response)
        return response

    def get(self, path: str, **params: str) -> Any:
        return self.call("GET", path, params=params or None).json()
