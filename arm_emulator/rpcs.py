"""ARM handlers for restore point collections: PUT (synchronous, 201/200), PATCH, GET (with
`$expand=restorePoints`), the two list operations with `nextLink` paging, and DELETE (an LRO)."""

from __future__ import annotations

from typing import Any

from . import errors, ids, lookups, rules, versions
from .core import Core
from .rp_bodies import rpc_body
from .store import Operation, RestorePointCollection
from .wire import (
    ArmRequest,
    Reply,
    read_bool,
    read_expand,
    read_location,
    read_object,
    read_string,
    read_tags,
    read_tracked,
)

RPC_WRITE = f"{ids.RPC_TYPE}/write"
RPC_RATE_LIMITS = {
    "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/PutRestorePointCollectionResource;14,"
    "Microsoft.Compute/PutRestorePointCollectionSubscriptionMaximum;149"
}


def _source_and_access(body: dict[str, Any]) -> tuple[str | None, bool | None]:
    """`properties.source.id` and `properties.instantAccess` of a collection body."""
    props = read_object(body.get("properties"), "restorePointCollection.properties")
    source = read_object(props.get("source"), "restorePointCollection.properties.source")
    source_id = read_string(source.get("id"), "restorePointCollection.properties.source.id")
    instant = read_bool(
        props.get("instantAccess"), "restorePointCollection.properties.instantAccess"
    )
    return source_id, instant


def put_rpc(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    assert route.resource_group is not None
    assert route.name is not None
    lookups.require_rg(core.store, route.subscription, route.resource_group)
    body, location, tags = read_tracked(req.body, "restorePointCollection", ids.RPC_TYPE)
    source_id, instant = _source_and_access(body)
    if not versions.at_least(req.api_version, versions.INSTANT_ACCESS_MIN_VERSION):
        instant = None  # not part of older api-versions: ignored
    key = ids.key(ids.rpc_id(route.subscription, route.resource_group, route.name))
    existing = core.store.rpcs.get(key)
    if existing is not None:
        return _update_rpc(core, existing, req, location, tags, source_id, instant)
    if not source_id:
        raise errors.missing_parameter("restorePointCollection.properties.source")
    parsed = ids.parse_resource_id(source_id)
    if parsed is not None and parsed.kind == "vm":
        vm = lookups.referenced(core.store.vms, source_id, "vm", "properties.source.id")
        cross_region = core.config.cross_region_creation != "refuse" and versions.at_least(
            req.api_version, versions.CROSS_REGION_CREATION_MIN_VERSION
        )
        if vm.location != location and not cross_region:
            # undocumented: chosen code ("location must be the VM's region" [DOC]); cross-region
            # creation (arm-contract §14) only in its variants
            raise errors.invalid_parameter(
                f"The restore point collection must be in the region of its source virtual "
                f"machine '{vm.location}', not '{location}'.",
                target="location",
            )
        stored_source, source_location, kind = vm.id, vm.location, "vm"
    else:
        # Not a VM: a collection, or 400 LinkedInvalidPropertyId.
        src = lookups.referenced(core.store.rpcs, source_id, "rpc", "properties.source.id")
        rules.check_copy_target(src, location)
        stored_source, source_location, kind = src.id, src.location, "rpc"
    rpc = RestorePointCollection(
        id=ids.rpc_id(route.subscription, route.resource_group, route.name),
        subscription=route.subscription,
        resource_group=route.resource_group,
        name=route.name,
        location=location,
        tags=tags,
        source_id=stored_source,
        source_kind=kind,
        source_location=source_location,
        rpc_guid=core.new_guid(),
        seq=core.store.next_seq(),
        instant_access=instant,
    )
    core.store.rpcs[key] = rpc
    core.emit_write(rpc.id, RPC_WRITE, req.context, False)
    return Reply(201, rpc_body(rpc, api_version=req.api_version), dict(RPC_RATE_LIMITS))


def _update_rpc(
    core: Core,
    rpc: RestorePointCollection,
    req: ArmRequest,
    location: str,
    tags: dict[str, str] | None,
    source_id: str | None,
    instant: bool | None,
) -> Reply:
    rules.check_not_deleting(rpc)
    if location != rpc.location:
        raise errors.invalid_resource_location(rpc.name, rpc.location, location, rpc.resource_group)
    _check_immutable(rpc, source_id, instant)
    rpc.tags = tags
    rpc.version += 1
    core.emit_write(rpc.id, RPC_WRITE, req.context, True)
    return Reply(200, rpc_body(rpc, api_version=req.api_version), dict(RPC_RATE_LIMITS))


def _check_immutable(
    rpc: RestorePointCollection, source_id: str | None, instant: bool | None
) -> None:
    # "Updating a restore point collection can change only tags" [SPEC text].
    if source_id is not None and ids.key(source_id) != rpc.source_key:
        raise errors.property_change_not_allowed("properties.source.id")
    if instant is not None and instant != bool(rpc.instant_access):
        raise errors.property_change_not_allowed("properties.instantAccess")


def patch_rpc(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rpc = lookups.rpc_of(core.store, route, as_parent=False)
    body = read_object(req.body, "restorePointCollection")
    source_id, instant = _source_and_access(body)
    if "location" in body:
        location = read_location(body, ids.RPC_TYPE)
        if location != rpc.location:
            raise errors.property_change_not_allowed("location")
    rules.check_not_deleting(rpc)
    _check_immutable(rpc, source_id, instant)
    if "tags" in body:
        rpc.tags = read_tags(body)
    rpc.version += 1
    core.emit_write(rpc.id, RPC_WRITE, req.context, True)
    return Reply(200, rpc_body(rpc, api_version=req.api_version))


def get_rpc(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rpc = lookups.rpc_of(core.store, route, as_parent=False)
    expand = read_expand(req.query, "restorePoints")
    body = rpc_body(
        rpc, expand_rps=expand, now=core.now(), cfg=core.config, api_version=req.api_version
    )
    return Reply(200, body)


def list_rpcs(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    if route.kind == "rpc_list":
        assert route.resource_group is not None
        group = lookups.require_rg(core.store, route.subscription, route.resource_group)
        prefix = group.id.lower() + "/"
    else:
        lookups.require_subscription(core.store, route.subscription)
        prefix = f"/subscriptions/{route.subscription}/".lower()
    items = [r for r in core.store.rpcs.values() if r.id.lower().startswith(prefix)]
    items.sort(key=lambda r: r.seq)
    after = 0
    token = req.query.get("$skiptoken")
    if token is not None:
        if not token.isdigit():
            # undocumented: chosen code
            raise errors.invalid_parameter(
                f"The provided $skiptoken '{token}' is invalid.", target="$skiptoken"
            )
        after = int(token)
    page_size = max(1, int(core.config.page_size))
    page = [r for r in items if r.seq > after][: page_size + 1]
    body: dict[str, Any] = {
        "value": [rpc_body(r, api_version=req.api_version) for r in page[:page_size]]
    }
    if len(page) > page_size:
        body["nextLink"] = (
            f"{req.base_url}{req.path}?api-version={req.api_version}"
            f"&$skiptoken={page[page_size - 1].seq}"
        )
    return Reply(200, body)


def delete_rpc(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    assert route.resource_group is not None
    assert route.name is not None
    lookups.require_rg(core.store, route.subscription, route.resource_group)
    rpc = core.store.rpcs.get(
        ids.key(ids.rpc_id(route.subscription, route.resource_group, route.name))
    )
    if rpc is None:
        return Reply(204)  # ARM DELETE is idempotent
    if rpc.delete_operation is not None and not rpc.delete_operation.done:
        return Reply(202, None, _delete_headers(core, rpc.delete_operation, req))
    now = core.now()
    for rp in rpc.restore_points.values():
        rules.check_deletable(rp, now)
    rpc.provisioning_state = "Deleting"
    rpc.version += 1
    op = core.ops.start(
        "rpc_delete",
        rpc.id,
        subscription=rpc.subscription,
        region=rpc.location,
        duration=core.config.delete_seconds,
        api_version=req.api_version,
        context=req.context,
    )
    rpc.delete_operation = op
    return Reply(202, None, _delete_headers(core, op, req))


def _delete_headers(core: Core, op: Operation, req: ArmRequest) -> dict[str, str]:
    headers = core.ops.headers(op, req.base_url)
    headers["Azure-AsyncNotification"] = "Enabled"  # on every DELETE [WIRE]
    return headers
