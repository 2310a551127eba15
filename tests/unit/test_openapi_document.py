"""The OpenAPI document is valid OpenAPI 3.1, built from the response models, and the status
page loads nothing from anywhere and is served with a strict Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from shared.http_api import dashboard, models, openapi


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the first problem
    json.dumps(document)  # served as JSON as is


def test_every_component_schema_is_valid_json_schema_2020_12() -> None:
    schemas_ = openapi.document()["components"]["schemas"]
    assert {"JobView", "Problem", "DashboardData", "ProtectionResponse"} <= set(schemas_)
    for schema in schemas_.values():
        Draft202012Validator.check_schema(schema)


def test_responses_come_from_the_models_the_views_use() -> None:
    paths = openapi.document()["paths"]
    job = paths["/api/copies/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert job["schema"] == {"$ref": "#/components/schemas/JobView"}
    schema = openapi.document()["components"]["schemas"]["JobView"]
    assert set(schema["properties"]) == {f.alias for f in models.JobView.model_fields.values()}
    assert schema["additionalProperties"] is False
    post = paths["/api/copies"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CopyRequestBody"
    )


def test_every_error_answer_is_problem_json_and_every_keyed_call_documents_401() -> None:
    for path, methods in openapi.document()["paths"].items():
        for method, op in methods.items():
            for status, answer in op["responses"].items():
                if int(status) >= 400 and status != "401":
                    (content_type,) = answer["content"]
                    assert content_type == "application/problem+json", (path, method, status)
            keyed = op["security"] == [{"functionKey": []}]
            assert keyed == ("401" in op["responses"]), (path, method)


def test_only_the_page_shell_is_anonymous_and_the_setting_turns_keys_off() -> None:
    keyed = openapi.document(True)
    anonymous = [
        op["operationId"]
        for methods in keyed["paths"].values()
        for op in methods.values()
        if not op["security"]
    ]
    assert anonymous == ["dashboard_page"]
    open_doc = openapi.document(False)
    assert all(
        op["security"] == [] for methods in open_doc["paths"].values() for op in methods.values()
    )
    validate(open_doc)


def test_a_view_that_sends_an_undocumented_field_fails() -> None:
    with pytest.raises(ValueError, match="extra"):
        models.shape(models.PreflightResponse, {"passed": True, "checks": [], "secret": 1})


# -- the status page -------------------------------------------------------------------------------


class _Resources(HTMLParser):
    """Every attribute that makes a browser fetch something, and every inline handler."""

    def __init__(self) -> None:
        super().__init__()
        self.fetching: list[tuple[str, str, str]] = []
        self.handlers: list[str] = []
        self.styled: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            # `data:` is inline (the empty icon that keeps the browser from asking for one).
            fetches = name in ("src", "href", "action", "srcset", "poster", "data", "background")
            if fetches and not (value or "").startswith("data:"):
                self.fetching.append((tag, name, value or ""))
            if name.startswith("on"):
                self.handlers.append(f"{tag}.{name}")
            if name == "style":
                self.styled.append(tag)
        if tag in ("iframe", "object", "embed", "frame"):
            self.fetching.append((tag, "", ""))


def test_the_page_loads_nothing_from_anywhere() -> None:
    html, _ = dashboard.page()
    parser = _Resources()
    parser.feed(html)
    assert parser.fetching == [], "the page must not load any resource"
    assert parser.handlers == [], "inline handlers would need 'unsafe-inline'"
    assert parser.styled == [], "style attributes would need 'unsafe-inline'"
    # No URL anywhere, except the SVG namespace name (an identifier, never fetched).
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert "@import" not in html
    assert "url(" not in html
    # The key goes in a header; the page never builds a URL with it.
    assert "code=" not in html
    assert "x-functions-key" in html
    assert "sessionStorage" in html


def test_the_csp_allows_exactly_the_pages_own_script_and_style() -> None:
    html, headers = dashboard.page()
    csp = dict(
        ([*part.split(" ", 1), ""])[:2] for part in headers["Content-Security-Policy"].split("; ")
    )
    assert csp["default-src"] == "'none'"
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", html, flags=re.S)

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert csp["script-src"] == digest(script)
    assert csp["style-src"] == digest(style)
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    # Every <script> is inline (a src= would be refused by the CSP anyway).
    assert html.count("<script") == 1


@pytest.mark.parametrize(
    ("raw", "hours"),
    [(None, 24.0), ("", 24.0), ("6", 6.0), ("0.5", 0.5), ("336", 336.0)],
)
def test_window_hours_accepts(raw: str | None, hours: float) -> None:
    assert dashboard.window_hours(raw) == hours


@pytest.mark.parametrize("raw", ["0", "-1", "337", "abc", "nan", "inf", "1e400"])
def test_window_hours_refuses(raw: str) -> None:
    assert dashboard.window_hours(raw) is None
