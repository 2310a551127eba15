"""shared/intake.py, the pure parts: target names and target validation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from shared.errors import InvalidRequest
from shared.http_api.problems import problem_for
from shared.jobs.intake import (
    CopyRequest,
    default_collection_name,
    restore_point_name_for_run,
    validate_target,
)
from shared.model.ids import MAX_RESOURCE_NAME, RestorePointId, validate_resource_name
from shared.settings import Settings

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RP = RestorePointId.parse(
    f"/subscriptions/{SUB}/resourceGroups/rg-prod/providers/Microsoft.Compute"
    "/restorePointCollections/rpc1/restorePoints/rp1"
)


def services(**settings: Any) -> Any:
    """validate_target only reads `services.settings`."""
    return SimpleNamespace(settings=Settings(**settings))


@pytest.mark.parametrize(
    ("collection", "region", "expected"),
    [
        ("rpc1", "westus", "rpc1-westus"),
        ("vm1-rpc", "australiacentral2", "vm1-rpc-australiacentral2"),
        ("c" * 73, "westus", "c" * 73 + "-westus"),
        ("c" * 74, "westus", "c" * 73 + "-westus"),
        ("c" * 80, "westus", "c" * 73 + "-westus"),
        ("c" * 80, "australiacentral2", "c" * 62 + "-australiacentral2"),
    ],
)
def test_default_collection_name(collection: str, region: str, expected: str) -> None:
    name = default_collection_name(collection, region)
    assert name == expected
    assert len(name) <= MAX_RESOURCE_NAME == 80
    assert validate_resource_name(name, "n") == name


@pytest.mark.parametrize(
    ("source", "run", "expected"),
    [
        ("rp1", 1, "rp1"),
        ("r" * 80, 1, "r" * 80),
        ("rp1", 2, "rp1-run2"),
        ("rp1", 10, "rp1-run10"),
        ("r" * 75, 2, "r" * 75 + "-run2"),
        ("r" * 76, 2, "r" * 75 + "-run2"),
        ("r" * 80, 2, "r" * 75 + "-run2"),
        ("r" * 80, 12, "r" * 74 + "-run12"),
        ("r" * 80, 1000, "r" * 72 + "-run1000"),
    ],
)
def test_restore_point_name_for_run(source: str, run: int, expected: str) -> None:
    name = restore_point_name_for_run(source, run)
    assert name == expected
    assert len(name) <= 80


def test_run_names_differ_per_run() -> None:
    names = {restore_point_name_for_run("r" * 80, run) for run in range(1, 50)}
    assert len(names) == 49


@pytest.mark.parametrize(
    ("request_fields", "extra", "expected"),
    [
        ({"target_region": "westus"}, frozenset(), ("westus", "rg-prod", "rpc1-westus")),
        ({"target_region": " WestUS "}, frozenset(), ("westus", "rg-prod", "rpc1-westus")),
        (
            {
                "target_region": "eastus2",
                "target_resource_group": "rg-dr",
                "target_collection_name": "dr-copies",
            },
            frozenset(),
            ("eastus2", "rg-dr", "dr-copies"),
        ),
        (
            {"target_region": "newregion1"},
            frozenset({"newregion1"}),
            ("newregion1", "rg-prod", "rpc1-newregion1"),
        ),
    ],
)
def test_validate_target(
    request_fields: dict[str, Any], extra: frozenset[str], expected: tuple[str, str, str]
) -> None:
    request = CopyRequest(source=RP, **request_fields)
    assert validate_target(request, services(extra_regions=extra)) == expected


@pytest.mark.parametrize(
    ("request_fields", "fields", "text"),
    [
        ({"target_region": "atlantis"}, ["targetRegion"], "EXTRA_REGIONS"),
        ({"target_region": "West US"}, ["targetRegion"], "is not an Azure region name"),
        ({"target_region": ""}, ["targetRegion"], "is not an Azure region name"),
        ({"target_region": 5}, ["targetRegion"], "must be a string"),
        (
            {"target_region": "westus", "target_resource_group": "rg."},
            ["targetResourceGroup"],
            "must not end with '.'",
        ),
        (
            {"target_region": "westus", "target_resource_group": "r" * 91},
            ["targetResourceGroup"],
            "1-90",
        ),
        (
            {"target_region": "westus", "target_collection_name": "a/b"},
            ["targetCollectionName"],
            "1-80 characters",
        ),
        (
            {"target_region": "westus", "target_collection_name": "n" * 81},
            ["targetCollectionName"],
            "1-80 characters",
        ),
        (
            {
                "target_region": "nowhere",
                "target_resource_group": "bad group",
                "target_collection_name": "bad name",
            },
            ["targetRegion", "targetResourceGroup", "targetCollectionName"],
            "",
        ),
    ],
)
def test_validate_target_rejects(
    request_fields: dict[str, Any], fields: list[str], text: str
) -> None:
    request = CopyRequest(source=RP, **request_fields)
    with pytest.raises(InvalidRequest) as info:
        validate_target(request, services())
    exc = info.value
    assert problem_for(exc).status == 400
    assert exc.title == "Invalid copy request"
    assert [e["field"] for e in exc.errors] == fields
    assert text in exc.errors[0]["message"]
    assert exc.detail == exc.errors[0]["message"]


def test_extra_regions_do_not_replace_public_regions() -> None:
    request = CopyRequest(source=RP, target_region="westus")
    assert validate_target(request, services(extra_regions=frozenset({"x1"})))[0] == "westus"


def test_invalid_request_defaults() -> None:
    exc = InvalidRequest("Invalid copy request", "try again")
    assert (exc.title, exc.detail, exc.errors) == ("Invalid copy request", "try again", [])
    assert str(exc) == "try again"
