"""shared/settings.py: defaults, parsing of every setting, and rejection naming the setting."""

from __future__ import annotations

import pytest

from shared.errors import SettingsError
from shared.settings import (
    DEFAULT_ARM_API_VERSION,
    DEFAULT_ARM_ENDPOINT,
    ArmSettings,
    PollSettings,
    QueueNames,
    Settings,
)


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.storage_connection == "AzureWebJobsStorage"
    assert settings.ledger_table == "rpcopyjobs"
    assert settings.http_auth_level == "function"
    assert (
        settings.event_identity.source == "http://localhost/"
    )  # tests/unit/test_event_settings.py
    assert settings.extra_regions == frozenset()
    assert settings.stage_max_attempts == 6
    assert settings.stage_retry_base_seconds == 5.0
    assert settings.max_throttle_waits == 48
    assert settings.rules_table == "rpcopyrules"
    assert settings.copy_puts_per_window == 3
    assert settings.copy_put_window_seconds == 3600.0
    assert settings.queues == QueueNames()
    assert settings.queues.stages() == (
        "rpcopy-ensure-target",
        "rpcopy-start-copy",
        "rpcopy-poll",
        "rpcopy-finish",
        "rpcopy-rerun",
        "rpcopy-drill",
    )
    assert settings.queues.events == "copy-events"
    assert settings.arm == ArmSettings()
    assert settings.arm.endpoint == DEFAULT_ARM_ENDPOINT == "https://management.azure.com"
    assert settings.arm.api_version == DEFAULT_ARM_API_VERSION
    assert DEFAULT_ARM_API_VERSION >= "2022-03-01"
    assert settings.arm.credential == "default"
    assert settings.arm.static_token is None
    assert settings.arm.scope == "https://management.azure.com/.default"
    assert settings.poll == PollSettings()
    assert settings.poll.min_seconds <= settings.poll.initial_seconds <= settings.poll.max_seconds
    assert settings.poll.copy_timeout_seconds > 14 * 24 * 3600


def test_blank_values_mean_default() -> None:
    blank = {name: "   " for name in _ALL_SETTINGS}
    assert Settings.from_env(blank) == Settings()


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TABLE", "fromosenviron")
    assert Settings.from_env().ledger_table == "fromosenviron"


# (env name, raw value, how to read the parsed value, expected)
_PARSED = [
    ("STORAGE_CONNECTION", "MyStorage", lambda s: s.storage_connection, "MyStorage"),
    ("LEDGER_TABLE", "Jobs2", lambda s: s.ledger_table, "Jobs2"),
    ("HTTP_AUTH_LEVEL", "ANONYMOUS", lambda s: s.http_auth_level, "anonymous"),
    ("HTTP_AUTH_LEVEL", "function", lambda s: s.http_auth_level, "function"),
    ("EVENT_SOURCE", "urn:my:source", lambda s: s.event_identity.source, "urn:my:source"),
    (
        "EXTRA_REGIONS",
        "NewRegion1, otherregion  third",
        lambda s: s.extra_regions,
        frozenset({"newregion1", "otherregion", "third"}),
    ),
    ("STAGE_MAX_ATTEMPTS", "3", lambda s: s.stage_max_attempts, 3),
    ("STAGE_RETRY_BASE_SECONDS", "0.5", lambda s: s.stage_retry_base_seconds, 0.5),
    ("MAX_THROTTLE_WAITS", " 7 ", lambda s: s.max_throttle_waits, 7),
    ("QUEUE_ENSURE_TARGET", "q-ensure", lambda s: s.queues.ensure_target, "q-ensure"),
    ("QUEUE_START_COPY", "q-start", lambda s: s.queues.start_copy, "q-start"),
    ("QUEUE_POLL", "q-poll", lambda s: s.queues.poll, "q-poll"),
    ("QUEUE_FINISH", "q-finish", lambda s: s.queues.finish, "q-finish"),
    ("EVENTS_QUEUE", "q-events", lambda s: s.queues.events, "q-events"),
    ("QUEUE_POLL", "abc", lambda s: s.queues.poll, "abc"),
    ("QUEUE_POLL", "a" * 56, lambda s: s.queues.poll, "a" * 56),
    (
        "ARM_ENDPOINT",
        "https://management.usgovcloudapi.net/",
        lambda s: s.arm.endpoint,
        "https://management.usgovcloudapi.net",
    ),
    ("ARM_ENDPOINT", "http://127.0.0.1:8443", lambda s: s.arm.endpoint, "http://127.0.0.1:8443"),
    ("ARM_ENDPOINT", "http://localhost:9000", lambda s: s.arm.endpoint, "http://localhost:9000"),
    ("ARM_ENDPOINT", "http://[::1]:9000", lambda s: s.arm.endpoint, "http://[::1]:9000"),
    (
        "ARM_ENDPOINT",
        "https://arm.example:8443",
        lambda s: s.arm.endpoint,
        "https://arm.example:8443",
    ),
    ("ARM_API_VERSION", "2022-03-01", lambda s: s.arm.api_version, "2022-03-01"),
    ("ARM_API_VERSION", "2025-11-01", lambda s: s.arm.api_version, "2025-11-01"),
    ("ARM_API_VERSION", "2024-07-01-preview", lambda s: s.arm.api_version, "2024-07-01-preview"),
    ("ARM_MANAGED_IDENTITY_CLIENT_ID", "abc", lambda s: s.arm.managed_identity_client_id, "abc"),
    ("ARM_TOKEN_SCOPE", "api://x/.default", lambda s: s.arm.scope, "api://x/.default"),
    ("ARM_TIMEOUT_SECONDS", "12.5", lambda s: s.arm.timeout_seconds, 12.5),
    ("ARM_MAX_ATTEMPTS", "2", lambda s: s.arm.max_attempts, 2),
    ("ARM_MAX_INLINE_WAIT_SECONDS", "0", lambda s: s.arm.max_inline_wait_seconds, 0.0),
    ("ARM_LRO_POLL_SECONDS", "0.01", lambda s: s.arm.lro_poll_seconds, 0.01),
    ("ARM_LRO_TIMEOUT_SECONDS", "60", lambda s: s.arm.lro_timeout_seconds, 60.0),
    ("POLL_INITIAL_SECONDS", "5", lambda s: s.poll.initial_seconds, 5.0),
    ("POLL_MIN_SECONDS", "1", lambda s: s.poll.min_seconds, 1.0),
    ("POLL_MAX_SECONDS", "604800", lambda s: s.poll.max_seconds, 604800.0),
    ("POLL_MAX_SECONDS", "30", lambda s: s.poll.max_seconds, 30.0),
    ("POLL_PROGRESS_GRANULARITY_SECONDS", "0", lambda s: s.poll.progress_granularity_seconds, 0.0),
    ("COPY_TIMEOUT_SECONDS", "3600", lambda s: s.poll.copy_timeout_seconds, 3600.0),
    ("RULES_TABLE", "Rules9", lambda s: s.rules_table, "Rules9"),
    ("COPY_PUTS_PER_WINDOW", "5", lambda s: s.copy_puts_per_window, 5),
    ("COPY_PUT_WINDOW_SECONDS", "1800", lambda s: s.copy_put_window_seconds, 1800.0),
]


@pytest.mark.parametrize(
    ("name", "raw", "read", "expected"),
    _PARSED,
    ids=[f"{p[0]}={p[1]}" for p in _PARSED],
)
def test_each_setting_is_parsed(name: str, raw: str, read, expected: object) -> None:
    assert read(Settings.from_env({name: raw})) == expected


def test_endpoint_changes_the_default_scope() -> None:
    settings = Settings.from_env({"ARM_ENDPOINT": "https://management.chinacloudapi.cn"})
    assert settings.arm.scope == "https://management.chinacloudapi.cn/.default"


def test_static_credential_with_token() -> None:
    env = {"ARM_CREDENTIAL": "Static", "ARM_STATIC_TOKEN": "emulator-secret"}
    settings = Settings.from_env(env)
    assert settings.arm.credential == "static"
    assert settings.arm.static_token == "emulator-secret"
    assert "emulator-secret" not in repr(settings.arm)


_ALL_SETTINGS = sorted(
    {p[0] for p in _PARSED} | {"ARM_CREDENTIAL", "ARM_STATIC_TOKEN", "ARM_API_VERSION"}
)

# (env, setting name the message must contain)
_INVALID: list[tuple[dict[str, str], str]] = [
    # numbers
    ({"ARM_TIMEOUT_SECONDS": "ten"}, "ARM_TIMEOUT_SECONDS"),
    ({"ARM_TIMEOUT_SECONDS": "0.5"}, "ARM_TIMEOUT_SECONDS"),
    ({"ARM_TIMEOUT_SECONDS": "inf"}, "ARM_TIMEOUT_SECONDS"),
    ({"ARM_MAX_ATTEMPTS": "0"}, "ARM_MAX_ATTEMPTS"),
    ({"ARM_MAX_ATTEMPTS": "2.5"}, "ARM_MAX_ATTEMPTS"),
    ({"ARM_MAX_ATTEMPTS": "five"}, "ARM_MAX_ATTEMPTS"),
    ({"ARM_MAX_INLINE_WAIT_SECONDS": "-1"}, "ARM_MAX_INLINE_WAIT_SECONDS"),
    ({"ARM_MAX_INLINE_WAIT_SECONDS": "nan"}, "ARM_MAX_INLINE_WAIT_SECONDS"),
    ({"ARM_LRO_POLL_SECONDS": "0"}, "ARM_LRO_POLL_SECONDS"),
    ({"ARM_LRO_TIMEOUT_SECONDS": "0.1"}, "ARM_LRO_TIMEOUT_SECONDS"),
    ({"POLL_INITIAL_SECONDS": "-5"}, "POLL_INITIAL_SECONDS"),
    ({"POLL_INITIAL_SECONDS": "1e400"}, "POLL_INITIAL_SECONDS"),
    ({"POLL_MIN_SECONDS": "x"}, "POLL_MIN_SECONDS"),
    ({"POLL_MIN_SECONDS": "nan"}, "POLL_MIN_SECONDS"),
    ({"POLL_MAX_SECONDS": "0"}, "POLL_MAX_SECONDS"),
    ({"POLL_MAX_SECONDS": "NaN"}, "POLL_MAX_SECONDS"),
    ({"POLL_MAX_SECONDS": "-inf"}, "POLL_MAX_SECONDS"),
    ({"POLL_PROGRESS_GRANULARITY_SECONDS": "10m"}, "POLL_PROGRESS_GRANULARITY_SECONDS"),
    ({"COPY_TIMEOUT_SECONDS": "0"}, "COPY_TIMEOUT_SECONDS"),
    ({"COPY_TIMEOUT_SECONDS": "nan"}, "COPY_TIMEOUT_SECONDS"),
    ({"STAGE_MAX_ATTEMPTS": "0"}, "STAGE_MAX_ATTEMPTS"),
    ({"STAGE_RETRY_BASE_SECONDS": "-0.1"}, "STAGE_RETRY_BASE_SECONDS"),
    ({"MAX_THROTTLE_WAITS": "many"}, "MAX_THROTTLE_WAITS"),
    # choices
    ({"ARM_CREDENTIAL": "password"}, "ARM_CREDENTIAL"),
    ({"HTTP_AUTH_LEVEL": "admin"}, "HTTP_AUTH_LEVEL"),
    # the ARM endpoint
    ({"ARM_ENDPOINT": "https://management.azure.com/subscriptions"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://management.azure.com/x/"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://management.azure.com?x=1"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://management.azure.com#frag"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://user:secret@management.azure.com"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://management.azure.com:99999"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://management.azure.com:port"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "management.azure.com"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "ftp://management.azure.com"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "https://"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "http://management.azure.com"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "http://10.0.0.5:8080"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "http://localhost.example.com"}, "ARM_ENDPOINT"),
    ({"ARM_ENDPOINT": "http://127.0.0.1.nip.io"}, "ARM_ENDPOINT"),
    # credentials
    ({"ARM_CREDENTIAL": "static"}, "ARM_STATIC_TOKEN"),
    ({"ARM_CREDENTIAL": "static", "ARM_STATIC_TOKEN": "   "}, "ARM_STATIC_TOKEN"),
    # api version
    ({"ARM_API_VERSION": "2021-11-01"}, "ARM_API_VERSION"),
    ({"ARM_API_VERSION": "2022-02-28"}, "ARM_API_VERSION"),
    ({"ARM_API_VERSION": "2021-03-01"}, "ARM_API_VERSION"),
    ({"ARM_API_VERSION": "latest"}, "ARM_API_VERSION"),
    ({"ARM_API_VERSION": "2025-4-1"}, "ARM_API_VERSION"),
    # queue names
    ({"QUEUE_POLL": "ab"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "a" * 57}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "Poll"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "-poll"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "poll-"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "po--ll"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "po_ll"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "po ll"}, "QUEUE_POLL"),
    ({"QUEUE_POLL": "qüeue"}, "QUEUE_POLL"),
    ({"QUEUE_ENSURE_TARGET": "x.y.z"}, "QUEUE_ENSURE_TARGET"),
    ({"QUEUE_START_COPY": "START"}, "QUEUE_START_COPY"),
    ({"QUEUE_FINISH": "f"}, "QUEUE_FINISH"),
    ({"EVENTS_QUEUE": "events!"}, "EVENTS_QUEUE"),
    ({"QUEUE_POLL": "same-queue", "QUEUE_FINISH": "same-queue"}, "EVENTS_QUEUE"),
    ({"EVENTS_QUEUE": "rpcopy-poll"}, "EVENTS_QUEUE"),
    # table
    ({"LEDGER_TABLE": "ab"}, "LEDGER_TABLE"),
    ({"LEDGER_TABLE": "1jobs"}, "LEDGER_TABLE"),
    ({"LEDGER_TABLE": "rp-jobs"}, "LEDGER_TABLE"),
    ({"LEDGER_TABLE": "a" * 64}, "LEDGER_TABLE"),
    ({"LEDGER_TABLE": "jöbs"}, "LEDGER_TABLE"),
    ({"RULES_TABLE": "r-u"}, "RULES_TABLE"),
    ({"RULES_TABLE": "rpcopyjobs"}, "RULES_TABLE"),
    ({"LEDGER_TABLE": "shared1", "RULES_TABLE": "Shared1"}, "RULES_TABLE"),
    # copy PUT budget
    ({"COPY_PUTS_PER_WINDOW": "0"}, "COPY_PUTS_PER_WINDOW"),
    ({"COPY_PUTS_PER_WINDOW": "three"}, "COPY_PUTS_PER_WINDOW"),
    ({"COPY_PUT_WINDOW_SECONDS": "0.5"}, "COPY_PUT_WINDOW_SECONDS"),
    ({"COPY_PUT_WINDOW_SECONDS": "inf"}, "COPY_PUT_WINDOW_SECONDS"),
    # poll bounds
    ({"POLL_MIN_SECONDS": "100", "POLL_MAX_SECONDS": "50"}, "POLL_MIN_SECONDS"),
    ({"POLL_MAX_SECONDS": "604801"}, "POLL_MAX_SECONDS"),
    ({"POLL_MAX_SECONDS": str(8 * 24 * 3600)}, "POLL_MAX_SECONDS"),
    # extra regions
    ({"EXTRA_REGIONS": "east-us"}, "EXTRA_REGIONS"),
    ({"EXTRA_REGIONS": "newregion, bad_region"}, "EXTRA_REGIONS"),
]


@pytest.mark.parametrize(
    ("env", "setting"),
    _INVALID,
    ids=[",".join(f"{k}={v}" for k, v in e.items()) for e, _ in _INVALID],
)
def test_invalid_values_are_rejected_naming_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert setting in str(info.value)


def test_duplicate_queue_message_says_what_to_fix() -> None:
    with pytest.raises(SettingsError, match="different names"):
        Settings.from_env({"QUEUE_START_COPY": "rpcopy-poll"})


def test_api_version_message_names_the_minimum() -> None:
    with pytest.raises(SettingsError, match="2022-03-01"):
        Settings.from_env({"ARM_API_VERSION": "2021-11-01"})


def test_plain_http_message_explains_loopback_only() -> None:
    with pytest.raises(SettingsError, match="loopback"):
        Settings.from_env({"ARM_ENDPOINT": "http://arm.internal"})


def test_static_token_never_in_repr() -> None:
    arm = ArmSettings(credential="static", static_token="s3cr3t-token")
    assert "s3cr3t-token" not in repr(arm)
    assert "s3cr3t-token" not in repr(Settings(arm=arm))


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)
