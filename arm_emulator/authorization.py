"""`GET {scope}/providers/Microsoft.Authorization/permissions`: the caller's permissions.

Azure answers the actions the caller holds at the scope through its role assignments; the
emulator answers a configured set per bearer token (config `permissions`, token -> actions,
`"*"` for any other token), so a preflight can be tested both permitted and lacking actions.
The scope must exist (a missing resource group is answered as Azure does, 404).
"""

from __future__ import annotations

from . import lookups
from .core import Core
from .ids import Route
from .wire import ArmRequest, Reply


def list_permissions(core: Core, route: Route, req: ArmRequest) -> Reply:
    if route.resource_group is not None:
        lookups.require_rg(core.store, route.subscription, route.resource_group)
    table = core.config.permissions
    actions = table.get(req.token, table.get("*", []))
    return Reply(
        200,
        {
            "value": [
                {
                    "actions": list(actions),
                    "notActions": [],
                    "dataActions": [],
                    "notDataActions": [],
                }
            ]
        },
    )
