"""Identity-based storage connections in devhost: resolved as the real host resolves them,
and a live host whose queue trigger and outputs reach Azurite with a bearer token only
(`--oauth basic` over HTTPS, an account whose key nobody here holds)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from devhost.errors import StartupError
from devhost.storage import StorageConnection, resolve_connection
from devstack.processes import wait_until
from tests.devhost.devhost_support import DevhostProcess, base_env, start_devhost
from tests.devhost.identity_support import (
    IdentityAzurite,
    StaticCredential,
    identity_connection,
    start_identity_azurite,
    storage_token,
)

CONN = "UseDevelopmentStorage=true"
LOCAL = "https://127.0.0.1:10001/devstoreaccount1"


def resolve(settings: dict[str, str], connection: str | None = None) -> StorageConnection:
    return resolve_connection(connection, settings, "function 'f'")


# -- resolution -----------------------------------------------------------------------------


def test_the_prefixed_section_wins_as_in_the_real_host() -> None:
    settings = {"AzureWebJobsMine": CONN, "Mine__queueServiceUri": LOCAL}
    assert resolve(settings, "Mine").connection_string == CONN
    assert resolve({"Mine__queueServiceUri": LOCAL}, "Mine").queue_service_uri == LOCAL
    # A value next to children is a connection string.
    both = {"AzureWebJobsStorage": CONN, "AzureWebJobsStorage__queueServiceUri": LOCAL}
    assert not resolve(both).identity_based


@pytest.mark.parametrize(
    ("props", "uri"),
    [
        ({"queueServiceUri": LOCAL}, LOCAL),
        ({"serviceUri": LOCAL}, LOCAL),
        ({"serviceUri": "https://other.example", "queueServiceUri": LOCAL}, LOCAL),
        ({"accountName": "acct"}, "https://acct.queue.core.windows.net"),
        ({"QUEUESERVICEURI": LOCAL}, LOCAL),
    ],
)
def test_the_queue_endpoint_of_an_identity_based_connection(
    props: dict[str, str], uri: str
) -> None:
    connection = resolve({f"AzureWebJobsStorage__{k}": v for k, v in props.items()})
    assert connection.identity_based
    assert connection.queue_service_uri == uri
    assert connection.setting == "AzureWebJobsStorage"


def test_a_colon_separated_property_works_like_local_settings_json_allows() -> None:
    assert resolve({"AzureWebJobsStorage:queueServiceUri": LOCAL}).queue_service_uri == LOCAL


def test_the_credential_properties() -> None:
    base = {"S__queueServiceUri": LOCAL}
    default = resolve(base, "S")
    assert default.credential is None
    assert "DefaultAzureCredential" in default.label
    managed = resolve({**base, "S__credential": "ManagedIdentity", "S__clientId": "cid-1"}, "S")
    assert (managed.credential, managed.client_id) == ("managedidentity", "cid-1")
    assert "managed identity cid-1" in managed.label


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"S__credential": "azurecli"}, "S__credential='azurecli' is not supported"),
        ({"S__clientSecret": "x"}, "does not support S__clientSecret"),
        ({"S__queueServiceUri": "http://127.0.0.1:1/a"}, "must be an https:// service URI"),
    ],
)
def test_identity_settings_devhost_cannot_honour_stop_startup(
    extra: dict[str, str], message: str
) -> None:
    with pytest.raises(StartupError, match=message):
        resolve({"S__queueServiceUri": LOCAL, **extra}, "S")


def test_an_identity_section_without_a_queue_endpoint_says_which_setting_is_missing() -> None:
    with pytest.raises(StartupError, match="set S__queueServiceUri"):
        resolve({"S__credential": "managedidentity"}, "S")


def test_the_static_token_and_ca_are_for_loopback_endpoints_only(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    local = resolve(
        {
            "S__queueServiceUri": LOCAL,
            "STORAGE_STATIC_TOKEN": "tok-secret-123",
            "STORAGE_CA_BUNDLE": str(ca),
        },
        "S",
    )
    assert local.static_token == "tok-secret-123"
    assert local.ca_bundle == str(ca)
    assert "tok-secret-123" not in repr(local)
    assert "tok-secret-123" not in local.label
    for stand_in in ({"STORAGE_STATIC_TOKEN": "t"}, {"STORAGE_CA_BUNDLE": str(ca)}):
        (setting,) = stand_in
        with pytest.raises(StartupError, match=f"{setting} is for a local emulator only"):
            resolve({"S__queueServiceUri": "https://a.queue.core.windows.net", **stand_in}, "S")
        with pytest.raises(StartupError, match="S__blobServiceUri is not a loopback"):
            resolve(
                {
                    "S__queueServiceUri": LOCAL,
                    "S__blobServiceUri": "https://a.blob.core.windows.net",
                    **stand_in,
                },
                "S",
            )
    with pytest.raises(StartupError, match=r"STORAGE_CA_BUNDLE=.* is not a file"):
        resolve({"S__queueServiceUri": LOCAL, "STORAGE_CA_BUNDLE": str(tmp_path / "no")}, "S")
    # A connection-string connection has its key: the token is not for it.
    assert resolve({"S": CONN, "STORAGE_STATIC_TOKEN": "t"}, "S").static_token is None


# -- a live host ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def identity_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityAzurite]:
    instance = start_identity_azurite(Path(tmp_path_factory.mktemp("identity-azurite")))
    try:
        yield instance
    finally:
        instance.stop()


def token_queue(azurite: IdentityAzurite, token: str, name: str) -> QueueClient:
    return QueueClient(
        azurite.azurite.queue_service_uri,
        name,
        credential=StaticCredential(token),
        connection_verify=azurite.ca_bundle,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )


def drain(client: QueueClient, into: list[dict[str, Any]]) -> None:
    with contextlib.suppress(ResourceNotFoundError):  # the first output creates the queue
        for message in client.receive_messages(messages_per_page=32, visibility_timeout=30):
            into.append(json.loads(message.content))
            client.delete_message(message)


def test_a_queue_trigger_and_its_output_run_on_an_identity_based_connection(
    identity_azurite: IdentityAzurite, tmp_path: Path
) -> None:
    token = storage_token()
    env = base_env("", **identity_connection("AzureWebJobsStorage", identity_azurite, token))
    del env["AzureWebJobsStorage"]  # no connection string, no key: the token or nothing
    env["TICK_SCHEDULE"] = "0 0 0 1 1 *"  # keep the timer quiet
    host: DevhostProcess = start_devhost(env, tmp_path / "identity-host.log")
    try:
        body = f"identity-{uuid.uuid4().hex[:8]}"
        token_queue(identity_azurite, token, "work-async").send_message(body)
        results = token_queue(identity_azurite, token, "results")
        seen: list[dict[str, Any]] = []

        def reported() -> bool:
            drain(results, seen)
            return any(r.get("body") == body for r in seen)

        wait_until(reported, timeout=20, what="work_async to report over the identity connection")
        log = host.log_text()
        assert "identity-based: static token from STORAGE_STATIC_TOKEN" in log
        assert token not in log
    finally:
        host.stop()
