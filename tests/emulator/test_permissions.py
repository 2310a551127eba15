"""`GET {scope}/providers/Microsoft.Authorization/permissions`: the caller's permissions, as a
configured set per bearer token (what the app's preflight reads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.emulator.conftest import SUB, standard_scenario

RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/rg"
SUB_SCOPE = f"/subscriptions/{SUB}"
PATH = "/providers/Microsoft.Authorization/permissions"


async def test_any_token_holds_everything_by_default(make_arm: Callable[..., Any]) -> None:
    arm = await make_arm(standard_scenario())
    for scope in (RG_SCOPE, SUB_SCOPE):
        r = await arm.get(scope + PATH, api="2022-04-01")
        assert r.status_code == 200, r.text
        (entry,) = r.json()["value"]
        assert entry == {
            "actions": ["*"],
            "notActions": [],
            "dataActions": [],
            "notDataActions": [],
        }


async def test_actions_are_configured_per_token(make_arm: Callable[..., Any]) -> None:
    arm = await make_arm(standard_scenario(), permissions={"test-token": ["*/read"], "*": []})
    r = await arm.get(RG_SCOPE + PATH, api="2022-04-01")
    assert r.json()["value"][0]["actions"] == ["*/read"]
    other = await arm.get(
        RG_SCOPE + PATH,
        api="2022-04-01",
        headers={"Authorization": "Bearer someone-else"},
    )
    assert other.json()["value"][0]["actions"] == []


async def test_a_missing_resource_group_and_a_bad_api_version(
    make_arm: Callable[..., Any],
) -> None:
    arm = await make_arm(standard_scenario())
    missing = await arm.get(f"/subscriptions/{SUB}/resourceGroups/nope{PATH}", api="2022-04-01")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceGroupNotFound"
    wrong = await arm.get(RG_SCOPE + PATH, api="2025-04-01")
    assert wrong.status_code == 400
