"""The alert rules look for telemetry the app produces: event type names the app emits and the
names of its poison functions."""

from __future__ import annotations

import re
from typing import Any

from tests.infra.bicep import INFRA, first_module, load_json, parse

events = first_module("shared.model.events", "shared.events")
ALERTS = INFRA / "alerts"


def test_three_rules_to_one_email_action_group() -> None:
    tree = parse(INFRA / "alerts.bicep")
    rules = tree["variables"]["rules"]["value"]
    assert [r["name"] for r in rules] == [
        "rpcopy-copy-failed",
        "rpcopy-rpo-breached",
        "rpcopy-poison-message",
    ]
    group = tree["resources"]["actionGroup"]["config"]["properties"]
    assert group["emailReceivers"][0]["emailAddress"] == "alertEmail"
    text = (INFRA / "alerts.bicep").read_text()
    assert "actionGroups: [actionGroup.id]" in text
    assert "scopes: [appInsightsId]" in text
    main = parse(INFRA / "main.bicep")
    assert main["parameters"]["alertEmail"].get("default") is None, "azd must ask for the e-mail"


def test_every_query_file_is_used() -> None:
    text = (INFRA / "alerts.bicep").read_text()
    used = set(re.findall(r"loadTextContent\('alerts/([^']+)'\)", text))
    assert used == {p.name for p in ALERTS.glob("*.kql")}


def test_event_queries_name_event_types_the_app_emits() -> None:
    emitted = {t.value for t in events.EventType}
    for name, event_type in (
        ("failed-copies.kql", "rpcopy.copy.failed"),
        ("rpo-breaches.kql", "rpcopy.rpo.breached"),
    ):
        query = (ALERTS / name).read_text()
        assert event_type in emitted, f"the app has no event type {event_type}"
        assert f'message contains "{event_type}"' in query


def test_poison_query_matches_the_poison_functions(
    deployed_functions: dict[str, list[dict[str, Any]]],
) -> None:
    query = (ALERTS / "poison-messages.kql").read_text()
    (prefix,) = re.findall(r'operation_Name startswith "([^"]+)"', query)
    on_poison_queues = {
        name
        for name, bindings in deployed_functions.items()
        for b in bindings
        if b["type"] == "queueTrigger" and b["queueName"].endswith("-poison")
    }
    named = {name for name in deployed_functions if name.startswith(prefix)}
    stage_queues = [k for k in load_json("app/settings.json") if k.startswith("QUEUE_")]
    assert len(on_poison_queues) == len(stage_queues), on_poison_queues
    assert named == on_poison_queues, (
        f"the alert counts invocations of functions named {prefix}*: {sorted(named)}, "
        f"but the functions on -poison queues are {sorted(on_poison_queues)}"
    )
