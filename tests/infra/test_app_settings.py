"""The app settings the Bicep gives the function app: every one is a setting the app reads or
one of the Functions host's own, every setting the app reads is there (but the two secrets),
and the app starts on the production values."""

from __future__ import annotations

from typing import Any

import pytest

from shared.settings import Settings
from tests.infra.bicep import INFRA, first_module, load_json, parse, settings_the_app_reads
from tests.infra.deployed import ACCOUNT, CLIENT_ID, FUNCTION, SUBSCRIPTIONS, deployed_settings

# The Functions host's own settings that the deployment sets (the app never reads them).
HOST_SETTINGS = {
    # Identity-based AzureWebJobsStorage (host state, triggers; the app's queues and tables too).
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    # Telemetry to Application Insights with Entra ID.
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}

# Settings the app reads that the deployment must NOT set, and why.
NOT_DEPLOYED = {
    "ARM_STATIC_TOKEN": "a bearer token for the local ARM emulator only (ARM_CREDENTIAL=static)",
    "EVENTGRID_TOPIC_KEY": "a secret; without it the app publishes with its managed identity",
    # Read by shared/storage/account.py: stand-ins for the managed identity against a loopback
    # Azurite over HTTPS (refused for any other address).
    "STORAGE_STATIC_TOKEN": "a bearer token for a local Azurite only",
    "STORAGE_CA_BUNDLE": "trusts a local Azurite's throwaway certificate only",
    "WORK_COUNTS_DIR": "a local directory the benchmarks read the ARM and storage counts from",
}

# Flex Consumption rejects these (the runtime and the package are in functionAppConfig), and a
# connection string would mean shared keys, which the storage account disables.
FORBIDDEN = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "AzureWebJobsStorage",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
}


def test_the_site_gets_the_union_of_both_sets() -> None:
    tree = parse(FUNCTION)
    text = FUNCTION.read_text()
    assert "var tunableSettings = loadJsonContent('settings.json')" in text
    assert "var appSettings = union(tunableSettings, deployedSettings)" in text
    site = tree["resources"]["site"]["config"]
    assert "appSettings" in str(site["properties"]["siteConfig"]["appSettings"])


def test_every_setting_is_one_the_app_or_the_host_knows() -> None:
    unknown = set(deployed_settings()) - settings_the_app_reads() - HOST_SETTINGS
    assert not unknown, f"the deployment sets settings nobody reads: {sorted(unknown)}"


def test_every_setting_the_app_reads_is_deployed() -> None:
    missing = settings_the_app_reads() - set(deployed_settings()) - set(NOT_DEPLOYED)
    assert not missing, f"add to infra/app/settings.json or function.bicep: {sorted(missing)}"
    leaked = set(NOT_DEPLOYED) & set(deployed_settings())
    assert not leaked, f"must not be deployed: {[(k, NOT_DEPLOYED[k]) for k in sorted(leaked)]}"


def test_no_setting_flex_consumption_rejects() -> None:
    assert not FORBIDDEN & set(deployed_settings())


def test_nothing_secret_in_plain_settings() -> None:
    for name, value in deployed_settings().items():
        text = str(value).lower()
        for marker in ("accountkey=", "sharedaccesssignature", "sig=", "password", "secret"):
            assert marker not in text, f"{name} looks like it holds a secret"


def test_the_app_starts_on_the_production_values() -> None:
    env = {k: str(v) for k, v in deployed_settings().items()}
    settings = Settings.from_env(env)
    assert settings.arm.endpoint == "https://management.azure.com"
    assert settings.arm.credential == "default"
    assert settings.arm.managed_identity_client_id == CLIENT_ID
    assert settings.arm.static_token is None
    assert settings.storage_connection == "AzureWebJobsStorage"
    assert settings.sweep_subscriptions == tuple(SUBSCRIPTIONS)
    assert settings.http_auth_level == "function"


def test_the_identity_based_storage_connection_is_complete() -> None:
    """The app's own storage clients (queues, tables) read the same connection as the host."""
    env = {k: str(v) for k, v in deployed_settings().items()}
    storage = first_module("shared.storage.account", "shared.storage")
    account = storage.StorageAccount.from_env(env["STORAGE_CONNECTION"], env)
    assert account.connection_string is None
    assert account.queue_service_uri == f"https://{ACCOUNT}.queue.core.windows.net/"
    assert account.table_service_uri == f"https://{ACCOUNT}.table.core.windows.net/"
    assert account.client_id == CLIENT_ID
    assert env["AzureWebJobsStorage__credential"] == "managedidentity"
    assert env["AzureWebJobsStorage__clientId"] == CLIENT_ID


def test_telemetry_uses_entra_id() -> None:
    env = deployed_settings()
    assert (
        env["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == f"ClientId={CLIENT_ID};Authorization=AAD"
    )
    insights = parse(INFRA / "monitoring.bicep")["resources"]["appInsights"]["config"]["properties"]
    assert insights["DisableLocalAuth"] is True
    assert insights["WorkspaceResourceId"], "App Insights must sit on the Log Analytics workspace"


def _queue_settings() -> dict[str, str]:
    """storage.bicep creates one stage queue (and its -poison queue) per QUEUE_* setting."""
    return {k: v for k, v in load_json("app/settings.json").items() if k.startswith("QUEUE_")}


def test_queues_and_tables_created_are_the_ones_the_app_uses() -> None:
    settings = Settings.from_env({k: str(v) for k, v in deployed_settings().items()})
    text = (INFRA / "app" / "storage.bicep").read_text()
    assert "startsWith(s.key, 'QUEUE_')" in text
    assert "'${q}-poison'" in text, "the poison queues are not created"
    for key in ("EVENTS_QUEUE", "LEDGER_TABLE", "RULES_TABLE"):
        assert f"settings.{key}" in text, f"storage.bicep does not create {key}"
    assert set(settings.queues.stages()) == set(_queue_settings().values()), (
        "every stage queue of the app needs its QUEUE_* setting in infra/app/settings.json"
    )


def test_storage_account_allows_no_shared_keys() -> None:
    props = parse(INFRA / "app" / "storage.bicep")["resources"]["account"]["config"]["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"


def test_flex_consumption_python_311_with_a_max_instance_parameter() -> None:
    tree = parse(FUNCTION)
    plan = tree["resources"]["plan"]["config"]
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    config = tree["resources"]["site"]["config"]["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["scaleAndConcurrency"]["maximumInstanceCount"] == "maximumInstanceCount"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    main = parse(INFRA / "main.bicep")
    assert main["parameters"]["maximumInstanceCount"]["type"] == "int"
    assert (
        main["modules"]["function"]["config"]["params"]["maximumInstanceCount"]
        == "maximumInstanceCount"
    )


@pytest.mark.parametrize(
    ("role", "why"),
    [
        ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner"),
        ("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Storage Queue Data Contributor"),
        ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Storage Table Data Contributor"),
    ],
)
def test_app_identity_has_the_storage_data_roles(role: str, why: str) -> None:
    text = (INFRA / "rbac" / "storage-access.bicep").read_text()
    assert role in text, why


def test_app_identity_publishes_telemetry() -> None:
    text = (INFRA / "rbac" / "monitoring-access.bicep").read_text()
    assert "3913510d-42f4-4e42-8a64-420c390055eb" in text  # Monitoring Metrics Publisher


def test_function_app_indexes_on_the_deployed_settings(
    deployed_functions: dict[str, list[dict[str, Any]]],
) -> None:
    """function_app.py reads its queue names, connection and timer schedule at indexing."""
    queues = {
        b["queueName"]: b["connection"]
        for bindings in deployed_functions.values()
        for b in bindings
        if b["type"] == "queueTrigger"
    }
    stages = set(_queue_settings().values())
    assert set(queues) == stages | {f"{q}-poison" for q in stages}
    assert set(queues.values()) == {"AzureWebJobsStorage"}
    timers = {
        name: b["schedule"]
        for name, bindings in deployed_functions.items()
        for b in bindings
        if b["type"] == "timerTrigger"
    }
    deployed = load_json("app/settings.json")
    assert timers == {
        "sweep_timer": deployed["SWEEP_SCHEDULE"],
        "schedule_timer": deployed["SCHEDULE_TIMER"],
    }
