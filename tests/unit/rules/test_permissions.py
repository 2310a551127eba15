"""shared/rules/permissions.py: RBAC action matching as Azure evaluates it."""

from __future__ import annotations

import pytest

from shared.rules.permissions import Permission, allows, missing

READ = "Microsoft.Compute/restorePointCollections/read"
WRITE = "Microsoft.Compute/restorePointCollections/write"


@pytest.mark.parametrize(
    ("permissions", "action", "allowed"),
    [
        ([Permission(("*",))], WRITE, True),
        ([Permission(("Microsoft.Compute/*",))], WRITE, True),
        ([Permission(("*/read",))], READ, True),
        ([Permission(("*/read",))], WRITE, False),
        ([Permission((READ.upper(),))], READ, True),  # case-insensitive
        ([Permission(("*",), ("Microsoft.Compute/*/write",))], WRITE, False),
        ([Permission(("*",), ("Microsoft.Compute/*/write",))], READ, True),
        # notActions only subtract within their own entry: another entry can still allow.
        ([Permission(("*",), (WRITE,)), Permission((WRITE,))], WRITE, True),
        ([], READ, False),
        ([Permission(("Microsoft.Compute/restorePointCollections",))], READ, False),
    ],
)
def test_allows(permissions: list[Permission], action: str, allowed: bool) -> None:
    assert allows(permissions, action) is allowed


def test_missing_names_each_action_not_allowed() -> None:
    assert missing([Permission(("*/read",))], [READ, WRITE, READ]) == [WRITE]
