"""Identity-based storage, proven locally: a copy requested over HTTP runs through every stage
to Succeeded and its event, with the app and the local host reaching Azure Storage (Azurite)
by bearer token only, as they do in Azure with the managed identity.

Azurite runs over HTTPS (a throwaway self-signed certificate) with `--oauth basic` and a
custom account whose random key only Azurite knows (devstoreaccount1 and its well-known key
are disabled): shared-key access is impossible, and neither the host nor the app is given a
connection string. The settings are the deployed ones (`AzureWebJobsStorage__queueServiceUri`,
`__tableServiceUri`, `__blobServiceUri`, `__credential=managedidentity`, `__clientId`) plus the
local stand-ins for the managed identity: STORAGE_STATIC_TOKEN and STORAGE_CA_BUNDLE.
"""

from __future__ import annotations

import os
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64DecodePolicy

from devstack.processes import (
    AZURITE_KEY,
    LOOPBACK,
    ManagedProcess,
    azurite_connection_string,
    free_port,
    python_module_process,
)
from devstack.stack import EMULATOR_TOKEN, FAST_APP_SETTINGS, FAST_TIME_SCALE, app_setting_names
from shared.errors import SettingsError
from shared.storage.account import StaticTokenCredential, StorageAccount
from tests.devhost.identity_support import (
    IdentityAzurite,
    StaticCredential,
    identity_connection,
    start_identity_azurite,
    storage_token,
)
from tests.support import TARGET_REGION, EventLog, seed_source, wait_for

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
LOCAL_QUEUE = "https://127.0.0.1:10001/acct"
LOCAL_TABLE = "https://127.0.0.1:10002/acct"


# -- the app's settings ----------------------------------------------------------------------


def identity_env(**extra: str) -> dict[str, str]:
    return {
        "S__queueServiceUri": LOCAL_QUEUE,
        "S__tableServiceUri": LOCAL_TABLE,
        "S__credential": "managedidentity",
        **extra,
    }


def test_the_static_token_is_the_credential_and_never_shown(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    account = StorageAccount.from_env(
        "S", identity_env(STORAGE_STATIC_TOKEN="tok-123456789", STORAGE_CA_BUNDLE=str(ca))
    )
    assert account.connection_string is None
    assert account.credential == "managedidentity"
    assert (account.static_token, account.ca_bundle) == ("tok-123456789", str(ca))
    assert "tok-123456789" not in repr(account)
    credential = account._credential()
    assert isinstance(credential, StaticTokenCredential)
    assert "tok-123456789" not in repr(credential)
    # The CA bundle verifies Azurite's TLS; `use_env_settings` (proxies, netrc) is the
    # transport's own choice, read from the environment.
    options = account._transport_options()
    assert options["connection_verify"] == str(ca)
    assert set(options) <= {"connection_verify", "use_env_settings"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            identity_env(
                S__queueServiceUri="https://acct.queue.core.windows.net", STORAGE_STATIC_TOKEN="t"
            ),
            "STORAGE_STATIC_TOKEN is for a local emulator only: S__queueServiceUri",
        ),
        (
            identity_env(
                S__blobServiceUri="https://acct.blob.core.windows.net", STORAGE_CA_BUNDLE="x"
            ),
            "STORAGE_CA_BUNDLE is for a local emulator only: S__blobServiceUri",
        ),
        (
            {"S": "UseDevelopmentStorage=true", "STORAGE_STATIC_TOKEN": "t"},
            "applies to identity-based connections only",
        ),
        (identity_env(STORAGE_CA_BUNDLE="/nonexistent/ca.pem"), "is not a file"),
        (identity_env(S__tableServiceUri="http://127.0.0.1:10002/acct"), "must be an https://"),
        (identity_env(S__credential="clientsecret"), "S__credential='clientsecret' is not"),
    ],
)
def test_settings_that_could_leak_a_token_or_cannot_work_are_refused(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        StorageAccount.from_env("S", env)


# -- a full copy -----------------------------------------------------------------------------


@dataclass
class IdentityStack:
    azurite: IdentityAzurite
    token: str
    emulator: ManagedProcess
    emulator_port: int
    host: ManagedProcess
    host_port: int
    function_key: str

    @property
    def arm_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.emulator_port}"

    @property
    def host_url(self) -> str:
        return f"http://{LOOPBACK}:{self.host_port}"

    def queue(self, name: str) -> QueueClient:
        return QueueClient(
            self.azurite.azurite.queue_service_uri,
            name,
            credential=StaticCredential(self.token),
            connection_verify=self.azurite.ca_bundle,
            message_decode_policy=TextBase64DecodePolicy(),
        )


class TokenEventLog(EventLog):
    """The events queue, read with a bearer token (there is no connection string)."""

    def __init__(self, client: QueueClient) -> None:
        super().__init__("", client.queue_name)
        self.client = client

    def poll(self) -> list[dict[str, Any]]:
        try:
            for message in self.client.receive_messages(messages_per_page=32):
                self.add(message.content)
                self.client.delete_message(message)
        except ResourceNotFoundError:
            pass  # no event sent yet
        return self.events


def _inherited_storage_settings() -> frozenset[str]:
    """Whatever storage connection the parent process has must not reach the host."""
    return frozenset(k for k in os.environ if k.lower().startswith(("azurewebjobs", "storage_")))


@pytest.fixture(scope="module")
def identity_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityStack]:
    workdir = Path(tmp_path_factory.mktemp("identity-stack"))
    token = storage_token()
    azurite = start_identity_azurite(workdir / "azurite")
    started: list[ManagedProcess] = []
    try:
        emulator_port = free_port()
        args = [
            "--host", LOOPBACK, "--port", str(emulator_port),
            "--time-scale", str(FAST_TIME_SCALE), "--token", EMULATOR_TOKEN,
        ]  # fmt: skip
        emulator = python_module_process(
            "arm-emulator", "arm_emulator", args, log_path=workdir / "emulator.log"
        ).start()
        started.append(emulator)
        emulator.wait_http_ok(f"http://{LOOPBACK}:{emulator_port}/_emulator/health")
        function_key = secrets.token_urlsafe(24)
        settings = {
            **FAST_APP_SETTINGS,
            **identity_connection(
                "AzureWebJobsStorage", azurite, token, AzureWebJobsStorage__clientId=CLIENT_ID
            ),
            "ARM_ENDPOINT": f"http://{LOOPBACK}:{emulator_port}",
            "ARM_CREDENTIAL": "static",
            "ARM_STATIC_TOKEN": EMULATOR_TOKEN,
            "DEVHOST_FUNCTION_KEY": function_key,
            "DEVHOST_MASTER_KEY": secrets.token_urlsafe(24),
            "DEVHOST_EVENTGRID_KEY": secrets.token_urlsafe(24),
        }
        host_port = free_port()
        host = python_module_process(
            "function-host-identity",
            "devhost",
            ["--app-dir", str(Path(__file__).resolve().parents[2]), "--port", str(host_port)],
            env=settings,
            log_path=workdir / "host.log",
            drop=app_setting_names() | _inherited_storage_settings(),
        ).start()
        started.append(host)
        host.wait_http_ok(f"http://{LOOPBACK}:{host_port}/admin/host/status", timeout=60)
        yield IdentityStack(azurite, token, emulator, emulator_port, host, host_port, function_key)
    finally:
        for process in reversed(started):
            process.stop()
        azurite.stop()


def test_shared_key_access_is_impossible(identity_stack: IdentityStack) -> None:
    """No connection string or key in the host's settings (the app gets the same), and the
    storage accepts no well-known key and no token it would not accept from Entra ID."""
    env = dict(identity_stack.host.env or {})
    assert not any(k.lower() == "azurewebjobsstorage" for k in env)
    azurite = identity_stack.azurite.azurite
    assert azurite.tls is not None
    assert azurite.tls.accounts
    account_key = azurite.tls.accounts.split(":", 1)[1]  # only Azurite's own env has it
    for name, value in env.items():
        lowered = value.lower()
        assert "accountkey=" not in lowered, name
        assert "usedevelopmentstorage" not in lowered, name
        assert AZURITE_KEY not in value, name
        assert account_key not in value, name
    verify = identity_stack.azurite.ca_bundle
    well_known = azurite_connection_string(
        azurite.queue_port, azurite.table_port, azurite.blob_port, "https"
    )
    devstore = QueueServiceClient.from_connection_string(well_known, connection_verify=verify)
    with pytest.raises(ResourceNotFoundError):  # devstoreaccount1 is gone
        next(iter(devstore.list_queues()))
    wrong_audience = StaticCredential(storage_token(audience="https://management.azure.com"))
    foreign = QueueServiceClient(
        azurite.queue_service_uri, wrong_audience, connection_verify=verify
    )
    with pytest.raises(ClientAuthenticationError):
        next(iter(foreign.list_queues()))
    anonymous = httpx.get(
        f"{azurite.queue_service_uri}?comp=list", verify=ssl.create_default_context(cafile=verify)
    )
    assert anonymous.status_code in (401, 403), anonymous.text


def test_a_copy_succeeds_with_identity_based_storage(identity_stack: IdentityStack) -> None:
    source = seed_source(identity_stack.arm_endpoint, data_disks=1)
    with httpx.Client(
        base_url=identity_stack.host_url,
        headers={"x-functions-key": identity_stack.function_key},
        timeout=30,
    ) as api:
        response = api.post(
            "/api/copies",
            json={"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def finished() -> dict[str, Any] | None:
            job = api.get(f"/api/copies/{job_id}").json()
            return job if job["state"] in ("Succeeded", "Failed", "Superseded") else None

        done = wait_for(finished, timeout=90, what=f"copy job {job_id} to finish")
    assert done["state"] == "Succeeded", done
    events = TokenEventLog(identity_stack.queue("copy-events"))
    event = events.wait_for(job_id, "com.example.rpcopy.copy.succeeded", timeout=30)
    assert event["data"]["target"]["restorePointId"] == done["targetRestorePointId"]
    assert event["data"]["source"]["restorePointId"] == source.restore_point_id
    log = Path(identity_stack.host.log_path or "").read_text(errors="replace")
    assert "identity-based: static token from STORAGE_STATIC_TOKEN" in log
    assert identity_stack.token not in log
