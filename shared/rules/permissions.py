"""Pure decision: does a set of Azure RBAC permissions allow an action?

`GET {scope}/providers/Microsoft.Authorization/permissions` answers the caller's permissions at
a scope as a list of {actions, notActions}; an action is allowed when some entry's `actions`
matches it and that same entry's `notActions` does not. Patterns are case-insensitive and `*`
matches any run of characters (`*`, `Microsoft.Compute/*`, `*/read`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.IGNORECASE)


def matches(pattern: str, action: str) -> bool:
    return _pattern(pattern).fullmatch(action) is not None


def allows(permissions: Sequence[Permission], action: str) -> bool:
    return any(
        any(matches(p, action) for p in entry.actions)
        and not any(matches(p, action) for p in entry.not_actions)
        for entry in permissions
    )


def missing(permissions: Sequence[Permission], needed: Iterable[str]) -> list[str]:
    """The needed actions these permissions do not allow, sorted."""
    return sorted(action for action in set(needed) if not allows(permissions, action))
