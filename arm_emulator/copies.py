"""Cross-region copies: a restore point PUT with `sourceRestorePoint` into a copy-target
collection, checked against the copy rules, then a short LRO ("copy initiated") and replication
on the clock (`replication.py`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from . import encryption, ids, lookups, replication, rules
from .core import Core
from .errors import ArmError
from .events import RequestContext
from .store import DiskRestorePoint, Operation, RestorePoint, RestorePointCollection


def create_copy(
    core: Core,
    target: RestorePointCollection,
    name: str,
    source_id: str,
    excluded: list[str],
    inputs: tuple[Any, ...],
    api_version: str,
    context: RequestContext,
    encryption_inputs: dict[int | None, tuple[str, str]] | None = None,
) -> tuple[RestorePoint, Operation]:
    """The copy an ARM PUT asks for, after its encryption sets, the throttle and the copy rules.

    A refusal by the copy rules is a 400/409 at the PUT, or - in the `copy_rule_refusal:
    operation` variant - a 201 whose operation then fails with that error."""
    source = lookups.referenced(core.store.rps, source_id, "rp", "properties.sourceRestorePoint.id")
    now = core.now()
    # Parameter validation first: a bad encryption set is refused before anything is counted.
    sets = encryption.check_sets(core.store, core.config, target, encryption_inputs or {})
    # Throttling sits in front of the copy rules; only PUTs that start a copy are counted.
    rules.copy_throttle(target, now, core.config, core.clock)
    refusal: ArmError | None = None
    try:
        if excluded:
            raise rules.not_allowed(
                400,
                "Disks cannot be excluded while copying a restore point; exclude them when "
                "the source restore point is created.",
                target="properties.excludeDisks",
            )
        rules.check_copy(core.store, core.config, now, target, source)
    except ArmError as exc:
        if core.config.copy_rule_refusal == "put":
            raise
        refusal = exc
    rp, op = start_copy(core, target, name, source, inputs, api_version, context, refusal, sets)
    target.copy_put_times.append(now)
    return rp, op


def build_copy(
    core: Core,
    target: RestorePointCollection,
    name: str,
    source: RestorePoint,
    inputs: tuple[Any, ...],
    encryption_sets: dict[int | None, str] | None = None,
) -> RestorePoint:
    """The target restore point of a copy, with a new disk restore point per source disk and the
    bytes each must transfer (not yet stored)."""
    now = core.now()
    to_copy = rules.incremental_bytes(core.store, target, source, now, core.config)
    rp_id = ids.rp_id(target.id, name)
    disks: list[DiskRestorePoint] = []
    for src in source.disks:
        drp_name = f"{src.disk_name}_{core.new_guid()}"
        nbytes = to_copy[src.id.lower()]
        disks.append(
            # The source's disk, under a new id in the target, with what is left to transfer.
            dataclasses.replace(
                src,
                id=ids.drp_id(rp_id, drp_name),
                name=drp_name,
                time_created=now,
                source_drp_id=src.id,
                source_location=source.collection.location,
                bytes_to_copy=nbytes,
                duration=replication.transfer_seconds(nbytes, core.config),
                fail_after=None,
                access_sas=None,
                access_until=None,
                access_pending=False,
                encryption_set_id=(encryption_sets or {}).get(src.lun),
            )
        )
    return RestorePoint(
        id=rp_id,
        name=name,
        collection=target,
        time_created=source.time_created,  # the source's creation time [WIRE], §12.5
        seq=core.store.next_seq(),
        consistency_mode=source.consistency_mode,
        exclude_disks=[],
        instant_access_minutes=None,
        provisioning_state="Creating",
        metadata_base=source.metadata_base,
        disks=disks,
        vm_key=source.vm_key,
        inputs=inputs,
        source_rp_id=source.id,
        source_rpc_key=source.collection.id.lower(),
    )


def start_copy(
    core: Core,
    target: RestorePointCollection,
    name: str,
    source: RestorePoint,
    inputs: tuple[Any, ...],
    api_version: str,
    context: RequestContext | None,
    refusal: ArmError | None = None,
    encryption_sets: dict[int | None, str] | None = None,
) -> tuple[RestorePoint, Operation]:
    """Store the copy and start its LRO; replication starts when the LRO ends. A `refusal`
    (the copy rules' error) makes the LRO fail with it."""
    rp = build_copy(core, target, name, source, inputs, encryption_sets)
    if refusal is not None:
        rp.refused = True
        fail_with = refusal.as_operation_error()
        op = core.ops.start_rp_create(
            rp, core.config.copy_lro_seconds, api_version, context, fail_with=fail_with
        )
        op.error_status = refusal.status
        rp.replication_start = op.end  # in progress until the operation fails
        return rp, op
    inject_replication_faults(core, rp, context)
    op = core.ops.start_rp_create(rp, core.config.copy_lro_seconds, api_version, context)
    rp.replication_start = op.end
    return rp, op


def inject_replication_faults(core: Core, rp: RestorePoint, context: RequestContext | None) -> None:
    """Fire the replication_failure rules that match this restore point's create."""
    method = context.method if context else "PUT"
    for rule in core.faults.fire(
        "RestorePoints_Create",
        method,
        rp.id,
        frozenset({"replication_failure"}),
        applies=lambda rule: bool(_failing_disks(rp, rule.params)),
    ):
        for drp in _failing_disks(rp, rule.params):
            after = rule.params.get("failAfterSeconds")
            at = float(after) if after is not None else drp.duration / 2
            # Two rules on one disk: it fails at the earlier time.
            drp.fail_after = at if drp.fail_after is None else min(drp.fail_after, at)


def _failing_disks(rp: RestorePoint, params: dict[str, Any]) -> list[DiskRestorePoint]:
    """The disks a replication_failure rule names (default: the first disk of the copy)."""
    if "disk" in params:
        return [d for d in rp.disks if d.disk_name.lower() == str(params["disk"]).lower()]
    if "lun" in params:
        return [d for d in rp.disks if d.lun == params["lun"]]
    if params.get("os"):
        return [d for d in rp.disks if d.lun is None]
    return rp.disks[:1]
