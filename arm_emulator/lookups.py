"""Finding the resources a request path names, with ARM's errors when they are not there.

The order of the checks is ARM's: a malformed or unknown subscription first, then the resource
group, then the parent resource (`ParentResourceNotFound`), then the resource (`ResourceNotFound`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from . import errors, ids
from .store import (
    DiskRestorePoint,
    ResourceGroup,
    RestorePoint,
    RestorePointCollection,
    Store,
    Subscription,
)

T = TypeVar("T")


def require_subscription(store: Store, sub_id: str) -> Subscription:
    if not ids.GUID_RE.match(sub_id):
        raise errors.invalid_subscription(sub_id)
    sub = store.subscriptions.get(sub_id.lower())
    if sub is None:
        raise errors.subscription_not_found(sub_id)
    return sub


def require_rg(store: Store, sub_id: str, rg: str) -> ResourceGroup:
    require_subscription(store, sub_id)
    group = store.groups.get(ids.key(ids.rg_id(sub_id, rg)))
    if group is None:
        raise errors.resource_group_not_found(rg)
    return group


def in_group(
    store: Store,
    table: dict[str, T],
    route: ids.Route,
    make_id: Callable[[str, str, str], str],
    resource_type: str,
    *,
    as_parent: bool = False,
) -> T:
    """The resource `route.name` of a resource group (a VM, disk or collection)."""
    assert route.resource_group is not None
    assert route.name is not None
    require_rg(store, route.subscription, route.resource_group)
    found = table.get(ids.key(make_id(route.subscription, route.resource_group, route.name)))
    if found is None:
        if as_parent:
            raise errors.parent_not_found(resource_type, route.name)
        raise errors.resource_not_found(resource_type, route.name, route.resource_group)
    return found


def referenced(table: dict[str, T], value: str, kind: str, path: str) -> T:
    """The resource of `kind` that an id in a request body names: 400 `LinkedInvalidPropertyId`
    for an id of another shape, 404 when it does not exist."""
    parsed = ids.parse_resource_id(value)
    if parsed is None or parsed.kind != kind:
        raise errors.invalid_linked_id(value, path)
    found = table.get(ids.key(value))
    if found is None:
        raise errors.referenced_not_found(value, path)
    return found


def rpc_of(store: Store, route: ids.Route, *, as_parent: bool) -> RestorePointCollection:
    return in_group(store, store.rpcs, route, ids.rpc_id, ids.RPC_TYPE, as_parent=as_parent)


def rp_of(store: Store, route: ids.Route, *, as_parent: bool) -> RestorePoint:
    rpc = rpc_of(store, route, as_parent=True)
    assert route.rp is not None
    rp = rpc.restore_points.get(route.rp.lower())
    if rp is None:
        if as_parent:
            raise errors.parent_not_found(ids.RP_TYPE, f"{rpc.name}/{route.rp}")
        raise errors.entity_not_found()
    return rp


def drp_of(store: Store, route: ids.Route) -> tuple[RestorePoint, DiskRestorePoint]:
    rp = rp_of(store, route, as_parent=True)
    assert route.drp is not None
    wanted = route.drp.lower()
    for drp in rp.disks:
        if drp.name.lower() == wanted:
            return rp, drp
    raise errors.entity_not_found()
