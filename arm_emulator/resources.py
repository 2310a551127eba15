"""ARM handlers for the resources around restore points: subscriptions, resource groups and
virtual machines (read-only; VMs are seeded)."""

from __future__ import annotations

from . import ids, lookups
from .core import Core
from .errors import ArmError
from .formatting import rg_body, subscription_body, vm_body
from .store import ResourceGroup
from .wire import ArmRequest, Reply, read_tracked

RG_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"


def get_subscription(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    return Reply(
        200, subscription_body(lookups.require_subscription(core.store, route.subscription))
    )


def put_rg(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    lookups.require_subscription(core.store, route.subscription)
    _, location, tags = read_tracked(req.body, "parameters", ids.RG_TYPE)
    assert route.resource_group is not None
    key = ids.key(ids.rg_id(route.subscription, route.resource_group))
    existing = core.store.groups.get(key)
    if existing is not None:
        if existing.location != location:
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{location}'. The Resource group already "
                f"exists in location '{existing.location}'.",
            )
        existing.tags = tags
        core.emit_write(existing.id, RG_WRITE, req.context, True)
        return Reply(200, rg_body(existing))
    group = ResourceGroup(
        ids.rg_id(route.subscription, route.resource_group),
        route.subscription,
        route.resource_group,
        location,
        tags,
        core.store.next_seq(),
    )
    core.store.groups[key] = group
    core.emit_write(group.id, RG_WRITE, req.context, False)
    return Reply(201, rg_body(group))


def get_rg(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    assert route.resource_group is not None
    return Reply(
        200, rg_body(lookups.require_rg(core.store, route.subscription, route.resource_group))
    )


def get_vm(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    vm = lookups.in_group(core.store, core.store.vms, route, ids.vm_id, ids.VM_TYPE)
    return Reply(200, vm_body(vm))
