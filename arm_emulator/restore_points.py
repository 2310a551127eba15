"""ARM handlers for restore points: PUT (a local create or a cross-region copy, 201 + LRO), the
idempotent re-PUT, GET (with `$expand=instanceView`, cached: the hot path) and DELETE (an LRO)."""

from __future__ import annotations

from typing import Any

from . import copies, encryption, errors, ids, local_rps, lookups, rules, versions
from .core import Core
from .errors import ArmError
from .formatting import dumps
from .rp_bodies import instance_view_signature, rp_body
from .store import Operation, RestorePoint, RestorePointCollection
from .wire import (
    ArmRequest,
    Reply,
    read_exclude_disks,
    read_expand,
    read_int,
    read_object,
    read_string,
)

BODY_CACHE_LIMIT = 20000


def put_rp(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rpc = lookups.rpc_of(core.store, route, as_parent=True)
    assert route.rp is not None
    body = read_object(req.body, "restorePoint")
    props = read_object(body.get("properties"), "restorePoint.properties")
    source_ref = read_object(
        props.get("sourceRestorePoint"), "restorePoint.properties.sourceRestorePoint"
    )
    source_id = read_string(source_ref.get("id"), "restorePoint.properties.sourceRestorePoint.id")
    excluded = read_exclude_disks(props)
    mode_raw = read_string(props.get("consistencyMode"), "restorePoint.properties.consistencyMode")
    minutes = read_int(
        props.get("instantAccessDurationMinutes"),
        "restorePoint.properties.instantAccessDurationMinutes",
    )
    inputs = rules.canonical_inputs(props)
    existing = rpc.restore_points.get(route.rp.lower())
    if existing is not None:
        return _re_put_rp(core, existing, inputs, req)
    rules.check_not_deleting(rpc)
    if source_id is not None:
        if not versions.at_least(req.api_version, versions.COPY_MIN_VERSION):
            raise errors.copy_needs_newer_api()
        rp, op = copies.create_copy(
            core,
            rpc,
            route.rp,
            source_id,
            excluded,
            inputs,
            req.api_version,
            req.context,
            encryption.read_copy_encryption(props),
        )
    else:
        rp, op = local_rps.create_local_rp(
            core,
            rpc,
            route.rp,
            excluded=excluded,
            mode_raw=mode_raw,
            minutes=minutes,
            inputs=inputs,
            api_version=req.api_version,
            context=req.context,
        )
    headers = core.ops.headers(
        op,
        req.base_url,
        location=core.config.rp_put_location_header,
        retry_after=core.config.rp_put_location_header,
    )
    headers["Azure-AsyncNotification"] = "Enabled"
    headers.update(_rate_limit_headers(core, rpc, rp))
    return Reply(201, rp_body(rp, core.now(), core.config, api_version=req.api_version), headers)


def _rate_limit_headers(
    core: Core, rpc: RestorePointCollection, rp: RestorePoint
) -> dict[str, str]:
    remaining = rules.remaining_copy_puts(rpc, core.now(), core.config) if rp.replicates else 5
    return {
        "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/"
        f"PutRestorePointResource;{remaining},"
        "Microsoft.Compute/PutRestorePointSubscriptionMaximum;149"
    }


def _re_put_rp(core: Core, rp: RestorePoint, inputs: tuple[Any, ...], req: ArmRequest) -> Reply:
    """ARM PUTs are idempotent: the same body again returns the current state (201, the only
    status the spec allows for RestorePoints_Create) with the original operation's URL."""
    if rp.provisioning_state == "Deleting":
        raise rules.not_allowed(409, f"Restore point '{rp.name}' is being deleted.")
    if inputs != rp.inputs or core.config.repeated_restore_point_put == "409":
        # undocumented: chosen code; the message is the spec's text. A repeated PUT with the
        # same body gets it too in the "409" variant.
        raise ArmError(
            409,
            "OperationNotAllowed",
            "Updating properties of an existing restore point is not allowed",
        )
    headers: dict[str, str] = {}
    if rp.operation is not None:
        headers = core.ops.headers(
            rp.operation,
            req.base_url,
            location=core.config.rp_put_location_header,
            retry_after=False,
        )
        headers["Azure-AsyncNotification"] = "Enabled"
    status = 200 if core.config.repeated_restore_point_put == "200" else 201
    body = rp_body(rp, core.now(), core.config, api_version=req.api_version)
    return Reply(status, body, headers)


def get_rp(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rp = lookups.rp_of(core.store, route, as_parent=False)
    iv = read_expand(req.query, "instanceView")
    now = core.now()
    # The body depends on the api-version only through the features it has.
    shape = versions.shape(req.api_version)
    sig = instance_view_signature(rp, now, core.config)
    cache_key = (rp.id, rp.version, rp.provisioning_state, iv, shape, sig)
    cached = core.body_cache.get(cache_key)
    if cached is None:
        body = rp_body(rp, now, core.config, expand_instance_view=iv, api_version=req.api_version)
        cached = dumps(body, core.config.pretty_json)
        if len(core.body_cache) > BODY_CACHE_LIMIT:
            core.body_cache.clear()
        core.body_cache[cache_key] = cached
    return Reply(200, cached)


def delete_rp(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rpc = lookups.rpc_of(core.store, route, as_parent=True)
    assert route.rp is not None
    rp = rpc.restore_points.get(route.rp.lower())
    if rp is None:
        return Reply(204)
    if rp.delete_operation is not None and not rp.delete_operation.done:
        return Reply(202, None, _delete_headers(core, rp.delete_operation, req))
    rules.check_deletable(rp, core.now())
    op = core.ops.start(
        "rp_delete",
        rp.id,
        subscription=rpc.subscription,
        region=rpc.location,
        duration=core.config.delete_seconds,
        api_version=req.api_version,
        context=req.context,
    )
    op.detail["previous"] = rp.provisioning_state
    rp.provisioning_state = "Deleting"
    rp.delete_operation = op
    rp.touch()
    return Reply(202, None, _delete_headers(core, op, req))


def _delete_headers(core: Core, op: Operation, req: ArmRequest) -> dict[str, str]:
    """A restore point DELETE answers with both status URLs, no Retry-After, and
    Azure-AsyncNotification [WIRE]."""
    headers = core.ops.headers(op, req.base_url, retry_after=False)
    headers["Azure-AsyncNotification"] = "Enabled"
    return headers
