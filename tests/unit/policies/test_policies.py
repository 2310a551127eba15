"""shared/policies/: the policy file format, its error messages, tag policies and matching."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.errors import PolicyError
from shared.jobs.intake import default_collection_name
from shared.model.ids import CollectionId
from shared.model.resources import CollectionInfo
from shared.policies.loading import load_policy_file, parse_policy_text
from shared.policies.names import (
    DEFAULT_COLLECTION_TEMPLATE,
    render_collection_name,
    template_problems,
)
from shared.policies.resolution import PolicySet, ResolvedTarget
from shared.policies.tags import TagNames, targets_from_tags

FIXTURES = Path(__file__).parents[2] / "fixtures" / "policies"
DOCS = Path(__file__).parents[3] / "docs" / "policies.md"

SUB_A = "00000000-0000-0000-0000-0000000000aa"
SUB_B = "00000000-0000-0000-0000-0000000000bb"


def rpc(name: str, rg: str = "rg-prod", sub: str = SUB_A) -> CollectionId:
    return CollectionId.build(sub, rg, name)


def info(
    name: str = "vm1-rpc",
    rg: str = "rg-prod",
    sub: str = SUB_A,
    region: str = "eastus",
    tags: dict[str, str] | None = None,
    *,
    is_copy_target: bool = False,
) -> CollectionInfo:
    return CollectionInfo(rpc(name, rg, sub), region, tags or {}, is_copy_target)


def problems_of(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy_text(text, source_name="policies.json", **kwargs)
    return [str(problem) for problem in caught.value.problems]


def char_at(text: str, line: int, column: int) -> str:
    return text.splitlines()[line - 1][column - 1 :]


def policy_text(policies: list[dict[str, object]]) -> str:
    return json.dumps({"version": 1, "policies": policies}, indent=2)


# --------------------------------------------------------------------------------------------
# Valid files


def test_full_fixture_loads_every_field() -> None:
    policies = load_policy_file(FIXTURES / "valid-full.json")
    assert [p.name for p in policies.policies] == ["critical-vms", "prod-vms", "everything-else"]
    critical = policies.policies[0]
    assert critical.match.collection_ids == (
        rpc("sql01-rpc"),
        rpc("erp-rpc", "rg-erp", SUB_B),
    )
    eu = critical.targets[1]
    assert eu.region == "northeurope"
    assert eu.resource_group == "rg-dr-eu"
    assert eu.collection_name == "{sourceCollection}-dr-{targetRegion}"
    assert eu.retention is not None
    assert (eu.retention.keep_last, eu.retention.max_age_days) == (7, None)
    assert eu.rpo_minutes == 240
    prod = policies.policies[1].match
    assert (prod.subscription_id, prod.resource_group, prod.tags) == (
        SUB_A,
        "rg-prod",
        {"environment": "prod"},
    )
    safety_net = policies.policies[2].targets[0]
    assert safety_net.resource_group is None
    assert safety_net.collection_name == DEFAULT_COLLECTION_TEMPLATE
    assert safety_net.retention is None
    assert safety_net.rpo_minutes is None
    assert not policies.is_empty


@pytest.mark.parametrize(
    ("fixture", "policy_count"),
    [("valid-full.json", 3), ("valid-minimal.json", 1), ("valid-empty.json", 0)],
)
def test_valid_fixtures(fixture: str, policy_count: int) -> None:
    policies = load_policy_file(FIXTURES / fixture)
    assert len(policies.policies) == policy_count
    assert policies.is_empty == (policy_count == 0)


def test_empty_policy_set() -> None:
    empty = PolicySet.empty()
    assert empty.is_empty
    assert empty.subscriptions() == ()
    assert empty.targets_for(info()) == []


def test_docs_examples_are_valid_policy_files() -> None:
    # Every complete policy file shown in docs/policies.md must load, so the docs cannot rot.
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    files = [block for block in blocks if '"version"' in block]
    assert len(files) >= 2
    for block in files:
        parse_policy_text(block, source_name="docs/policies.md")
    # The precedence example says what it does.
    precedence = next(block for block in files if '"safety-net"' in block)
    example = parse_policy_text(precedence, source_name="docs/policies.md")
    assert [
        (t.region, t.policy_name, t.keep_last) for t in example.targets_for(info("sql01-rpc"))
    ] == [("centralus", "safety-net", None), ("westus", "named", 14)]
    assert [
        (t.region, t.policy_name, t.keep_last) for t in example.targets_for(info("other-rpc"))
    ] == [("centralus", "safety-net", None), ("westus", "safety-net", 2)]


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "valid-minimal.json").read_bytes())
    assert len(load_policy_file(path).policies) == 1


def test_extra_regions_allow_a_new_region() -> None:
    text = policy_text(
        [{"name": "p", "match": {"subscriptionId": SUB_A}, "targets": [{"region": "NewRegion"}]}]
    )
    assert problems_of(text) == [
        "policies.json:11:21: policies[0].targets[0].region: 'newregion' is not a known Azure "
        "region (add it to EXTRA_REGIONS if it is new)"
    ]
    loaded = parse_policy_text(text, source_name="p.json", extra_regions=frozenset({"newregion"}))
    assert loaded.policies[0].targets[0].region == "newregion"


def test_null_means_not_given() -> None:
    target = {
        "region": "westus",
        "resourceGroup": None,
        "collectionName": None,
        "retention": None,
        "rpoMinutes": None,
    }
    match = {"subscriptionId": SUB_A, "resourceGroup": None, "collectionIds": None, "tags": None}
    text = policy_text([{"name": "p", "description": None, "match": match, "targets": [target]}])
    parsed = parse_policy_text(text, source_name="p.json").policies[0]
    assert parsed.targets[0].collection_name == DEFAULT_COLLECTION_TEMPLATE
    assert parsed.targets[0].resource_group is None
    assert parsed.match.tags is None


def test_region_is_normalized() -> None:
    text = policy_text(
        [{"name": "p", "match": {"subscriptionId": SUB_A}, "targets": [{"region": " WestUS "}]}]
    )
    assert parse_policy_text(text, source_name="p.json").policies[0].targets[0].region == "westus"


# --------------------------------------------------------------------------------------------
# Invalid files: every case with its exact message, line, column and field path

# The fragment under test replaces MATCH (line 6, column 16) or TARGET (line 8, column 9).
_BASE = """{
  "version": 1,
  "policies": [
    {
      "name": "p1",
      "match": MATCH,
      "targets": [
        TARGET
      ]
    }
  ]
}"""
_OK_MATCH = f'{{"subscriptionId": "{SUB_A}"}}'
_OK_TARGET = '{"region": "westus"}'
_VM_ID = f"/subscriptions/{SUB_A}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
_RPC_ID = str(rpc("vm1-rpc"))
_RG_RULE = "must be 1-90 letters, digits, '-', '_', '.', '(' or ')' and must not end with '.'"
_PLACEHOLDER_LIST = (
    "{sourceCollection}, {sourceResourceGroup}, {sourceRegion}, {targetRegion}, {subscriptionId}"
)
_NAME_RULE = "must be 1-80 characters with no '/', '?', '#', '&', '%', '\\' or whitespace"

# (target fragment, column on line 8, field path under policies[0].targets[0], message, points at)
TARGET_CASES = [
    (
        '{"region": "mars"}',
        20,
        "region",
        "'mars' is not a known Azure region (add it to EXTRA_REGIONS if it is new)",
        '"mars"',
    ),
    (
        '{"region": "West US"}',
        20,
        "region",
        "region 'West US' is not an Azure region name (lower case letters and digits, such as "
        "'eastus' or 'westeurope')",
        '"West US"',
    ),
    ('{"region": 5}', 20, "region", "must be a string, not 5", "5}"),
    ("{}", 9, "region", "required field is missing", "{}"),
    ('"westus"', 9, "", 'must be an object, not the string "westus"', '"westus"'),
    (
        '{"region": "westus", "regions": ["eastus"]}',
        30,
        "regions",
        "unknown field (allowed here: region, resourceGroup, collectionName, retention, "
        "rpoMinutes, subscriptionId, diskEncryptionSetId, copyTags, mode, excludeDisks, "
        "copySchedule)",
        '"regions"',
    ),
    (
        '{"region": "westus", "rpo_minutes": 5}',
        30,
        "rpo_minutes",
        "unknown field (allowed here: region, resourceGroup, collectionName, retention, "
        "rpoMinutes, subscriptionId, diskEncryptionSetId, copyTags, mode, excludeDisks, "
        "copySchedule)",
        '"rpo_minutes"',
    ),
    ('{"region": "westus", "rpoMinutes": 0}', 44, "rpoMinutes", "must be at least 1, not 0", "0}"),
    ('{"region": "westus", "rpoMinutes": -5}', 44, "rpoMinutes", "must be at least 1, not -5", "-"),
    (
        '{"region": "westus", "rpoMinutes": 1.5}',
        44,
        "rpoMinutes",
        "must be a whole number, not 1.5",
        "1.5",
    ),
    (
        '{"region": "westus", "rpoMinutes": "240"}',
        44,
        "rpoMinutes",
        'must be a whole number, not the string "240"',
        '"240"',
    ),
    (
        '{"region": "westus", "rpoMinutes": true}',
        44,
        "rpoMinutes",
        "must be a whole number, not true",
        "true",
    ),
    (
        '{"region": "westus", "retention": {}}',
        43,
        "retention",
        "set keepLast and/or maxAgeDays, or leave retention out to keep every copy",
        "{}",
    ),
    (
        '{"region": "westus", "retention": "forever"}',
        43,
        "retention",
        'must be an object, not the string "forever"',
        '"forever"',
    ),
    (
        '{"region": "westus", "retention": {"keepLast": 0}}',
        56,
        "retention.keepLast",
        "must be at least 1, not 0",
        "0}",
    ),
    (
        '{"region": "westus", "retention": {"keepLast": 2.5}}',
        56,
        "retention.keepLast",
        "must be a whole number, not 2.5",
        "2.5",
    ),
    (
        '{"region": "westus", "retention": {"maxAgeDays": 0}}',
        58,
        "retention.maxAgeDays",
        "must be greater than 0, not 0",
        "0}",
    ),
    (
        '{"region": "westus", "retention": {"maxAgeDays": -1.5}}',
        58,
        "retention.maxAgeDays",
        "must be greater than 0, not -1.5",
        "-1.5",
    ),
    (
        '{"region": "westus", "retention": {"maxAgeDays": "7"}}',
        58,
        "retention.maxAgeDays",
        'must be a number, not the string "7"',
        '"7"',
    ),
    (
        '{"region": "westus", "retention": {"keepLast": 3, "keep": 1}}',
        59,
        "retention.keep",
        "unknown field (allowed here: keepLast, maxAgeDays)",
        '"keep"',
    ),
    (
        '{"region": "westus", "resourceGroup": "rg/dr"}',
        47,
        "resourceGroup",
        f"resource group 'rg/dr' {_RG_RULE}",
        '"rg/dr"',
    ),
    (
        '{"region": "westus", "resourceGroup": "rg-dr."}',
        47,
        "resourceGroup",
        f"resource group 'rg-dr.' {_RG_RULE}",
        '"rg-dr."',
    ),
    (
        '{"region": "westus", "collectionName": "{sourceCollection}-{foo}"}',
        48,
        "collectionName",
        f"unknown placeholder {{foo}}; use {_PLACEHOLDER_LIST}",
        '"{sourceCollection}-{foo}"',
    ),
    (
        '{"region": "westus", "collectionName": "{sourceCollection}-{targetRegion"}',
        48,
        "collectionName",
        "has a '{' or '}' that is not part of a {placeholder}",
        '"{sourceCollection}-{targetRegion"',
    ),
    (
        '{"region": "westus", "collectionName": "dr-{targetRegion}"}',
        48,
        "collectionName",
        "must contain {sourceCollection}: every matched source needs its own target collection",
        '"dr-{targetRegion}"',
    ),
    (
        '{"region": "westus", "collectionName": ""}',
        48,
        "collectionName",
        "must not be empty",
        '""',
    ),
    (
        '{"region": "westus", "collectionName": "{sourceCollection}/dr"}',
        48,
        "collectionName",
        "renders an invalid name for a source collection of 8 characters: collection name "
        f"'vm01-rpc/dr' {_NAME_RULE}",
        '"{sourceCollection}/dr"',
    ),
    (
        '{"region": "westus", "collectionName": "{sourceCollection} dr"}',
        48,
        "collectionName",
        "renders an invalid name for a source collection of 8 characters: collection name "
        f"'vm01-rpc dr' {_NAME_RULE}",
        '"{sourceCollection} dr"',
    ),
    (
        '{"region": "westus", "collectionName": "' + "x" * 80 + '-{sourceCollection}"}',
        48,
        "collectionName",
        "renders an invalid name for a source collection of 8 characters: collection name "
        f"'{'x' * 80}-v' {_NAME_RULE}",
        '"xxx',
    ),
    (
        '{"region": "westus", "collectionName": "{sourceCollection}"}',
        48,
        "collectionName",
        "renders the source collection's own name and no resourceGroup is set: the target "
        "would collide with the source in its resource group",
        '"{sourceCollection}"',
    ),
    (
        '{"region": "westus", "collectionName": 7}',
        48,
        "collectionName",
        "must be a string, not 7",
        "7}",
    ),
]


@pytest.mark.parametrize(("fragment", "column", "field", "message", "points_at"), TARGET_CASES)
def test_invalid_target(
    fragment: str, column: int, field: str, message: str, points_at: str
) -> None:
    text = _BASE.replace("MATCH", _OK_MATCH).replace("TARGET", fragment)
    path = "policies[0].targets[0]" + (f".{field}" if field else "")
    assert problems_of(text) == [f"policies.json:8:{column}: {path}: {message}"]
    assert char_at(text, 8, column).startswith(points_at)


# (match fragment, line, column, field path under policies[0].match, message, points at)
MATCH_CASES = [
    (
        "{}",
        6,
        16,
        "",
        "names no collectionIds, subscriptionId or resourceGroup; a policy must say which "
        "collections it covers (tags only narrow a match, they never widen it to everything the "
        "app can see)",
        "{}",
    ),
    (
        '{"tags": {"env": "prod"}}',
        6,
        16,
        "",
        "names no collectionIds, subscriptionId or resourceGroup; a policy must say which "
        "collections it covers (tags only narrow a match, they never widen it to everything the "
        "app can see)",
        "{",
    ),
    (
        '{"resourceGroup": "rg-prod"}',
        6,
        34,
        ".resourceGroup",
        "needs subscriptionId: a resource group name is only unique within a subscription",
        '"rg-prod"',
    ),
    (
        '{"subscriptionId": "not-a-guid"}',
        6,
        35,
        ".subscriptionId",
        "'not-a-guid' is not a subscription id (a GUID such as "
        "'00000000-0000-0000-0000-000000000000')",
        '"not-a-guid"',
    ),
    (
        f'{{"subscriptionId": "{SUB_A}/resourceGroups/rg"}}',
        6,
        35,
        ".subscriptionId",
        f"'{SUB_A}/resourceGroups/rg' is not a subscription id (a GUID such as "
        "'00000000-0000-0000-0000-000000000000')",
        '"0000',
    ),
    (
        f'{{"subscriptionId": "{SUB_A}", "resourceGroup": "rg prod"}}',
        6,
        92,
        ".resourceGroup",
        f"resource group 'rg prod' {_RG_RULE}",
        '"rg prod"',
    ),
    (
        '{"collectionIds": []}',
        6,
        34,
        ".collectionIds",
        "must list at least one collection id (or leave collectionIds out)",
        "[]",
    ),
    (
        f'{{"collectionIds": "{_RPC_ID}"}}',
        6,
        34,
        ".collectionIds",
        f'must be a list, not the string "{_RPC_ID}"',
        '"/subscriptions',
    ),
    (
        f'{{"collectionIds": ["{_VM_ID}"]}}',
        6,
        35,
        ".collectionIds[0]",
        f"collection id '{_VM_ID}' is not of the form /subscriptions/{{subscriptionId}}"
        "/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/restorePointCollections"
        "/{collectionName}",
        '"/subscriptions',
    ),
    (
        f'{{"collectionIds": [42, "{_RPC_ID}"]}}',
        6,
        35,
        ".collectionIds[0]",
        "collection id must be a string of the form /subscriptions/{subscriptionId}"
        "/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/restorePointCollections"
        "/{collectionName}",
        "42",
    ),
    (
        f'{{"collectionIds": ["{_RPC_ID}", "{_RPC_ID.upper()}"]}}',
        6,
        35 + len(_RPC_ID) + 4,
        ".collectionIds[1]",
        "duplicate collection id (also collectionIds[0])",
        '"/SUBSCRIPTIONS',
    ),
    (
        f'{{"subscriptionId": "{SUB_A}", "tags": {{"env": 1}}}}',
        6,
        91,
        ".tags.env",
        "must be a string, not 1",
        "1}",
    ),
    (
        f'{{"subscriptionId": "{SUB_A}", "tags": {{"Env": "a", "env": "b"}}}}',
        6,
        103,
        ".tags.env",
        "tag 'env' is listed twice (tag names are case-insensitive)",
        '"b"',
    ),
    (
        f'{{"subscriptionId": "{SUB_A}", "tags": ["env"]}}',
        6,
        83,
        ".tags",
        "must be an object, not a list",
        '["env"]',
    ),
    (
        f'{{"subscriptionId": "{SUB_A}", "resource_group": "rg"}}',
        6,
        75,
        ".resource_group",
        "unknown field (allowed here: subscriptionId, resourceGroup, collectionIds, tags)",
        '"resource_group"',
    ),
]


@pytest.mark.parametrize(
    ("fragment", "line", "column", "field", "message", "points_at"), MATCH_CASES
)
def test_invalid_match(
    fragment: str, line: int, column: int, field: str, message: str, points_at: str
) -> None:
    text = _BASE.replace("MATCH", fragment).replace("TARGET", _OK_TARGET)
    assert problems_of(text) == [
        f"policies.json:{line}:{column}: policies[0].match{field}: {message}"
    ]
    assert char_at(text, line, column).startswith(points_at)


# Whole-file cases: (text, [expected problems])
FILE_CASES = [
    (
        '{"version": 2, "policies": []}',
        ["policies.json:1:13: version: unsupported version 2; this app reads version 1"],
    ),
    (
        '{"version": "1", "policies": []}',
        ['policies.json:1:13: version: must be a whole number, not the string "1"'],
    ),
    (
        '{"version": true, "policies": []}',
        ["policies.json:1:13: version: must be a whole number, not true"],
    ),
    ('{"policies": []}', ["policies.json:1:1: version: required field is missing"]),
    ('{"version": 1}', ["policies.json:1:1: policies: required field is missing"]),
    (
        '{"version": 1, "policies": {}}',
        ["policies.json:1:28: policies: must be a list, not an object"],
    ),
    ("[]", ["policies.json:1:1: (top level): must be an object, not a list"]),
    (
        '"policies"',
        ['policies.json:1:1: (top level): must be an object, not the string "policies"'],
    ),
    (
        '{"version": 1, "policies": [], "$schema": "x"}',
        ['policies.json:1:32: ["$schema"]: unknown field (allowed here: version, policies)'],
    ),
    (
        '{"version": 1, "version": 1, "policies": []}',
        ["policies.json:1:16: version: duplicate key; JSON keeps only the last one"],
    ),
    (
        '{"version": 1, "policies": [7]}',
        ["policies.json:1:29: policies[0]: must be an object, not 7"],
    ),
    (
        '{"version": 1, "policies": [{"name": "p", "match": {}, "targets": [{"region": "westus", '
        '"rpoMinutes": NaN}]}]}',
        [
            "policies.json:1:52: policies[0].match: names no collectionIds, subscriptionId or "
            "resourceGroup; a policy must say which collections it covers (tags only narrow a "
            "match, they never widen it to everything the app can see)",
            "policies.json:1:103: policies[0].targets[0].rpoMinutes: NaN and Infinity are not "
            "valid JSON numbers",
            "policies.json:1:103: policies[0].targets[0].rpoMinutes: must be a whole number, "
            "not NaN",
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), FILE_CASES)
def test_invalid_file(text: str, expected: list[str]) -> None:
    assert problems_of(text) == expected


# (policy, [expected problems]) in a policy_text() file: policies[0] is always a valid "p0".
_P0 = {"name": "p0", "match": {"subscriptionId": SUB_A}, "targets": [{"region": "westus"}]}
POLICY_CASES = [
    (
        {**_P0, "name": "P0"},
        [
            "policies.json:16:15: policies[1].name: duplicate policy name 'P0' (also "
            "policies[0].name; names are case-insensitive)"
        ],
    ),
    (
        {**_P0, "name": "bad name"},
        [
            "policies.json:16:15: policies[1].name: 'bad name' must be 1-64 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit"
        ],
    ),
    (
        {**_P0, "name": "tag:vm1-rpc"},
        [
            "policies.json:16:15: policies[1].name: 'tag:vm1-rpc' must be 1-64 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        ],
    ),
    (
        {"name": "p1", "match": {"subscriptionId": SUB_A}},
        ["policies.json:15:5: policies[1].targets: required field is missing"],
    ),
    (
        {**_P0, "name": "p1", "targets": []},
        [
            "policies.json:20:18: policies[1].targets: must list at least one target; a policy "
            "without targets protects nothing"
        ],
    ),
    (
        {**_P0, "name": "p1", "targets": [{"region": "westus"}, {"region": "WestUS"}]},
        [
            "policies.json:25:21: policies[1].targets[1].region: duplicate target region "
            "'westus' (also targets[0]); a policy copies to each region once"
        ],
    ),
    (
        {
            **_P0,
            "name": "p1",
            "targets": [
                {"region": "westus", "collectionName": "{sourceCollection}-dr"},
                {"region": "eastus", "collectionName": "{sourceCollection}-dr"},
            ],
        },
        [
            "policies.json:20:18: policies[1].targets: targets[0] and targets[1] would create "
            "the same collection name in the same resource group; add {targetRegion} to "
            "collectionName or use different resource groups"
        ],
    ),
    (
        {**_P0, "name": "p1", "owner": "ops"},
        [
            "policies.json:25:7: policies[1].owner: unknown field (allowed here: name, "
            "description, match, targets, create, drill)"
        ],
    ),
]


@pytest.mark.parametrize(("policy", "expected"), POLICY_CASES)
def test_invalid_policy(policy: dict[str, object], expected: list[str]) -> None:
    assert problems_of(policy_text([_P0, policy])) == expected


def test_same_template_in_different_resource_groups_is_fine() -> None:
    targets = [
        {"region": "westus", "resourceGroup": "rg-a", "collectionName": "{sourceCollection}-dr"},
        {"region": "eastus", "resourceGroup": "rg-b", "collectionName": "{sourceCollection}-dr"},
    ]
    parse_policy_text(policy_text([{**_P0, "targets": targets}]), source_name="p.json")


def test_every_problem_is_reported_together_in_file_order() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_file(FIXTURES / "invalid-many.json")
    name = str(FIXTURES / "invalid-many.json")
    expected = [
        f"{name}:7:26: policies[0].match.resourceGroup: needs subscriptionId: a resource group "
        "name is only unique within a subscription",
        f"{name}:13:29: policies[0].targets[0].collectionName: unknown placeholder {{region}}; "
        f"use {_PLACEHOLDER_LIST}",
        f"{name}:14:37: policies[0].targets[0].retention.keepLast: must be at least 1, not 0",
        f"{name}:15:25: policies[0].targets[0].rpoMinutes: must be a whole number, not the "
        'string "240"',
        f"{name}:18:21: policies[0].targets[1].region: 'mars' is not a known Azure region (add "
        "it to EXTRA_REGIONS if it is new)",
        f"{name}:23:15: policies[1].name: duplicate policy name 'PROD-VMS' (also "
        "policies[0].name; names are case-insensitive)",
        f"{name}:25:18: policies[1].targets: must list at least one target; a policy without "
        "targets protects nothing",
        f"{name}:28:3: comment: unknown field (allowed here: version, policies)",
    ]
    error = caught.value
    assert [str(p) for p in error.problems] == expected
    assert error.source_name == name
    # The exception text names the file and carries every problem, one per line.
    assert str(error).splitlines() == [
        f"policy file {name} refused (8 problems); the app does not run on a partial policy:",
        *(f"  {line}" for line in expected),
    ]
    first = error.problems[0]
    assert (first.line, first.column, first.path) == (7, 26, "policies[0].match.resourceGroup")


# (text, line, column, json message)
SYNTAX_CASES = [
    ("", 1, 1, "Expecting value"),
    ("   \n", 2, 1, "Expecting value"),
    ('{"version": 1,\n  "policies": [}', 2, 16, "Expecting value"),
    ("{'version': 1}", 1, 2, "Expecting property name enclosed in double quotes"),
    ('{"version" 1}', 1, 12, "Expecting ':' delimiter"),
    ('{"version": 1\n "policies": []}', 2, 2, "Expecting ',' delimiter"),
    ('{"version": 1, "policies": ["unterminated]}', 1, 29, "Unterminated string starting at"),
    ('{"version": 1, "policies": []} {}', 1, 32, "Extra data"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), SYNTAX_CASES)
def test_json_syntax_errors_name_line_and_column(
    text: str, line: int, column: int, message: str
) -> None:
    assert problems_of(text) == [f"policies.json:{line}:{column}: invalid JSON: {message}"]


def test_syntax_error_fixture() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_file(FIXTURES / "invalid-syntax.json")
    name = FIXTURES / "invalid-syntax.json"
    assert [str(p) for p in caught.value.problems] == [
        f"{name}:7:40: invalid JSON: Expecting ',' delimiter"
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(PolicyError) as caught:
        load_policy_file(missing)
    assert [str(p) for p in caught.value.problems] == [
        f"{missing}: cannot read the policy file: No such file or directory"
    ]
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"version": 1, "policies": [], "x": "caf\xe9"}')
    with pytest.raises(PolicyError) as caught:
        load_policy_file(latin1)
    assert [str(p) for p in caught.value.problems] == [
        f"{latin1}: is not UTF-8 text (bad byte at offset 40)"
    ]


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    problems = problems_of("[" * 100_000 + "]" * 100_000)
    assert problems == ["policies.json: invalid JSON: nested too deeply"]


# --------------------------------------------------------------------------------------------
# Templates


# (template, source collection, source rg, source region, target region, expected name)
RENDER_CASES = [
    (DEFAULT_COLLECTION_TEMPLATE, "vm1-rpc", "rg-prod", "eastus", "westus", "vm1-rpc-westus"),
    (
        "{sourceResourceGroup}-{sourceCollection}-{sourceRegion}-to-{targetRegion}",
        "vm1-rpc",
        "rg-prod",
        "eastus",
        "westus",
        "rg-prod-vm1-rpc-eastus-to-westus",
    ),
    ("{sourceCollection}-{subscriptionId}", "a", "rg", "eastus", "westus", f"a-{SUB_A}"),
    # Trimming keeps the suffix and shortens the source name, like default_collection_name.
    (DEFAULT_COLLECTION_TEMPLATE, "v" * 80, "rg", "eastus", "westus", "v" * 73 + "-westus"),
    # Two occurrences share the cut.
    (
        "{sourceCollection}-{sourceCollection}",
        "v" * 50,
        "rg",
        "eastus",
        "westus",
        "v" * 39 + "-" + "v" * 39,
    ),
    # The source collection is trimmed to one character before the resource group is touched.
    (
        "{sourceResourceGroup}-{sourceCollection}-dr",
        "c" * 10,
        "g" * 90,
        "eastus",
        "westus",
        "g" * 75 + "-c-dr",
    ),
]


@pytest.mark.parametrize(
    ("template", "collection", "rg", "source_region", "target_region", "expected"), RENDER_CASES
)
def test_render_collection_name(
    template: str,
    collection: str,
    rg: str,
    source_region: str,
    target_region: str,
    expected: str,
) -> None:
    name = render_collection_name(
        template,
        source=rpc(collection, rg),
        source_region=source_region,
        target_region=target_region,
    )
    assert name == expected
    assert len(name) <= 80


@pytest.mark.parametrize("length", [1, 20, 72, 73, 74, 80])
def test_default_template_matches_manual_copy_naming(length: int) -> None:
    # A policy copy and a manual (HTTP) copy of the same source must land in the same collection.
    source = rpc("s" * length)
    for region in ("westus", "germanywestcentral"):
        rendered = render_collection_name(
            DEFAULT_COLLECTION_TEMPLATE, source=source, source_region="eastus", target_region=region
        )
        assert rendered == default_collection_name(source.name, region)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (DEFAULT_COLLECTION_TEMPLATE, []),
        ("{sourceCollection}", []),
        ("", ["must not be empty"]),
        (
            "{nope}{sourceCollection}{}",
            [
                f"unknown placeholder {{nope}}; use {_PLACEHOLDER_LIST}",
                f"unknown placeholder {{}}; use {_PLACEHOLDER_LIST}",
            ],
        ),
        (
            "x}",
            [
                "has a '{' or '}' that is not part of a {placeholder}",
                "must contain {sourceCollection}: every matched source needs its own target "
                "collection",
            ],
        ),
    ],
)
def test_template_problems(template: str, expected: list[str]) -> None:
    assert template_problems(template) == expected


# --------------------------------------------------------------------------------------------
# Matching


def _policies(*policies: dict[str, object]) -> PolicySet:
    return parse_policy_text(policy_text(list(policies)), source_name="p.json")


def _regions(targets: list[ResolvedTarget]) -> list[tuple[str, str]]:
    return [(t.region, t.policy_name) for t in targets]


FULL = load_policy_file(FIXTURES / "valid-full.json")

# (collection, expected (region, policy) pairs) against valid-full.json
MATCH_TABLE = [
    # Named collection: both targets of critical-vms; the subscription safety net adds centralus.
    (
        info("sql01-rpc"),
        [
            ("centralus", "everything-else"),
            ("northeurope", "critical-vms"),
            ("westus", "critical-vms"),
        ],
    ),
    # Ids compare case-insensitively, like ARM.
    (
        info("SQL01-RPC", "RG-PROD", SUB_A.upper()),
        [
            ("centralus", "everything-else"),
            ("northeurope", "critical-vms"),
            ("westus", "critical-vms"),
        ],
    ),
    # Named collection in another subscription: only its own policy.
    (
        info("erp-rpc", "rg-erp", SUB_B),
        [("northeurope", "critical-vms"), ("westus", "critical-vms")],
    ),
    # Resource group + tag: the tag value matches, the tag name case does not matter.
    (
        info(tags={"Environment": "prod"}),
        [("centralus", "everything-else"), ("westus", "prod-vms")],
    ),
    (
        info(tags={"environment": "prod"}),
        [("centralus", "everything-else"), ("westus", "prod-vms")],
    ),
    # Tag values are case-sensitive; a wrong value or no tag falls through to the subscription.
    (
        info(tags={"environment": "Prod"}),
        [("centralus", "everything-else"), ("westus", "everything-else")][:1],
    ),
    (info(), [("centralus", "everything-else")]),
    # Resource group names are case-insensitive.
    (
        info(rg="RG-Prod", tags={"environment": "prod"}),
        [("centralus", "everything-else"), ("westus", "prod-vms")],
    ),
    (info(rg="rg-other", tags={"environment": "prod"}), [("centralus", "everything-else")]),
    # Another subscription that no policy names.
    (info(sub="00000000-0000-0000-0000-0000000000cc"), []),
    # The app's own target collections are never sources, whatever they match.
    (info("sql01-rpc", is_copy_target=True), []),
    (info(tags={"rpcopy-targets": "westus"}, is_copy_target=True), []),
]


@pytest.mark.parametrize(("collection", "expected"), MATCH_TABLE)
def test_matching(collection: CollectionInfo, expected: list[tuple[str, str]]) -> None:
    assert _regions(FULL.targets_for(collection)) == expected


def test_resolved_target_carries_everything_rendered() -> None:
    targets = FULL.targets_for(info("sql01-rpc"))
    assert targets[1] == ResolvedTarget(
        policy_name="critical-vms",
        matched_by="collectionIds",
        region="northeurope",
        resource_group="rg-dr-eu",
        collection_name="sql01-rpc-dr-northeurope",
        collection_id=rpc("sql01-rpc-dr-northeurope", "rg-dr-eu"),
        keep_last=7,
        max_age_days=None,
        rpo_minutes=240,
    )
    # No resource group in the policy: the source's own resource group; default name template.
    assert targets[0] == ResolvedTarget(
        policy_name="everything-else",
        matched_by="subscriptionId",
        region="centralus",
        resource_group="rg-prod",
        collection_name="sql01-rpc-centralus",
        collection_id=rpc("sql01-rpc-centralus"),
        keep_last=None,
        max_age_days=None,
        rpo_minutes=None,
    )


def test_tags_narrow_explicit_ids_too() -> None:
    policies = _policies(
        {
            "name": "named",
            "match": {"collectionIds": [str(rpc("vm1-rpc"))], "tags": {"tier": "gold"}},
            "targets": [{"region": "westus"}],
        }
    )
    assert policies.targets_for(info(tags={"TIER": "gold"}))[0].matched_by == "collectionIds"
    assert policies.targets_for(info(tags={"tier": "silver"})) == []


def test_same_region_target_is_dropped_and_reported() -> None:
    resolution = FULL.resolve(info("sql01-rpc", region="WestUS"))
    assert _regions(list(resolution.targets)) == [
        ("centralus", "everything-else"),
        ("northeurope", "critical-vms"),
    ]
    assert resolution.problems == (
        "policy 'critical-vms': target region 'westus' is the collection's own region; skipped "
        "(Azure copies restore points only to another region)",
    )


def test_collision_with_the_source_collection_is_dropped() -> None:
    # The template is fine for a sample source but, with this target resource group, renders the
    # source collection itself for a collection that lives in rg-dr.
    policies = _policies(
        {
            "name": "p",
            "match": {"subscriptionId": SUB_A},
            "targets": [
                {
                    "region": "westus",
                    "resourceGroup": "rg-dr",
                    "collectionName": "{sourceCollection}",
                }
            ],
        }
    )
    assert policies.targets_for(info(rg="rg-prod"))[0].collection_id == rpc("vm1-rpc", "rg-dr")
    resolution = policies.resolve(info(rg="rg-dr"))
    assert resolution.targets == ()
    assert resolution.problems == (
        "policy 'p': target region 'westus' skipped: collection 'vm1-rpc' in resource group "
        "'rg-dr' is already the source",
    )


def test_collision_between_policies_is_dropped() -> None:
    policies = _policies(
        {
            "name": "a",
            "match": {"subscriptionId": SUB_A},
            "targets": [
                {
                    "region": "westus",
                    "resourceGroup": "rg-dr",
                    "collectionName": "{sourceCollection}-dr",
                }
            ],
        },
        {
            "name": "b",
            "match": {"subscriptionId": SUB_A},
            "targets": [
                {
                    "region": "eastus2",
                    "resourceGroup": "RG-DR",
                    "collectionName": "{sourceCollection}-DR",
                }
            ],
        },
    )
    resolution = policies.resolve(info(region="centralus"))
    assert _regions(list(resolution.targets)) == [("eastus2", "b")]
    assert resolution.problems == (
        "policy 'a': target region 'westus' skipped: collection 'vm1-rpc-dr' in resource group "
        "'rg-dr' is already the target for region 'eastus2'",
    )


# Precedence: per target region, the most specific match wins:
# collectionIds > the collection's own tags > resourceGroup > subscriptionId; ties: file order.
_BY_SUB = {"name": "by-sub", "match": {"subscriptionId": SUB_A}}
_BY_RG = {"name": "by-rg", "match": {"subscriptionId": SUB_A, "resourceGroup": "rg-prod"}}
_BY_ID = {"name": "by-id", "match": {"collectionIds": [str(rpc("vm1-rpc"))]}}
_TAGS = {"rpcopy-targets": "westus", "rpcopy-keep-last": "9"}

PRECEDENCE_CASES = [
    ([_BY_SUB, _BY_RG, _BY_ID], {}, "by-id", "collectionIds", 3),
    ([_BY_ID, _BY_RG, _BY_SUB], {}, "by-id", "collectionIds", 3),
    ([_BY_SUB, _BY_RG], {}, "by-rg", "resourceGroup", 2),
    ([_BY_RG, _BY_SUB], {}, "by-rg", "resourceGroup", 2),
    ([_BY_SUB], {}, "by-sub", "subscriptionId", 1),
    ([_BY_SUB, _BY_RG], _TAGS, "tag:vm1-rpc", "collectionTags", 9),
    ([_BY_SUB, _BY_RG, _BY_ID], _TAGS, "by-id", "collectionIds", 3),
    ([], _TAGS, "tag:vm1-rpc", "collectionTags", 9),
    # Equal specificity: the first policy in the file wins.
    ([_BY_SUB, {**_BY_SUB, "name": "by-sub-2"}], {}, "by-sub", "subscriptionId", 1),
    ([{**_BY_SUB, "name": "by-sub-2"}, _BY_SUB], {}, "by-sub-2", "subscriptionId", 1),
]


@pytest.mark.parametrize(("order", "tags", "winner", "matched_by", "keep_last"), PRECEDENCE_CASES)
def test_precedence(
    order: list[dict[str, object]],
    tags: dict[str, str],
    winner: str,
    matched_by: str,
    keep_last: int,
) -> None:
    keep = {"by-id": 3, "by-rg": 2, "by-sub": 1, "by-sub-2": 1}
    policies = [
        {**p, "targets": [{"region": "westus", "retention": {"keepLast": keep[str(p["name"])]}}]}
        for p in order
    ]
    parsed = _policies(*policies) if policies else PolicySet.empty()
    (target,) = parsed.targets_for(info(tags=tags))
    assert (target.policy_name, target.matched_by, target.keep_last) == (
        winner,
        matched_by,
        keep_last,
    )


def test_precedence_is_per_region_and_never_merges_fields() -> None:
    policies = _policies(
        {
            "name": "by-sub",
            "match": {"subscriptionId": SUB_A},
            "targets": [
                {"region": "westus", "retention": {"keepLast": 5}, "rpoMinutes": 60},
                {"region": "northeurope", "rpoMinutes": 120},
            ],
        },
    )
    targets = policies.targets_for(info(tags={"rpcopy-targets": "westus:rg-own"}))
    assert [
        (t.region, t.policy_name, t.resource_group, t.keep_last, t.rpo_minutes) for t in targets
    ] == [
        ("northeurope", "by-sub", "rg-prod", None, 120),
        # The tag wins westus entirely: its (absent) retention and RPO, not the policy's.
        ("westus", "tag:vm1-rpc", "rg-own", None, None),
    ]


def test_subscriptions() -> None:
    assert FULL.subscriptions() == (SUB_A, SUB_B)
    policies = _policies(
        {
            "name": "a",
            "match": {"subscriptionId": SUB_B.upper()},
            "targets": [{"region": "westus"}],
        },
        {
            "name": "b",
            "match": {"collectionIds": [str(rpc("x", sub=SUB_B)), str(rpc("y", sub=SUB_A))]},
            "targets": [{"region": "westus"}],
        },
    )
    assert policies.subscriptions() == (SUB_A, SUB_B)


# --------------------------------------------------------------------------------------------
# Tag policies

# (tags, expected [(region, resource group, keep_last, max_age_days, rpo)], expected problems)
TAG_CASES = [
    ({}, [], []),
    ({"owner": "me"}, [], []),
    ({"rpcopy-targets": "westus"}, [("westus", None, None, None, None)], []),
    (
        {"RPCOPY-TARGETS": " westus, northeurope:rg-dr-eu ;WESTUS2\tcentralus "},
        [
            ("westus", None, None, None, None),
            ("northeurope", "rg-dr-eu", None, None, None),
            ("westus2", None, None, None, None),
            ("centralus", None, None, None, None),
        ],
        [],
    ),
    (
        {
            "rpcopy-targets": "westus northeurope:rg-eu",
            "rpcopy-keep-last": "5",
            "rpcopy-max-age-days": "1.5",
            "Rpcopy-Rpo-Minutes": " 90 ",
            "rpcopy-target-resource-group": "rg-dr",
        },
        [("westus", "rg-dr", 5, 1.5, 90), ("northeurope", "rg-eu", 5, 1.5, 90)],
        [],
    ),
    # Partially invalid: the bad entries are skipped and reported, the rest still protects.
    (
        {"rpcopy-targets": "westus, mars, Bad/Region, westus, eastus:rg/x, eastus2:"},
        [("westus", None, None, None, None)],
        [
            "tag rpcopy-targets='westus, mars, Bad/Region, westus, eastus:rg/x, eastus2:': "
            "'mars' is not a known Azure region (add it to EXTRA_REGIONS if it is new); 'mars' "
            "skipped",
            "tag rpcopy-targets='westus, mars, Bad/Region, westus, eastus:rg/x, eastus2:': "
            "region 'Bad/Region' is not an Azure region name (lower case letters and digits, "
            "such as 'eastus' or 'westeurope'); 'Bad/Region' skipped",
            "tag rpcopy-targets='westus, mars, Bad/Region, westus, eastus:rg/x, eastus2:': "
            "'westus' is listed twice; the first entry is used",
            "tag rpcopy-targets='westus, mars, Bad/Region, westus, eastus:rg/x, eastus2:': "
            f"resource group 'rg/x' {_RG_RULE}; 'eastus:rg/x' skipped",
            "tag rpcopy-targets='westus, mars, Bad/Region, westus, eastus:rg/x, eastus2:': "
            f"resource group '' {_RG_RULE}; 'eastus2:' skipped",
        ],
    ),
    # Bad numbers are ignored (keeping more copies is the safe side), targets stay.
    (
        {
            "rpcopy-targets": "westus",
            "rpcopy-keep-last": "three",
            "rpcopy-max-age-days": "0",
            "rpcopy-rpo-minutes": "1.5",
        },
        [("westus", None, None, None, None)],
        [
            "tag rpcopy-keep-last='three': must be a whole number of at least 1; ignored",
            "tag rpcopy-max-age-days='0': must be a number of days greater than 0; ignored",
            "tag rpcopy-rpo-minutes='1.5': must be a whole number of minutes of at least 1; "
            "ignored",
        ],
    ),
    (
        {"rpcopy-targets": "westus", "rpcopy-keep-last": "0", "rpcopy-max-age-days": "nan"},
        [("westus", None, None, None, None)],
        [
            "tag rpcopy-keep-last='0': must be a whole number of at least 1; ignored",
            "tag rpcopy-max-age-days='nan': must be a number of days greater than 0; ignored",
        ],
    ),
    (
        {"rpcopy-targets": "westus", "rpcopy-keep-last": "٣", "rpcopy-max-age-days": "1e3"},
        [("westus", None, None, None, None)],
        [
            "tag rpcopy-keep-last='٣': must be a whole number of at least 1; ignored",
            "tag rpcopy-max-age-days='1e3': must be a number of days greater than 0; ignored",
        ],
    ),
    # A bad default resource group drops only the targets that would use it.
    (
        {"rpcopy-targets": "westus eastus:rg-ok", "rpcopy-target-resource-group": "rg bad"},
        [("eastus", "rg-ok", None, None, None)],
        [
            f"tag rpcopy-target-resource-group='rg bad': resource group 'rg bad' {_RG_RULE}",
            "tag rpcopy-targets='westus eastus:rg-ok': 'westus' skipped: its resource group tag "
            "is invalid",
        ],
    ),
    # Garbage.
    ({"rpcopy-targets": ""}, [], ["tag rpcopy-targets='': lists no regions"]),
    ({"rpcopy-targets": " ,; "}, [], ["tag rpcopy-targets=',;': lists no regions"]),
    (
        {"rpcopy-targets": "::::"},
        [],
        [
            "tag rpcopy-targets='::::': region '' is not an Azure region name (lower case letters "
            "and digits, such as 'eastus' or 'westeurope'); '::::' skipped"
        ],
    ),
    (
        {"rpcopy-targets": "\x00\x07"},
        [],
        [
            "tag rpcopy-targets='\\x00\\x07': region '\\x00\\x07' is not an Azure region name "
            "(lower case letters and digits, such as 'eastus' or 'westeurope'); '\\x00\\x07' "
            "skipped"
        ],
    ),
    ({"rpcopy-targets": None}, [], ["tag rpcopy-targets: value must be text; ignored"]),
    # Settings without a target list do nothing, and say so.
    (
        {"rpcopy-keep-last": "3", "rpcopy-rpo-minutes": "60"},
        [],
        [
            "tag rpcopy-keep-last is set but rpcopy-targets is not; it has no effect",
            "tag rpcopy-rpo-minutes is set but rpcopy-targets is not; it has no effect",
        ],
    ),
]


@pytest.mark.parametrize(("tags", "expected", "problems"), TAG_CASES)
def test_targets_from_tags(
    tags: dict[str, str],
    expected: list[tuple[str, str | None, int | None, float | None, int | None]],
    problems: list[str],
) -> None:
    targets, found = targets_from_tags(tags)
    assert found == problems
    got = [
        (
            t.region,
            t.resource_group,
            t.retention.keep_last if t.retention else None,
            t.retention.max_age_days if t.retention else None,
            t.rpo_minutes,
        )
        for t in targets
    ]
    assert got == expected
    assert all(t.collection_name == DEFAULT_COLLECTION_TEMPLATE for t in targets)


def test_tag_names_and_extra_regions_come_from_settings() -> None:
    names = TagNames(targets="dr-regions", keep_last="dr-keep")
    tags = {"dr-regions": "westus newregion", "dr-keep": "2", "rpcopy-targets": "eastus"}
    targets, problems = targets_from_tags(
        tags, tag_names=names, extra_regions=frozenset({"newregion"})
    )
    assert [(t.region, t.retention.keep_last if t.retention else None) for t in targets] == [
        ("westus", 2),
        ("newregion", 2),
    ]
    assert problems == []
    policies = PolicySet.empty(tag_names=names, extra_regions=frozenset({"newregion"}))
    assert _regions(policies.targets_for(info(tags=tags))) == [
        ("newregion", "tag:vm1-rpc"),
        ("westus", "tag:vm1-rpc"),
    ]


def test_tag_policy_resolution_reports_problems_and_same_region() -> None:
    collection = info(region="westus", tags={"rpcopy-targets": "westus, eastus, mars"})
    resolution = PolicySet.empty().resolve(collection)
    assert [(t.region, t.collection_name, t.resource_group) for t in resolution.targets] == [
        ("eastus", "vm1-rpc-eastus", "rg-prod")
    ]
    assert resolution.problems == (
        "tag rpcopy-targets='westus, eastus, mars': 'mars' is not a known Azure region (add it "
        "to EXTRA_REGIONS if it is new); 'mars' skipped",
        "policy 'tag:vm1-rpc': target region 'westus' is the collection's own region; skipped "
        "(Azure copies restore points only to another region)",
    )
