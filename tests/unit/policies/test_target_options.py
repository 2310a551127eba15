"""Policy targets in another subscription, with a disk encryption set, copied tags, and the
create-in-target mode: what is accepted, what it resolves to, and every refusal with its file,
line, column and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.errors import PolicyError
from shared.model.copy_options import CopyOptions
from shared.model.ids import CollectionId
from shared.model.resources import CollectionInfo
from shared.policies.loading import parse_policy_text
from shared.policies.resolution import PolicySet

SUB_A = "00000000-0000-0000-0000-0000000000aa"
SUB_B = "00000000-0000-0000-0000-0000000000bb"
DES_WEST = (
    f"/subscriptions/{SUB_B}/resourceGroups/rg-keys/providers/Microsoft.Compute/"
    "diskEncryptionSets/des-westus"
)
DISK = f"/subscriptions/{SUB_A}/resourceGroups/rg-prod/providers/Microsoft.Compute/disks/scratch"


def text_of(target: dict[str, object]) -> str:
    return json.dumps(
        {
            "version": 1,
            "policies": [{"name": "p", "match": {"subscriptionId": SUB_A}, "targets": [target]}],
        },
        indent=2,
    )


def load(target: dict[str, object]) -> PolicySet:
    return parse_policy_text(text_of(target), source_name="policies.json")


def problems(target: dict[str, object]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load(target)
    return [str(p) for p in caught.value.problems]


def source(vm: str | None = None) -> CollectionInfo:
    return CollectionInfo(
        CollectionId.build(SUB_A, "rg-prod", "vm1-rpc"),
        "eastus",
        {"env": "prod"},
        False,
        vm,
    )


def test_target_in_another_subscription_with_encryption_and_tags() -> None:
    policies = load(
        {
            "region": "westus",
            "subscriptionId": SUB_B,
            "resourceGroup": "rg-dr",
            "diskEncryptionSetId": DES_WEST,
            "copyTags": ["env", "Owner"],
        }
    )
    [target] = policies.targets_for(source())
    assert target.collection_id == CollectionId.build(SUB_B, "rg-dr", "vm1-rpc-westus")
    assert target.options == CopyOptions(
        target_subscription_id=SUB_B,
        disk_encryption_set_id=DES_WEST,
        copy_tags=("env", "Owner"),
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(True, "all"), (False, None), (["a", "B"], ("a", "B"))]
)
def test_copy_tags_values(value: object, expected: object) -> None:
    [target] = load({"region": "westus", "copyTags": value}).targets_for(source())
    assert target.options.copy_tags == expected


def test_a_target_in_another_subscription_may_reuse_the_source_name() -> None:
    # Without a subscription this template collides with the source; in another one it cannot.
    [target] = load(
        {"region": "westus", "subscriptionId": SUB_B, "collectionName": "{sourceCollection}"}
    ).targets_for(source())
    assert target.collection_id == CollectionId.build(SUB_B, "rg-prod", "vm1-rpc")


def test_create_in_target_mode() -> None:
    [target] = load(
        {"region": "westus", "mode": "create-in-target", "excludeDisks": [DISK], "rpoMinutes": 60}
    ).targets_for(source())
    assert target.options.creates_in_target
    assert target.options.exclude_disks == (DISK,)


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        (
            {"region": "westus", "subscriptionId": "nope"},
            "subscriptionId",
            "'nope' is not a subscription id",
        ),
        (
            {"region": "westus", "diskEncryptionSetId": DISK},
            "diskEncryptionSetId",
            "is not of the form /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}"
            "/providers/Microsoft.Compute/diskEncryptionSets/",
        ),
        (
            {"region": "westus", "copyTags": []},
            "copyTags",
            "must list at least one tag name",
        ),
        (
            {"region": "westus", "copyTags": "all"},
            "copyTags",
            "must be true, false or a list of tag names",
        ),
        (
            {"region": "westus", "copyTags": ["rpcopy-managed"]},
            "copyTags",
            "tags named rpcopy-* are the app's own",
        ),
        (
            {"region": "westus", "copyTags": ["Env", "env"]},
            "copyTags",
            "listed twice",
        ),
        (
            {"region": "westus", "copyTags": [f"t{i}" for i in range(46)]},
            "copyTags",
            "at most 45 fit",
        ),
        (
            {"region": "westus", "copyTags": ["a/b"]},
            "copyTags",
            "not a valid Azure tag name",
        ),
        (
            {"region": "westus", "mode": "mirror"},
            "mode",
            "must be 'copy' (the default) or 'create-in-target'",
        ),
        (
            {"region": "westus", "excludeDisks": [DISK]},
            "excludeDisks",
            "only for mode 'create-in-target'",
        ),
        (
            {"region": "westus", "mode": "create-in-target", "excludeDisks": ["disk1"]},
            "excludeDisks",
            "is not of the form",
        ),
        (
            {"region": "westus", "mode": "create-in-target", "diskEncryptionSetId": DES_WEST},
            "diskEncryptionSetId",
            "not supported with mode 'create-in-target'",
        ),
        (
            {"region": "westus", "mode": "create-in-target", "copyTags": True},
            "copyTags",
            "not supported with mode 'create-in-target'",
        ),
    ],
)
def test_bad_target_options_are_refused_with_file_line_and_field(
    target: dict[str, object], field: str, message: str
) -> None:
    found = problems(target)
    assert len(found) == 1, found
    match = re.fullmatch(r"policies\.json:(\d+):(\d+): (\S+): (.*)", found[0])
    assert match is not None, found
    line, column, path, text = int(match[1]), int(match[2]), match[3], match[4]
    assert path == f"policies[0].targets[0].{field}"
    assert message in text
    # The position is the field's line in the file (its value, or its key for cross-checks).
    assert f'"{field}"' in text_of(target).splitlines()[line - 1]
    assert column >= 1


def test_the_docs_examples_resolve_as_described() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "policies.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", docs, re.DOTALL)
    other_sub = next(b for b in blocks if "dr-in-the-dr-subscription" in b)
    [target] = parse_policy_text(other_sub, source_name="docs").targets_for(source())
    assert target.collection_id.subscription_id == SUB_B
    assert target.options.copy_tags == ("env", "owner", "cost-center")
    assert target.options.disk_encryption_set_id is not None
    created = next(b for b in blocks if '"created-in-dr"' in b)
    sql = CollectionInfo(CollectionId.build(SUB_A, "rg-prod", "sql01-rpc"), "eastus", {}, False)
    [target] = parse_policy_text(created, source_name="docs").targets_for(sql)
    assert target.options.creates_in_target
    assert target.rpo_minutes == 240
    assert len(target.options.exclude_disks) == 1
