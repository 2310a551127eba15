"""shared/arm/bodies.py: reading ARM bodies into the model's views (any JSON value is safe)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.arm import bodies
from shared.arm.bodies import restore_point_view, restore_points_of, target_collection_view
from shared.model.resources import RestorePointView, TargetCollectionView
from tests.unit.rules.test_sweep_plan import EXAMPLE, SRC_RPC, TGT_RPC, at, src, tgt

# --------------------------------------------------------------------------------------------
# Reading ARM bodies


def test_from_arm_reads_the_official_example() -> None:
    if not EXAMPLE.exists():
        pytest.skip(f"{EXAMPLE} is not in this checkout")
    body = json.loads(EXAMPLE.read_text())["responses"]["200"]["body"]
    (view,) = restore_points_of(body)
    assert view.name == "restorePointName"
    assert view.id.endswith("/restorePointCollections/rpcName/restorePoints/restorePointName")
    # 7 fractional digits are cut to 6, the offset kept as UTC.
    assert view.created_at == datetime(2021, 1, 27, 20, 35, 5, 840151, tzinfo=UTC)
    assert view.source_restore_point_id is None
    assert view.provisioning_state == "Succeeded"
    assert not view.is_copy


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "id": tgt("rp1"),
                "name": "rp1",
                "properties": {
                    "timeCreated": "2026-01-01T00:10:00.1234567+00:00",
                    "sourceRestorePoint": {"id": src("rp1")},
                    "provisioningState": "Creating",
                },
            },
            RestorePointView(
                tgt("rp1"),
                "rp1",
                at(10) + timedelta(microseconds=123456),
                src("rp1"),
                "Creating",
            ),
        ),
        # No name: taken from the id. A "Z" time and another offset are both read as UTC.
        (
            {"id": src("rp2"), "properties": {"timeCreated": "2026-01-01T00:20:00Z"}},
            RestorePointView(src("rp2"), "rp2", at(20), None, None),
        ),
        (
            {"id": src("rp3"), "properties": {"timeCreated": "2026-01-01T02:30:00+02:00"}},
            RestorePointView(src("rp3"), "rp3", at(30), None, None),
        ),
        # Unreadable parts are None, never an exception.
        (
            {
                "id": src("rp4"),
                "name": 7,
                "properties": {"timeCreated": "yesterday", "sourceRestorePoint": "x"},
            },
            RestorePointView(src("rp4"), "rp4", None, None, None),
        ),
        ({"id": src("rp5"), "properties": None}, RestorePointView(src("rp5"), "rp5", None)),
        ({"name": "no-id", "properties": {}}, None),
        ({"id": "", "name": "empty-id"}, None),
        ({"id": 42}, None),
        ({"id": SRC_RPC}, None),  # a collection id is not a restore point id
        ("not an object", None),
    ],
)
def test_restore_point_from_arm(body: Any, expected: RestorePointView | None) -> None:
    assert restore_point_view(body) == expected


def test_restore_points_from_collection_drops_unreadable_items() -> None:
    body = {"properties": {"restorePoints": [{"id": src("a")}, {"name": "x"}, None]}}
    assert [rp.name for rp in restore_points_of(body)] == ["a"]
    assert restore_points_of({"properties": {}}) == ()
    assert restore_points_of({}) == ()


@pytest.mark.parametrize(
    ("tags", "managed"),
    [
        ({"rpcopy-managed": "true"}, True),
        ({"RPCopy-Managed": "True"}, True),  # tag names are case-insensitive in Azure
        ({"rpcopy-managed": "false"}, False),
        ({"rpcopy-managed": "yes"}, False),
        ({"other": "true"}, False),
        (None, False),
    ],
)
def test_target_collection_from_arm(tags: dict[str, str] | None, managed: bool) -> None:
    body = {
        "id": TGT_RPC,
        "tags": tags,
        "properties": {
            "source": {"id": SRC_RPC, "location": "eastus"},
            "restorePoints": [
                {"id": tgt("a"), "properties": {"sourceRestorePoint": {"id": src("a")}}}
            ],
        },
    }
    view = target_collection_view(body, "fallback")
    assert view == TargetCollectionView(
        TGT_RPC, True, managed, SRC_RPC, (RestorePointView(tgt("a"), "a", None, src("a")),)
    )


def test_missing_target_collection() -> None:
    view = TargetCollectionView.missing(TGT_RPC)
    assert (view.exists, view.managed, view.restore_points) == (False, False, ())
    assert target_collection_view({}, TGT_RPC).id == TGT_RPC


# -- a restore point as its collection lists it (`$expand=restorePoints`) --------------------

_LISTED = {
    "properties": {
        "restorePoints": [
            "not an object",
            {"id": "/x/restorePointCollections/c/restorePoints/other", "properties": {}},
            {"name": "RP1", "properties": {"sourceMetadata": {"vmId": "guid-1"}}},
            {"id": "/x/restorePointCollections/c/restorePoints/rp2", "properties": {}},
        ]
    }
}


@pytest.mark.parametrize(
    ("name", "found"),
    [("rp1", "RP1"), ("RP1", "RP1"), ("rp2", "rp2"), ("missing", None)],
)
def test_contained_restore_point_is_found_by_name_case_insensitively(
    name: str, found: str | None
) -> None:
    item = bodies.contained_restore_point(_LISTED, name)
    got = None if item is None else (item.get("name") or item["id"].rsplit("/", 1)[-1])
    assert got == found


@pytest.mark.parametrize(
    "collection", [None, {}, {"properties": {}}, {"properties": {"restorePoints": "x"}}]
)
def test_a_collection_without_a_list_contains_nothing(collection: object) -> None:
    assert bodies.contained_restore_point(collection, "rp1") is None


@pytest.mark.parametrize(
    ("body", "guid"),
    [
        ({"properties": {"sourceMetadata": {"vmId": "guid-1"}}}, "guid-1"),
        ({"properties": {"sourceMetadata": {}}}, None),
        ({"properties": {}}, None),
        (None, None),
    ],
)
def test_source_vm_guid(body: object, guid: str | None) -> None:
    assert bodies.source_vm_guid(body) == guid
