"""The policy file's schedule blocks: a target's copySchedule and a policy's create section,
refused at load with file, line and field; and how they resolve for a collection."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.errors import PolicyError
from shared.model.ids import CollectionId
from shared.model.resources import CollectionInfo
from shared.policies.loading import parse_policy_text

SUB = "00000000-0000-0000-0000-0000000000aa"
DISK = f"/subscriptions/{SUB}/resourceGroups/rg-prod/providers/Microsoft.Compute/disks/tempdisk"


def text_of(policies: list[dict[str, object]]) -> str:
    return json.dumps({"version": 1, "policies": policies}, indent=2)


def problems(policies: list[dict[str, object]]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text_of(policies), source_name="policies.json")
    return [str(p) for p in caught.value.problems]


def policy(target: dict[str, object] | None = None, **extra: object) -> dict[str, object]:
    return {
        "name": "p",
        "match": {"subscriptionId": SUB, "resourceGroup": "rg-prod"},
        "targets": [target or {"region": "westus"}],
        **extra,
    }


def collection(name: str = "vm1-rpc") -> CollectionInfo:
    return CollectionInfo(CollectionId.build(SUB, "rg-prod", name), "eastus", {})


def test_a_copy_schedule_and_a_create_section_resolve_for_the_collection() -> None:
    loaded = parse_policy_text(
        text_of(
            [
                policy(
                    {
                        "region": "westus",
                        "copySchedule": {"cron": "0 0 2 * * *", "timeZone": "Europe/Berlin"},
                        "rpoMinutes": 1500,
                    },
                    create={
                        "schedule": {"intervalMinutes": 60},
                        "consistencyMode": "crashconsistent",
                        "excludeDisks": [DISK],
                        "retention": {"keepLast": 24, "maxAgeDays": 2},
                    },
                )
            ]
        ),
        source_name="policies.json",
    )
    resolution = loaded.resolve(collection())
    (target,) = resolution.targets
    assert target.copy_schedule is not None
    assert target.copy_schedule.describe() == "0 0 2 * * * (Europe/Berlin)"
    create = resolution.create
    assert create is not None
    assert create.schedule.interval == timedelta(hours=1)
    assert create.consistency_mode == "CrashConsistent"
    assert create.exclude_disks == (DISK,)
    assert (create.keep_last, create.max_age_days) == (24, 2)


def test_without_schedules_nothing_changes() -> None:
    resolution = parse_policy_text(text_of([policy()]), source_name="p.json").resolve(collection())
    assert resolution.targets[0].copy_schedule is None
    assert resolution.create is None


def test_the_most_specific_policy_with_a_create_section_wins() -> None:
    broad = {**policy(create={"schedule": {"intervalMinutes": 240}}), "name": "broad"}
    named = {
        "name": "named",
        "match": {"collectionIds": [str(collection("vm2-rpc").id)]},
        "targets": [{"region": "northeurope"}],
        "create": {"schedule": {"cron": "0 0 * * * *"}},
    }
    loaded = parse_policy_text(text_of([broad, named]), source_name="p.json")
    assert loaded.resolve(collection("vm2-rpc")).create.policy_name == "named"  # type: ignore[union-attr]
    assert loaded.resolve(collection("vm1-rpc")).create.policy_name == "broad"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            {"region": "westus", "copySchedule": {"cron": "0 0 2 * *"}},
            "policies.json:14:21: policies[0].targets[0].copySchedule.cron: '0 0 2 * *' has 5 "
            "fields; NCRONTAB has six",
        ),
        (
            {"region": "westus", "copySchedule": {"cron": "0 0 2 * * *", "timeZone": "Mars/X"}},
            "policies.json:15:25: policies[0].targets[0].copySchedule.timeZone: 'Mars/X' is not an "
            "IANA time zone",
        ),
        (
            {"region": "westus", "copySchedule": {"cron": "0 0 2 * * *", "intervalMinutes": 60}},
            "policies.json:15:32: policies[0].targets[0].copySchedule.intervalMinutes: give cron "
            "or intervalMinutes, not both",
        ),
        (
            {"region": "westus", "copySchedule": {}},
            "policies.json:13:27: policies[0].targets[0].copySchedule: give cron (NCRONTAB",
        ),
        (
            {"region": "westus", "copySchedule": {"cron": "0 0 */6 * * *"}, "rpoMinutes": 120},
            "policies.json:16:25: policies[0].targets[0].rpoMinutes: rpoMinutes 120 is shorter "
            "than the copy schedule's longest gap between slots (360 minutes)",
        ),
        (
            {"region": "westus", "copySchedule": {"cron": "0 0 2 * * *", "every": 5}},
            "policies.json:15:13: policies[0].targets[0].copySchedule.every: unknown field "
            "(allowed here: cron, timeZone, intervalMinutes)",
        ),
    ],
)
def test_bad_copy_schedules_are_refused_with_file_line_and_field(
    target: dict[str, object], expected: str
) -> None:
    (found,) = problems([policy(target)])
    assert found.startswith(expected), found


@pytest.mark.parametrize(
    ("create", "expected"),
    [
        (
            {"schedule": {"intervalMinutes": 0}},
            "policies.json:17:30: policies[0].create.schedule.intervalMinutes: must be at least 1",
        ),
        (
            {"schedule": {"intervalMinutes": 60}, "consistencyMode": "ApplicationConsistent"},
            "policies.json:19:28: policies[0].create.consistencyMode: 'ApplicationConsistent' is "
            "not accepted as input by Azure",
        ),
        (
            {"schedule": {"intervalMinutes": 60}, "excludeDisks": ["disk1"]},
            "policies.json:19:25: policies[0].create.excludeDisks: excludeDisks[0]: 'disk1' is "
            "not a managed disk id",
        ),
        (
            {"schedule": {"intervalMinutes": 60}, "excludeDisks": [DISK, DISK.upper()]},
            "policies.json:19:25: policies[0].create.excludeDisks: excludeDisks[1]:",
        ),
        (
            {"schedule": {"intervalMinutes": 60}, "retention": {}},
            "policies.json:19:22: policies[0].create.retention: set keepLast and/or maxAgeDays",
        ),
        (
            {"consistencyMode": "CrashConsistent"},
            "policies.json:15:17: policies[0].create.schedule: required field is missing",
        ),
        (
            {"schedule": {"intervalMinutes": 60}, "timeZone": "UTC"},
            "policies.json:19:9: policies[0].create.timeZone: unknown field (allowed here: "
            "schedule, consistencyMode, excludeDisks, retention)",
        ),
    ],
)
def test_bad_create_sections_are_refused_with_file_line_and_field(
    create: dict[str, object], expected: str
) -> None:
    (found,) = problems([policy(create=create)])
    assert found.startswith(expected), found
