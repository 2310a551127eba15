"""App settings (environment + local.settings.json), `%SETTING%` expressions and host.json."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.errors import StartupError

# The real host's defaults (Storage queues extension v5, Functions v4 on Flex/Premium).
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_DEQUEUE_COUNT = 5
DEFAULT_VISIBILITY_TIMEOUT = 0.0
DEFAULT_MAX_POLLING_INTERVAL = 60.0
MIN_POLLING_INTERVAL = 0.1  # the extension's floor; it rejects smaller maxPollingInterval
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0  # Flex Consumption / Premium default
MESSAGE_ENCODINGS = ("base64", "none")

_EXPRESSION = re.compile(r"%([^%\s]+)%")
_TIMESPAN = re.compile(
    r"^(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}(?:\.\d+)?))?$"
)


class AppSettings(Mapping[str, str]):
    """What the app sees as settings: environment variables, like Azure's app settings.

    `local.settings.json` Values fill in only what the environment does not set (env wins),
    as Core Tools does; `sources` remembers where each came from for the startup summary.
    """

    def __init__(self, values: Mapping[str, str], sources: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.sources = dict(sources)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def flag(self, key: str) -> bool:
        return self._values.get(key, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class LocalSettings:
    values: dict[str, str] = field(default_factory=dict)
    local_http_port: int | None = None
    path: Path | None = None


def read_local_settings(app_dir: Path, settings_file: Path | None) -> LocalSettings:
    """The `Values` (and `Host.LocalHttpPort`) of --settings or DIR/local.settings.json."""
    path = settings_file or app_dir / "local.settings.json"
    if not path.exists():
        if settings_file is not None:
            raise StartupError(f"settings file {path} does not exist")
        return LocalSettings()
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise StartupError(f"{path} must hold a JSON object")
    if doc.get("IsEncrypted"):
        raise StartupError(f"{path} is encrypted; devhost reads only plain local settings")
    values = doc.get("Values") or {}
    if not isinstance(values, dict):
        raise StartupError(f"{path}: 'Values' must be an object of strings")
    port = (doc.get("Host") or {}).get("LocalHttpPort")
    return LocalSettings(
        values={str(k): "" if v is None else str(v) for k, v in values.items()},
        local_http_port=int(port) if port else None,
        path=path,
    )


def build_app_settings(local: LocalSettings, environ: Mapping[str, str]) -> AppSettings:
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, value in local.values.items():
        values[key] = value
        sources[key] = str(local.path)
    for key, value in environ.items():
        values[key] = value
        sources[key] = "environment"
    return AppSettings(values, sources)


def export_to_environment(local: LocalSettings, environ: dict[str, str] | os._Environ[str]) -> None:
    """Core Tools hands local Values to the worker as env vars; the app reads them there."""
    for key, value in local.values.items():
        environ.setdefault(key, value)


def resolve_expression(text: str, settings: Mapping[str, str], *, where: str) -> str:
    """Replace every `%NAME%` with the app setting NAME; a missing one stops startup."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise StartupError(
                f"{where}: '%{name}%' does not resolve to a value: app setting '{name}' is not "
                "set (add it to the environment or to Values in local.settings.json)"
            )
        return settings[name]

    return _EXPRESSION.sub(lookup, text)


def parse_timespan(value: Any, *, what: str, number_unit: float = 1.0) -> float:
    """Seconds from a .NET TimeSpan string (`[d.]hh:mm[:ss[.fff]]`) or a bare number.

    `number_unit` is the unit of bare numbers in seconds (maxPollingInterval used milliseconds).
    """
    if isinstance(value, bool):
        raise StartupError(f"host.json: {what} must be a TimeSpan like '00:00:30', not {value!r}")
    if isinstance(value, (int, float)):
        return float(value) * number_unit
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text) * number_unit
        match = _TIMESPAN.match(text)
        if match:
            days = int(match["d"] or 0)
            seconds = float(match["s"] or 0)
            return days * 86400 + int(match["h"]) * 3600 + int(match["m"]) * 60 + seconds
    raise StartupError(f"host.json: {what} must be a TimeSpan like '00:00:30', not {value!r}")


@dataclass(frozen=True)
class QueuesConfig:
    """`extensions.queues` in host.json, with the extension's defaults."""

    batch_size: int = DEFAULT_BATCH_SIZE
    new_batch_threshold: int = DEFAULT_BATCH_SIZE // 2
    max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT
    max_polling_interval: float = DEFAULT_MAX_POLLING_INTERVAL
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = DEFAULT_ROUTE_PREFIX
    queues: QueuesConfig = field(default_factory=QueuesConfig)
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT


def _int_option(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StartupError(
            f"host.json: extensions.queues.{key} must be an integer in [{low}, {high}]"
        )
    return value


def parse_queues_config(raw: Mapping[str, Any]) -> QueuesConfig:
    batch_size = _int_option(raw, "batchSize", DEFAULT_BATCH_SIZE, 1, 32)
    # The extension computes batchSize/2 when newBatchThreshold is not set.
    threshold = _int_option(raw, "newBatchThreshold", batch_size // 2, 0, 10_000)
    max_dequeue = _int_option(raw, "maxDequeueCount", DEFAULT_MAX_DEQUEUE_COUNT, 1, 10_000)
    visibility = parse_timespan(
        raw.get("visibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT), what="visibilityTimeout"
    )
    polling = parse_timespan(
        raw.get("maxPollingInterval", DEFAULT_MAX_POLLING_INTERVAL * 1000),
        what="maxPollingInterval",
        number_unit=0.001,
    )
    if polling < MIN_POLLING_INTERVAL:
        raise StartupError("host.json: extensions.queues.maxPollingInterval must be >= 100 ms")
    if visibility < 0 or visibility > 7 * 86400:
        raise StartupError("host.json: extensions.queues.visibilityTimeout must be 0..7 days")
    encoding = str(raw.get("messageEncoding", "base64")).lower()
    if encoding not in MESSAGE_ENCODINGS:
        raise StartupError("host.json: extensions.queues.messageEncoding must be base64 or none")
    return QueuesConfig(
        batch_size=batch_size,
        new_batch_threshold=threshold,
        max_dequeue_count=max_dequeue,
        visibility_timeout=visibility,
        max_polling_interval=polling,
        message_encoding=encoding,
    )


def parse_host_config(doc: Mapping[str, Any]) -> HostConfig:
    extensions = doc.get("extensions") or {}
    http = extensions.get("http") or {}
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    if not isinstance(prefix, str):
        raise StartupError("host.json: extensions.http.routePrefix must be a string")
    timeout_raw = doc.get("functionTimeout")
    timeout: float | None = DEFAULT_FUNCTION_TIMEOUT
    if timeout_raw is not None:
        # "-1" means unbounded on Premium/Dedicated plans.
        timeout = (
            None
            if str(timeout_raw).strip() == "-1"
            else parse_timespan(timeout_raw, what="functionTimeout")
        )
    return HostConfig(
        route_prefix=prefix.strip("/"),
        queues=parse_queues_config(extensions.get("queues") or {}),
        function_timeout=timeout,
    )


HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def apply_host_overrides(doc: dict[str, Any], settings: Mapping[str, str]) -> dict[str, Any]:
    """App settings named `AzureFunctionsJobHost__a__b` override host.json's `a.b`, as the
    real host does (e.g. `AzureFunctionsJobHost__extensions__queues__visibilityTimeout`)."""
    for key, raw in settings.items():
        if not key.startswith(HOST_OVERRIDE_PREFIX):
            continue
        path = [p for p in key[len(HOST_OVERRIDE_PREFIX) :].split("__") if p]
        if not path:
            continue
        try:
            value: Any = json.loads(raw)  # numbers and booleans keep their type
        except ValueError:
            value = raw
        node = doc
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return doc


def load_host_config(app_dir: Path, settings: Mapping[str, str] | None = None) -> HostConfig:
    path = app_dir / "host.json"
    if not path.exists():
        raise StartupError(f"{path} not found: a function app needs a host.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise StartupError(f"{path} must hold a JSON object")
    version = doc.get("version")
    if version is not None and version != "2.0":
        raise StartupError(f"{path}: version must be '2.0' (Functions v4), not {version!r}")
    return parse_host_config(apply_host_overrides(doc, settings or {}))
