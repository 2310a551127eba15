"""The alert rules look for telemetry the app produces: event type names the app emits and the
names of its poison functions."""

from __future__ import annotations

import re
from typing import Any

from tests.infra.bicep import INFRA, first_module, load_json, parse

events = first_module("shared.model.events", "shared.events")
ALERTS = INFRA / "alerts"


def test_five_rules_to_one_email_action_group() -> None:
    tree = parse(INFRA / "alerts.bicep")
    rules = tree["variables"]["rules"]["value"]
    assert [r["name"] for r in rules] == [
        "rpcopy-copy-failed",
        "rpcopy-rpo-breached",
        "rpcopy-poison-message",
        "rpcopy-creation-failed",
        "rpcopy-drill-failed",
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


def test_event_queries_match_the_log_line_of_alerting_events() -> None:
    """The queries look for the line Services.emit logs per event, by event name (so they hold
    whatever EVENT_TYPE_PREFIX is), for exactly the events the app logs as warnings."""
    services = first_module("shared.services")
    queried = {}
    for path in ALERTS.glob("*.kql"):
        for name in re.findall(r'message startswith "event ([a-z.]+): "', path.read_text()):
            queried[name] = path.name
    assert set(queried) == {str(e) for e in services.ALERTING_EVENTS}, queried
    assert {str(t) for t in services.ALERTING_EVENTS} <= {t.value for t in events.EventType}
    assert services.EVENT_LOG_FORMAT.startswith("event %s: ")


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
