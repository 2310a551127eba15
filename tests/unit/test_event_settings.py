"""EVENT_TYPE_PREFIX, EVENT_SOURCE and EVENT_SCHEMA_BASE: defaults from the platform's host name,
and every bad value refused at startup naming its setting."""

from __future__ import annotations

import pytest

from shared.errors import SettingsError
from shared.model.event_identity import DEFAULT_TYPE_PREFIX, EventIdentity, check_type_prefix
from shared.settings import Settings


def identity(**env: str) -> EventIdentity:
    return Settings.from_env(env).event_identity


def test_defaults_in_azure_come_from_the_host_name() -> None:
    found = identity(WEBSITE_HOSTNAME="rpcopy-prod.azurewebsites.net")
    assert found == EventIdentity(
        type_prefix=DEFAULT_TYPE_PREFIX,
        source="https://rpcopy-prod.azurewebsites.net/",
        schema_base="https://rpcopy-prod.azurewebsites.net/api/schemas/events/",
    )
    assert found.type_of("copy.failed") == "com.example.rpcopy.copy.failed"
    assert found.schema_of("copy.failed") == (
        "https://rpcopy-prod.azurewebsites.net/api/schemas/events/copy.failed.json"
    )


@pytest.mark.parametrize(
    ("host", "source"),
    [
        (None, "http://localhost/"),
        ("localhost:7071", "http://localhost:7071/"),  # what Core Tools sets locally
        ("127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("localhost.example.com", "https://localhost.example.com/"),
    ],
)
def test_loopback_hosts_get_http_everything_else_https(host: str | None, source: str) -> None:
    env = {"WEBSITE_HOSTNAME": host} if host else {}
    found = identity(**env)
    assert found.source == source
    assert found.schema_base == source + "api/schemas/events/"


def test_each_setting_overrides_its_part() -> None:
    found = identity(
        WEBSITE_HOSTNAME="app.azurewebsites.net",
        EVENT_TYPE_PREFIX="com.contoso.dr",
        EVENT_SOURCE="urn:contoso:rpcopy:prod",
        EVENT_SCHEMA_BASE="https://schemas.contoso.com/rpcopy/v1",
    )
    assert found.type_of("rpo.breached") == "com.contoso.dr.rpo.breached"
    assert found.source == "urn:contoso:rpcopy:prod"
    # a "/" is added so file names append cleanly
    assert (
        found.schema_of("rpo.breached") == "https://schemas.contoso.com/rpcopy/v1/rpo.breached.json"
    )


def test_name_of_reverses_type_of() -> None:
    found = identity(EVENT_TYPE_PREFIX="io.github.someone.rpcopy")
    assert found.name_of(found.type_of("copy.started")) == "copy.started"
    assert found.name_of("com.example.rpcopy.copy.started") is None
    assert found.name_of("io.github.someone.rpcopyx.copy.started") is None


@pytest.mark.parametrize(
    "prefix", ["com.example.rpcopy", "net.rpcopy", "io.github.my-org.rpcopy", "de.firma1.dr"]
)
def test_reverse_dns_prefixes_accepted(prefix: str) -> None:
    assert check_type_prefix(prefix) == prefix


_INVALID = [
    ({"EVENT_TYPE_PREFIX": "rpcopy"}, "EVENT_TYPE_PREFIX"),  # one label is not reverse DNS
    ({"EVENT_TYPE_PREFIX": "Com.Example.rpcopy"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "com.example.rpcopy."}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": ".com.example"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "com..example"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "com.-example"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "com.example-"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "123.example"}, "EVENT_TYPE_PREFIX"),  # a TLD is letters
    ({"EVENT_TYPE_PREFIX": "com.exa_mple"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "com.example/rpcopy"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "com." + "a" * 64}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_TYPE_PREFIX": "https://example.com"}, "EVENT_TYPE_PREFIX"),
    ({"EVENT_SOURCE": "/rpcopy"}, "EVENT_SOURCE"),  # relative: the old default
    ({"EVENT_SOURCE": "rpcopy"}, "EVENT_SOURCE"),
    ({"EVENT_SOURCE": "urn:"}, "EVENT_SOURCE"),
    ({"EVENT_SOURCE": "https://"}, "EVENT_SOURCE"),
    ({"EVENT_SOURCE": "https:///path"}, "EVENT_SOURCE"),
    ({"EVENT_SOURCE": "https://host:99999/"}, "EVENT_SOURCE"),
    ({"EVENT_SOURCE": "https://a b/"}, "EVENT_SOURCE"),
    ({"EVENT_SOURCE": "1http://host/"}, "EVENT_SOURCE"),
    ({"EVENT_SCHEMA_BASE": "urn:contoso:schemas"}, "EVENT_SCHEMA_BASE"),  # not fetchable
    ({"EVENT_SCHEMA_BASE": "/api/schemas/events/"}, "EVENT_SCHEMA_BASE"),
    ({"EVENT_SCHEMA_BASE": "ftp://host/schemas/"}, "EVENT_SCHEMA_BASE"),
    ({"EVENT_SCHEMA_BASE": "https://host/schemas/?v=1"}, "EVENT_SCHEMA_BASE"),
    ({"EVENT_SCHEMA_BASE": "https://host/schemas/#x"}, "EVENT_SCHEMA_BASE"),
    ({"WEBSITE_HOSTNAME": "a b"}, "WEBSITE_HOSTNAME"),
    ({"WEBSITE_HOSTNAME": "https://app.azurewebsites.net"}, "WEBSITE_HOSTNAME"),
    ({"WEBSITE_HOSTNAME": "app/path"}, "WEBSITE_HOSTNAME"),
]


@pytest.mark.parametrize(("env", "setting"), _INVALID, ids=[str(e) for e, _ in _INVALID])
def test_bad_values_are_refused_naming_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError, match=f"setting {setting}"):
        Settings.from_env(env)


def test_blank_means_default() -> None:
    blank = {"EVENT_TYPE_PREFIX": " ", "EVENT_SOURCE": "", "EVENT_SCHEMA_BASE": "  "}
    assert identity(**blank) == EventIdentity()
