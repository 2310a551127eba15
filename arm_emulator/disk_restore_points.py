"""ARM handlers for disk restore points (Disk RP api-versions): GET, list, and SAS export with
`beginGetAccess` / `endGetAccess` (202 + Location LROs; the final result carries `accessSAS`)."""

from __future__ import annotations

from . import errors, ids, lookups, replication, rules
from .core import Core
from .rp_bodies import drp_body
from .store import DiskRestorePoint, RestorePoint
from .wire import ArmRequest, Reply, read_int, read_object, read_string


def get_drp(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rp, drp = lookups.drp_of(core.store, route)
    return Reply(200, drp_body(rp, drp, core.now(), core.config, api_version=req.api_version))


def list_drps(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rp = lookups.rp_of(core.store, route, as_parent=True)
    now = core.now()
    values = [drp_body(rp, d, now, core.config, api_version=req.api_version) for d in rp.disks]
    return Reply(200, {"value": values})


def drp_action(core: Core, route: ids.Route, req: ArmRequest) -> Reply:
    rp, drp = lookups.drp_of(core.store, route)
    if route.action == "beginGetAccess":
        return _grant_access(core, rp, drp, req)
    op = core.ops.start(
        "revoke_access",
        drp.id,
        subscription=route.subscription,
        region=rp.collection.location,
        duration=core.config.revoke_access_seconds,
        api_version=req.api_version,
        context=req.context,
    )
    return Reply(202, None, core.ops.headers(op, req.base_url, retry_after=False))


def _grant_access(core: Core, rp: RestorePoint, drp: DiskRestorePoint, req: ArmRequest) -> Reply:
    body = read_object(req.body, "grantAccessData", required=True)
    access = read_string(body.get("access"), "grantAccessData.access")
    if access is None:
        raise errors.missing_parameter("grantAccessData.access")
    if body.get("durationInSeconds") is None:
        raise errors.missing_parameter("grantAccessData.durationInSeconds")
    duration = read_int(body["durationInSeconds"], "grantAccessData.durationInSeconds")
    assert duration is not None
    if access.lower() not in ("none", "read", "write"):
        raise errors.invalid_parameter(
            f"The value '{access}' of parameter 'grantAccessData.access' is not valid. "
            "Allowed values are 'None', 'Read', 'Write'.",
            target="grantAccessData.access",
        )
    if access.lower() != "read" or duration <= 0:
        # undocumented: chosen code
        raise errors.invalid_parameter(
            "A disk restore point can only be exported with 'Read' access for a positive "
            "durationInSeconds.",
            target="grantAccessData",
        )
    now = core.now()
    ready = rp.provisioning_state == "Succeeded" and (
        not rp.replicates
        or replication.view(rp, now, core.config).disks[rp.disks.index(drp)].state
        == replication.SUCCEEDED
    )
    if not ready:
        # undocumented: chosen code
        raise rules.not_allowed(
            409,
            f"Disk restore point '{drp.name}' is not ready for export: its restore point is "
            f"'{rp.provisioning_state}' or its replication has not succeeded.",
        )
    op = core.ops.start(
        "grant_access",
        drp.id,
        subscription=rp.collection.subscription,
        region=rp.collection.location,
        duration=core.config.grant_access_seconds,
        api_version=req.api_version,
        context=req.context,
    )
    op.detail["duration"] = float(duration)
    op.detail["base_url"] = req.base_url  # the SAS is served by this emulator (sas.py)
    drp.access_pending = True
    return Reply(202, None, core.ops.headers(op, req.base_url, retry_after=False))
