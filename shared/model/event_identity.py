"""Who the app's CloudEvents say they are: the `type` prefix, the `source` URI and where each
event's `dataschema` lives. Pure: settings.py parses and validates the settings into one
`EventIdentity`; events.py stamps it on every event.

The one place that turns an event name (`EventType`, e.g. `copy.succeeded`) into its full
CloudEvents `type` (`{prefix}.copy.succeeded`) and its `dataschema` URI.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

# RFC 2606 reserves example.com for exactly this: a default no real organisation owns. Set
# EVENT_TYPE_PREFIX to your own reverse domain (com.contoso.rpcopy) before consumers filter on it.
DEFAULT_TYPE_PREFIX = "com.example.rpcopy"
# Set by App Service / Functions (and by Core Tools locally, as localhost:7071); not an app setting.
PLATFORM_HOST_NAME = "WEBSITE_HOSTNAME"
LOCAL_HOST = "localhost"
# host.json's http.routePrefix ("api") + the route function_app.py serves the schemas on.
SCHEMA_ROUTE = "api/schemas/events/"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Reverse DNS: a top-level domain (letters) then one or more labels, all lowercase.
_REVERSE_DNS = re.compile(rf"[a-z]{{2,63}}(?:\.{_LABEL})+")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def check_type_prefix(value: str) -> str:
    """A reverse-DNS name such as `com.contoso.rpcopy` (lowercase labels, at least two)."""
    if len(value) > 200 or not _REVERSE_DNS.fullmatch(value):
        raise ValueError(
            f"{value!r} must be a reverse-DNS name such as com.contoso.rpcopy "
            "(a top-level domain, then dot-separated lowercase labels: letters, digits, hyphens)"
        )
    return value


def check_absolute_uri(value: str, *, web: bool = False) -> str:
    """An absolute URI (RFC 3986: a scheme, then the rest); `web` asks for http(s) with a host,
    i.e. an address a consumer can fetch."""
    if any(c.isspace() or ord(c) < 0x20 for c in value) or len(value) > 2000:
        raise ValueError(f"{value!r} must be an absolute URI without spaces")
    scheme, sep, rest = value.partition(":")
    if not sep or not _SCHEME.fullmatch(scheme) or not rest:
        raise ValueError(f"{value!r} must be an absolute URI such as https://rpcopy.contoso.com/")
    if scheme.lower() in ("http", "https") or web:
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - the property raises ValueError for a port not in 0-65535
        except ValueError:
            raise ValueError(f"{value!r} has an invalid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} must be an http(s):// URI with a host name")
    return value


def app_base_url(host: str) -> str:
    """The app's own address from the platform's host name: https, or http on loopback."""
    if not _HOST.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name[:port]")
    scheme = "http" if urlsplit(f"//{host}").hostname in _LOOPBACK else "https"
    return f"{scheme}://{host}/"


def _schema_base(value: str) -> str:
    """Schema file names are appended to it, so no query or fragment."""
    check_absolute_uri(value, web=True)
    if "?" in value or "#" in value:
        raise ValueError(f"{value!r} must not have a query or fragment")
    return value


def _named(setting: str, value: str | None, check: Callable[[str], str]) -> str | None:
    """The checked value (None when unset), an error naming the setting otherwise."""
    try:
        return None if value is None else check(value)
    except ValueError as exc:
        raise ValueError(f"setting {setting}: {exc}") from None


@dataclass(frozen=True)
class EventIdentity:
    type_prefix: str = DEFAULT_TYPE_PREFIX
    source: str = app_base_url(LOCAL_HOST)
    # Ends with "/": the schema of event `name` is `{schema_base}{name}.json`.
    schema_base: str = app_base_url(LOCAL_HOST) + SCHEMA_ROUTE

    @classmethod
    def for_host(
        cls,
        host: str | None,
        *,
        type_prefix: str | None = None,
        source: str | None = None,
        schema_base: str | None = None,
    ) -> EventIdentity:
        """The identity with each unset part defaulted from the app's host name; a bad part
        raises ValueError naming the setting it came from."""
        base = _named(PLATFORM_HOST_NAME, host or LOCAL_HOST, app_base_url) or ""
        schemas = _named("EVENT_SCHEMA_BASE", schema_base, _schema_base) or base + SCHEMA_ROUTE
        return cls(
            type_prefix=_named("EVENT_TYPE_PREFIX", type_prefix, check_type_prefix)
            or DEFAULT_TYPE_PREFIX,
            source=_named("EVENT_SOURCE", source, check_absolute_uri) or base,
            schema_base=schemas if schemas.endswith("/") else schemas + "/",
        )

    def type_of(self, name: str) -> str:
        return f"{self.type_prefix}.{name}"

    def schema_of(self, name: str) -> str:
        return f"{self.schema_base}{name}.json"

    def name_of(self, event_type: str) -> str | None:
        """The event name of a full `type` this app emits, or None for any other type."""
        head = self.type_prefix + "."
        return event_type[len(head) :] if event_type.startswith(head) else None
