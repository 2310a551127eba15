"""The app settings the deployment gives the function app, evaluated from infra/ with made-up
values for what only Azure knows (the identity's client id, the storage endpoints)."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import INFRA, load_json, parse, resolve

FUNCTION = INFRA / "app" / "function.bicep"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SUBSCRIPTIONS = ["aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"]
ACCOUNT = "strpcopytoken"


def _main_default(name: str) -> Any:
    return parse(INFRA / "main.bicep")["parameters"][name].get("default")


def deployed_settings() -> dict[str, Any]:
    """The app settings as Azure would see them, with made-up values for what the deployment
    creates (identity client id, storage endpoints, connection string)."""
    tree = parse(FUNCTION)
    names = {
        "identityClientId": CLIENT_ID,
        "armEndpoint": _main_default("armEndpoint"),
        "policyFile": _main_default("policyFile"),
        "eventGridTopicEndpoint": _main_default("eventGridTopicEndpoint"),
        "sweepSubscriptions": SUBSCRIPTIONS,
        "storage.properties.primaryEndpoints.blob": f"https://{ACCOUNT}.blob.core.windows.net/",
        "storage.properties.primaryEndpoints.queue": f"https://{ACCOUNT}.queue.core.windows.net/",
        "storage.properties.primaryEndpoints.table": f"https://{ACCOUNT}.table.core.windows.net/",
        "appInsights.properties.ConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westus-0.in.applicationinsights.azure.com/",
    }
    computed = {
        k: resolve(v, names) for k, v in tree["variables"]["deployedSettings"]["value"].items()
    }
    tunable = load_json("app/settings.json")
    overlap = set(tunable) & set(computed)
    assert not overlap, f"set twice (settings.json and function.bicep): {sorted(overlap)}"
    return {**tunable, **computed}
