"""A policy's `drill` section: parsed, resolved onto its targets, and refused with the file,
line and field when it is wrong."""

from __future__ import annotations

import json

import pytest

from shared.errors import PolicyError
from shared.model.ids import CollectionId
from shared.model.resources import CollectionInfo
from shared.policies.loading import parse_policy_text

SUB = "00000000-0000-0000-0000-0000000000aa"


def text(drill: object) -> str:
    policy = {
        "name": "p",
        "match": {"subscriptionId": SUB},
        "targets": [{"region": "westus", "resourceGroup": "rg-dr"}],
        "drill": drill,
    }
    return json.dumps({"version": 1, "policies": [policy]}, indent=2)


def problems(drill: object) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text(drill), source_name="policies.json")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("every", "seconds"), [("30m", 1800.0), ("12h", 43200.0), ("7d", 604800.0), ("1m", 60.0)]
)
def test_intervals(every: str, seconds: float) -> None:
    policies = parse_policy_text(text({"every": every}), source_name="policies.json")
    drill = policies.policies[0].drill
    assert drill is not None
    assert drill.interval_seconds == seconds
    assert drill.enabled is True
    assert drill.resource_group is None


def test_the_drill_section_reaches_the_resolved_targets() -> None:
    policies = parse_policy_text(
        text({"every": "7d", "resourceGroup": "rg-drills", "enabled": False}),
        source_name="policies.json",
    )
    info = CollectionInfo(
        id=CollectionId.build(SUB, "rg-prod", "vm1-rpc"), region="eastus", tags={}
    )
    (target,) = policies.targets_for(info)
    assert target.drill is not None
    assert (target.drill.resource_group, target.drill.enabled) == ("rg-drills", False)


@pytest.mark.parametrize(
    ("drill", "expected"),
    [
        ({"every": "7 days"}, "policies.json:16:18: policies[0].drill.every: '7 days' is not"),
        ({"every": "0d"}, "policies[0].drill.every: '0d' is not an interval"),
        ({"every": 7}, "policies[0].drill.every:"),
        ({}, "policies[0].drill.every:"),
        ({"every": "1d", "resourceGroup": "bad/group"}, "policies[0].drill.resourceGroup:"),
        ({"every": "1d", "enabled": "yes"}, "policies[0].drill.enabled:"),
        ({"every": "1d", "interval": "1d"}, "policies[0].drill.interval: unknown field"),
        ("weekly", "policies[0].drill:"),
    ],
)
def test_bad_drill_sections_name_file_line_and_field(drill: object, expected: str) -> None:
    found = problems(drill)
    assert len(found) == 1, found
    assert expected in found[0]
    assert found[0].startswith("policies.json:")


def test_the_preflight_checks_the_drill_resource_group() -> None:
    from types import SimpleNamespace

    from shared.ops.preflight import scopes

    policies = parse_policy_text(
        text({"every": "7d", "resourceGroup": "rg-drills"}), source_name="policies.json"
    )
    services = SimpleNamespace(policies=policies, settings=SimpleNamespace(sweep_subscriptions=()))
    reach = scopes(services)  # type: ignore[arg-type]
    groups = {g.resource_group for g in reach.target_groups}
    assert groups == {"rg-dr", "rg-drills"}
    assert f"/subscriptions/{SUB}/resourceGroups/rg-drills" in reach.targets
