"""shared/resource_ids.py: strict id parsing, region names and id comparison."""

from __future__ import annotations

import pytest

from shared.errors import InvalidResourceId
from shared.model.ids import (
    DRP_SHAPE,
    RG_SHAPE,
    RP_SHAPE,
    RPC_SHAPE,
    VM_SHAPE,
    CollectionId,
    DiskRestorePointId,
    ResourceGroupId,
    RestorePointId,
    VirtualMachineId,
    same_id,
    validate_resource_group_name,
    validate_resource_name,
)
from shared.model.regions import normalize_region

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod"
RPC = f"{RG}/providers/Microsoft.Compute/restorePointCollections/rpc1"
RP = f"{RPC}/restorePoints/rp1"
DRP = f"{RP}/diskRestorePoints/vm1_OsDisk_1_22b4bdfe-6c54-4f72-84d8-85d8860f0c57"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"


# -- valid ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sub", "rg", "name"),
    [
        (RPC, SUB, "rg-prod", "rpc1"),
        # ARM segments are case-insensitive; the caller's casing is kept for display.
        (RPC.lower(), SUB, "rg-prod", "rpc1"),
        (RPC.upper(), SUB.upper(), "RG-PROD", "RPC1"),
        (RPC.replace("resourceGroups", "resourcegroups"), SUB, "rg-prod", "rpc1"),
        (RPC.replace("Microsoft.Compute", "microsoft.compute"), SUB, "rg-prod", "rpc1"),
        # Resource group names: letters, digits, - _ . ( ), up to 90, not ending in '.'.
        (RPC.replace("rg-prod", "My_RG.(prod)-1"), SUB, "My_RG.(prod)-1", "rpc1"),
        (RPC.replace("rg-prod", "a" * 90), SUB, "a" * 90, "rpc1"),
        (RPC.replace("rg-prod", "r"), SUB, "r", "rpc1"),
        # Resource names: anything but / ? # & % \ and whitespace, 1-80 characters.
        (
            RPC.replace("rpc1", "rpc.name_with-(chars)+=~!"),
            SUB,
            "rg-prod",
            "rpc.name_with-(chars)+=~!",
        ),
        (RPC.replace("rpc1", "n" * 80), SUB, "rg-prod", "n" * 80),
    ],
)
def test_collection_id_parses(value: str, sub: str, rg: str, name: str) -> None:
    parsed = CollectionId.parse(value)
    assert (parsed.subscription_id, parsed.resource_group, parsed.name) == (sub, rg, name)
    assert parsed.normalized == value.lower()
    assert parsed.same_as(CollectionId.parse(value.swapcase()))
    assert parsed.resource_group_id == ResourceGroupId(sub, rg)


@pytest.mark.parametrize(
    ("cls", "value"),
    [
        (ResourceGroupId, RG),
        (CollectionId, RPC),
        (RestorePointId, RP),
        (DiskRestorePointId, DRP),
        (VirtualMachineId, VM),
    ],
)
def test_every_shape_round_trips_through_str(cls: type, value: str) -> None:
    parsed = cls.parse(value)
    assert str(parsed) == value
    assert parsed.normalized == value.lower()
    assert cls.parse(value.lower()).normalized == parsed.normalized


def test_restore_point_id_parts() -> None:
    rp = RestorePointId.parse(RP)
    assert rp.name == "rp1"
    assert rp.subscription_id == SUB
    assert rp.collection == CollectionId(SUB, "rg-prod", "rpc1")
    assert rp.same_as(RestorePointId.parse(RP.upper()))
    assert not rp.same_as(RestorePointId.parse(RP.replace("rp1", "rp2")))


def test_disk_restore_point_id_parts() -> None:
    drp = DiskRestorePointId.parse(DRP)
    assert drp.restore_point == RestorePointId.parse(RP)
    assert drp.name == "vm1_OsDisk_1_22b4bdfe-6c54-4f72-84d8-85d8860f0c57"


def test_virtual_machine_id_parts() -> None:
    vm = VirtualMachineId.parse(VM)
    assert (vm.subscription_id, vm.resource_group, vm.name) == (SUB, "rg-prod", "vm1")


# -- invalid ids ----------------------------------------------------------------------------

_INVALID_RPC = {
    "empty": "",
    "trailing slash": RPC + "/",
    "double slash": RPC.replace("/providers", "//providers"),
    "no leading slash": RPC[1:],
    "full URL": "https://management.azure.com" + RPC,
    "query string": RPC + "?api-version=2025-04-01",
    "fragment": RPC + "#frag",
    "leading space": " " + RPC,
    "trailing space": RPC + " ",
    "trailing newline": RPC + "\n",
    "trailing tab": RPC + "\t",
    "url-encoded slash": RPC.replace("rpc1", "rpc%2F1"),
    "wrong provider": RPC.replace("Microsoft.Compute", "Microsoft.Storage"),
    "provider without dot": RPC.replace("Microsoft.Compute", "MicrosoftXCompute"),
    "wrong resource type": RPC.replace("restorePointCollections", "snapshots"),
    "singular type": RPC.replace("restorePointCollections", "restorePointCollection"),
    "extra segment": RP,
    "extra trailing segment": RPC + "/extra",
    "missing name": RPC.replace("/rpc1", ""),
    "missing resource group": RPC.replace("/resourceGroups/rg-prod", ""),
    "subscription not a GUID": RPC.replace(SUB, "my-subscription"),
    "subscription GUID too short": RPC.replace(SUB, SUB[:-1]),
    "subscription GUID bad hex": RPC.replace(SUB, "g" + SUB[1:]),
    "subscription GUID in braces": RPC.replace(SUB, "{" + SUB + "}"),
    "resource group ends with dot": RPC.replace("rg-prod", "rg."),
    "resource group too long": RPC.replace("rg-prod", "a" * 91),
    "resource group with space": RPC.replace("rg-prod", "rg prod"),
    "resource group with slash-like char": RPC.replace("rg-prod", "rg#1"),
    "name too long": RPC.replace("rpc1", "n" * 81),
    "name with space": RPC.replace("rpc1", "rpc 1"),
    "name with question mark": RPC.replace("rpc1", "rpc?1"),
    "name with hash": RPC.replace("rpc1", "rpc#1"),
    "name with ampersand": RPC.replace("rpc1", "rpc&1"),
    "name with percent": RPC.replace("rpc1", "rpc%1"),
    "name with backslash": RPC.replace("rpc1", "rpc\\1"),
    "name with newline": RPC.replace("rpc1", "rpc\n1"),
}


@pytest.mark.parametrize("value", list(_INVALID_RPC.values()), ids=list(_INVALID_RPC))
def test_collection_id_rejects(value: str) -> None:
    with pytest.raises(InvalidResourceId) as info:
        CollectionId.parse(value)
    assert RPC_SHAPE in str(info.value)
    assert "restore point collection id" in str(info.value)


_INVALID_RP = {
    "collection only": RPC,
    "trailing slash": RP + "/",
    "trailing newline": RP + "\n",
    "query string": RP + "?$expand=instanceView",
    "disk restore point": DRP,
    "wrong child type": RP.replace("restorePoints", "snapshots"),
    "wrong provider": RP.replace("Microsoft.Compute", "Microsoft.Storage"),
    "empty name": RP.replace("/rp1", "/"),
    "name with space": RP.replace("rp1", "rp 1"),
    "wrong subscription": RP.replace(SUB, "00000000-0000-0000-0000-00000000000"),
    "virtual machine": VM,
}


@pytest.mark.parametrize("value", list(_INVALID_RP.values()), ids=list(_INVALID_RP))
def test_restore_point_id_rejects(value: str) -> None:
    with pytest.raises(InvalidResourceId) as info:
        RestorePointId.parse(value, "sourceRestorePointId")
    assert RP_SHAPE in str(info.value)
    assert str(info.value).startswith("sourceRestorePointId ")


@pytest.mark.parametrize(
    ("cls", "shape", "value"),
    [
        (ResourceGroupId, RG_SHAPE, RG + "/"),
        (ResourceGroupId, RG_SHAPE, RG + "\n"),
        (ResourceGroupId, RG_SHAPE, f"/subscriptions/{SUB}"),
        (ResourceGroupId, RG_SHAPE, RPC),
        (DiskRestorePointId, DRP_SHAPE, RP),
        (DiskRestorePointId, DRP_SHAPE, DRP + "/"),
        (DiskRestorePointId, DRP_SHAPE, DRP + "\n"),
        (DiskRestorePointId, DRP_SHAPE, DRP.replace("diskRestorePoints", "disks")),
        (VirtualMachineId, VM_SHAPE, VM + "/"),
        (VirtualMachineId, VM_SHAPE, VM + "\n"),
        (VirtualMachineId, VM_SHAPE, VM.replace("virtualMachines", "virtualMachineScaleSets")),
        (VirtualMachineId, VM_SHAPE, VM.replace("Microsoft.Compute", "Microsoft.ClassicCompute")),
    ],
)
def test_other_shapes_reject(cls: type, shape: str, value: str) -> None:
    with pytest.raises(InvalidResourceId, match="is not of the form") as info:
        cls.parse(value)
    assert shape in str(info.value)


@pytest.mark.parametrize("value", [None, 42, 4.2, b"/subscriptions/x", ["a"], {"id": RPC}, True])
@pytest.mark.parametrize(
    ("cls", "shape"),
    [
        (ResourceGroupId, RG_SHAPE),
        (CollectionId, RPC_SHAPE),
        (RestorePointId, RP_SHAPE),
        (DiskRestorePointId, DRP_SHAPE),
        (VirtualMachineId, VM_SHAPE),
    ],
)
def test_non_strings_rejected_with_shape(cls: type, shape: str, value: object) -> None:
    with pytest.raises(InvalidResourceId, match="must be a string") as info:
        cls.parse(value)
    assert shape in str(info.value)


def test_message_quotes_the_bad_value() -> None:
    with pytest.raises(InvalidResourceId) as info:
        CollectionId.parse("/subscriptions/nope", "sourceCollectionId")
    assert "'/subscriptions/nope'" in str(info.value)
    assert str(info.value).startswith("sourceCollectionId ")


def test_invalid_resource_id_is_a_value_error() -> None:
    assert issubclass(InvalidResourceId, ValueError)


# -- regions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eastus", "eastus"),
        ("EastUS", "eastus"),
        ("WESTEUROPE", "westeurope"),
        ("eastus2", "eastus2"),
        ("australiacentral2", "australiacentral2"),
        ("  westus  ", "westus"),
        ("ab", "ab"),
        ("a" * 40, "a" * 40),
    ],
)
def test_normalize_region(value: str, expected: str) -> None:
    assert normalize_region(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "a",  # too short
        "a" * 41,  # too long
        "East US",  # a display name, not a region name
        "east-us",
        "east_us",
        "2eastus",  # must start with a letter
        "eastus!",
        "éastus",
        "west us 2",
    ],
)
def test_normalize_region_rejects(value: str) -> None:
    with pytest.raises(InvalidResourceId, match="is not an Azure region name") as info:
        normalize_region(value, "targetRegion")
    assert str(info.value).startswith("targetRegion ")
    assert "'eastus'" in str(info.value)


@pytest.mark.parametrize("value", [None, 1, ["eastus"], b"eastus"])
def test_normalize_region_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidResourceId, match="must be a string such as 'eastus'"):
        normalize_region(value)


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["rp1", "a", "n" * 80, "rp.1_(x)-y"])
def test_validate_resource_name_accepts(value: str) -> None:
    assert validate_resource_name(value, "restore point name") == value


@pytest.mark.parametrize(
    "value", ["", "n" * 81, "a/b", "a?b", "a#b", "a&b", "a%b", "a\\b", "a b", 7]
)
def test_validate_resource_name_rejects(value: object) -> None:
    with pytest.raises(InvalidResourceId, match="must be 1-80 characters") as info:
        validate_resource_name(value, "targetCollectionName")
    assert str(info.value).startswith("targetCollectionName ")


@pytest.mark.parametrize("value", ["rg", "My.RG_(1)-x", "a" * 90])
def test_validate_resource_group_name_accepts(value: str) -> None:
    assert validate_resource_group_name(value) == value


@pytest.mark.parametrize("value", ["", "rg.", "a" * 91, "rg/x", "rg x", "rg#", None])
def test_validate_resource_group_name_rejects(value: object) -> None:
    with pytest.raises(InvalidResourceId, match="must be 1-90"):
        validate_resource_group_name(value, "targetResourceGroup")


# -- same_id --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (RPC, RPC, True),
        (RPC, RPC.lower(), True),
        (RPC, RPC.upper(), True),
        (RPC, RPC + "/", True),
        (RPC + "/", RPC.lower(), True),
        (RPC, RP, False),
        (RPC, RPC.replace("rpc1", "rpc2"), False),
        (RPC, RPC.replace(SUB, SUB.replace("0b1f", "1b1f")), False),
        (RP, RP.replace("restorePoints/rp1", "restorePoints/rp1x"), False),
    ],
)
def test_same_id(a: str, b: str, expected: bool) -> None:
    assert same_id(a, b) is expected
    assert same_id(b, a) is expected


# -- building -------------------------------------------------------------------------------


def test_collection_build_and_restore_point() -> None:
    rpc = CollectionId.build(SUB, "rg-prod", "rpc1")
    assert str(rpc) == RPC
    rp = rpc.restore_point("rp1")
    assert str(rp) == RP
    assert rp == RestorePointId.parse(RP)
    assert rp.collection is rpc


@pytest.mark.parametrize(
    ("sub", "rg", "name"),
    [
        ("not-a-guid", "rg", "rpc"),
        (SUB, "rg.", "rpc"),
        (SUB, "rg", "bad/name"),
        (SUB, "rg", ""),
        (SUB, "rg", "n" * 81),
        (SUB, "rg", "rpc\n"),
    ],
)
def test_collection_build_rejects(sub: str, rg: str, name: str) -> None:
    with pytest.raises(InvalidResourceId) as info:
        CollectionId.build(sub, rg, name)
    assert RPC_SHAPE in str(info.value)


@pytest.mark.parametrize("name", ["", "a/b", "a b", "n" * 81, "rp?x"])
def test_restore_point_rejects_bad_name(name: str) -> None:
    rpc = CollectionId.parse(RPC)
    with pytest.raises(InvalidResourceId, match="restore point name"):
        rpc.restore_point(name)
