"""The restore drill runner: one queue (`QUEUE_DRILL`), one message per drill step.

A drill moves through phases (shared/model/drills.py `DrillPhase`): CREATE (PUT a disk from each
disk restore point of the copy, tagged `rpcopy-drill=<id>`) -> WAIT (until every disk has
finished creating; re-enqueued with `DRILL_POLL_SECONDS` delay) -> READ (per disk restore point:
beginGetAccess, read the first MiB through the SAS, endGetAccess) -> CLEANUP (endGetAccess where
access may be open, delete every disk) -> DONE (Succeeded or Failed, with its event).

Every failure goes to CLEANUP, never straight to DONE: a drill never leaves a disk behind on
purpose. Each step is committed as a copy stage's is: the record moves from step N to N+1 in
one ETag-guarded write with the messages it sends (its outbox), then they are sent; a message
for another step is a duplicate and does nothing. Transient ARM trouble raises, the host retries
the message, and a message that keeps failing reaches `-poison`, where `handle_drill_poison`
cleans up what it can and fails the drill. Whatever a crash still leaves, the sweep finds: it
fails drills that stopped moving and deletes disks tagged as drill disks whose drill is over.

The SAS URL lives only in a local variable of `_read_one`: never logged, stored or evented.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from shared.arm.client import current_job_id
from shared.arm.drill_calls import DrillArm, restorable_disks
from shared.arm.operations import ArmOperation
from shared.arm.sas_read import GIB, SasRead, read_start
from shared.errors import ArmError, InvalidMessage, RpcopyError
from shared.jobs.drill_outbox import deliver_drill
from shared.model.drills import (
    DRILL_TAG,
    READ_BYTES,
    DrillDisk,
    DrillFailure,
    DrillPhase,
    DrillRecord,
    DrillState,
    OutboxItem,
    decode_drill_message,
    drill_disk_name,
    drill_event,
    drill_id_of,
    encode_drill_message,
)
from shared.model.events import encode
from shared.rules.drills import disk_problems
from shared.services import Services

log = logging.getLogger(__name__)


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else round((end - start).total_seconds(), 3)


def _fail(record: DrillRecord, code: str, message: str) -> DrillRecord:
    """Keep the first reason; every failure leads to CLEANUP."""
    reason = record.reason or DrillFailure(code=code, message=message, phase=record.phase)
    return record.evolve(reason=reason, phase=DrillPhase.CLEANUP)


def _next(
    services: Services, record: DrillRecord, *, delay: float = 0.0, now: datetime
) -> DrillRecord:
    """Move to the next step, with the message that runs it (or, when done, the event)."""
    step = record.step + 1
    if record.phase is DrillPhase.DONE:
        event = drill_event(record, identity=services.settings.event_identity, time=now)
        outbox = (OutboxItem(queue=services.settings.queues.events, text=encode(event)),)
    else:
        text = encode_drill_message(record.id, step)
        outbox = (OutboxItem(queue=services.settings.queues.drill, text=text, delay=delay),)
    return record.evolve(step=step, updated_at=now, outbox=outbox, outbox_sent=False)


async def handle_drill_message(services: Services, raw: str | bytes) -> None:
    try:
        drill_id, step = decode_drill_message(raw)
    except InvalidMessage as exc:
        await _unreadable(services, raw, exc)
        return
    # The drill id goes to ARM as x-ms-client-request-id, so a support case finds its calls.
    current_job_id.set(drill_id)
    record = await services.drills.get(drill_id)
    if record is None:
        log.warning("drill message for unknown drill %s (step %d): dropped", drill_id, step)
        return
    if step != record.step or record.phase is DrillPhase.DONE:
        # A duplicate or an old step: only make sure the current step's outbox went out.
        await deliver_drill(services, record)
        return
    advanced = await advance(services, record)
    committed, changed = await services.drills.update(
        drill_id, lambda current: advanced if current.step == record.step else None
    )
    if changed and committed is not None:
        if committed.phase is DrillPhase.DONE:
            log.info("restore drill %s %s", committed.id, committed.state.value.lower())
        await deliver_drill(services, committed)


async def _unreadable(services: Services, raw: str | bytes, exc: InvalidMessage) -> None:
    drill_id = drill_id_of(raw)
    log.error("unreadable drill message (sha256 %s): %s", exc.raw_sha256, exc.reason)
    if drill_id is not None:
        await fail_and_clean(services, drill_id, "InvalidMessage", exc.reason)


async def advance(services: Services, record: DrillRecord) -> DrillRecord:
    """Do the record's current phase; the record as it should be committed (step + 1)."""
    arm = DrillArm(services.arm)
    now = services.clock()
    match record.phase:
        case DrillPhase.CREATE:
            record = await _create(services, arm, record)
        case DrillPhase.WAIT:
            record = await _wait(services, arm, record)
            if record.phase is DrillPhase.WAIT:
                return _next(
                    services,
                    record.evolve(waits=record.waits + 1),
                    delay=services.settings.drills.poll_seconds,
                    now=now,
                )
        case DrillPhase.READ:
            record = await _read(services, arm, record)
        case DrillPhase.CLEANUP:
            record = await _cleanup(services, arm, record)
    return _next(services, record, now=services.clock())


async def _create(services: Services, arm: DrillArm, record: DrillRecord) -> DrillRecord:
    assert record.restore_point_id is not None
    body = await services.arm.get_or_none(
        record.restore_point_id, operation=ArmOperation.RESTORE_POINTS_GET
    )
    if body is None:
        return _fail(record, "CopyNotFound", f"the copy {record.restore_point_id} is gone")
    found = restorable_disks(body)
    if not found:
        return _fail(record, "NoDiskRestorePoints", "the copy names no disk restore points")
    disks = tuple(
        DrillDisk(
            name=drill_disk_name(record.id, index),
            disk_id=(
                f"/subscriptions/{record.subscription_id}/resourceGroups/{record.resource_group}"
                f"/providers/Microsoft.Compute/disks/{drill_disk_name(record.id, index)}"
            ),
            disk_restore_point_id=entry.disk_restore_point_id,
            source_disk_size_gb=entry.size_gb,
        )
        for index, entry in enumerate(found)
    )
    record = record.evolve(disks=disks)
    for index, disk in enumerate(disks):
        requested = services.clock()
        try:
            await arm.create_disk(
                disk.disk_id,
                record.pair.target_region,
                disk.disk_restore_point_id,
                {DRILL_TAG: record.id, "rpcopy-managed": "true"},
            )
        except ArmError as exc:
            if exc.transient:
                raise
            record = record.with_disk(index, create_requested_at=requested, problem=str(exc))
            return _fail(record, "DiskCreationFailed", f"{disk.name}: {exc}")
        record = record.with_disk(index, create_requested_at=requested)
    return record.evolve(phase=DrillPhase.WAIT)


async def _wait(services: Services, arm: DrillArm, record: DrillRecord) -> DrillRecord:
    now = services.clock()
    pending = False
    for index, disk in enumerate(record.disks):
        if disk.created:
            continue
        view = await arm.get_disk(disk.disk_id)
        state = (view.provisioning_state or "") if view else ""
        if view is None or state.lower() in ("failed", "canceled"):
            what = "does not exist" if view is None else f"ended {state}"
            record = record.with_disk(index, problem=f"the disk {what}")
            return _fail(record, "DiskCreationFailed", f"{disk.name}: the disk {what}")
        if state.lower() != "succeeded":
            pending = True
            continue
        problems = disk_problems(
            provisioning_state=view.provisioning_state,
            location=view.location,
            size_gb=view.size_gb,
            source_resource_id=view.source_resource_id,
            expected_region=record.pair.target_region,
            expected_size_gb=disk.source_disk_size_gb,
            expected_source=disk.disk_restore_point_id,
        )
        record = record.with_disk(
            index,
            created=True,
            created_at=now,
            create_seconds=_seconds(disk.create_requested_at, now),
            problem="; ".join(problems) or None,
        )
        if problems:
            return _fail(record, "DiskCheckFailed", f"{disk.name}: {'; '.join(problems)}")
    if pending:
        if (now - record.started_at).total_seconds() > services.settings.drills.timeout_seconds:
            return _fail(record, "DrillTimedOut", "the disks did not finish creating in time")
        return record
    return record.evolve(phase=DrillPhase.READ)


async def _read(services: Services, arm: DrillArm, record: DrillRecord) -> DrillRecord:
    for index, disk in enumerate(record.disks):
        if disk.verified:
            continue
        record = record.with_disk(index, access_open=True)
        started = time.perf_counter()
        try:
            result = await _read_one(arm, disk)
        except ArmError as exc:
            if exc.transient and not exc.code.startswith("Sas"):
                raise
            record = record.with_disk(index, problem=str(exc))
            return _fail(record, "SasReadFailed", f"{disk.name}: {exc}")
        now = services.clock()
        record = record.with_disk(
            index,
            access_open=False,
            verified=True,
            verified_at=now,
            verify_seconds=round(time.perf_counter() - started, 3),
            bytes_read=result.bytes_read,
            sha256=result.sha256,
        )
    return record.evolve(phase=DrillPhase.CLEANUP)


async def _read_one(arm: DrillArm, disk: DrillDisk) -> SasRead:
    sas = await arm.open_read_access(disk.disk_restore_point_id)
    try:
        minimum = disk.source_disk_size_gb * GIB if disk.source_disk_size_gb else None
        return await read_start(sas, READ_BYTES, min_blob_bytes=minimum)
    finally:
        del sas  # the only copy of the URL
        await arm.close_read_access(disk.disk_restore_point_id)


async def _cleanup(services: Services, arm: DrillArm, record: DrillRecord) -> DrillRecord:
    for index, disk in enumerate(record.disks):
        if disk.cleaned:
            continue
        if disk.access_open:
            await arm.close_read_access(disk.disk_restore_point_id)
            record = record.with_disk(index, access_open=False)
        started = services.clock()
        await arm.delete_disk(disk.disk_id)
        now = services.clock()
        record = record.with_disk(
            index, cleaned=True, cleaned_at=now, clean_seconds=_seconds(started, now)
        )
    state = DrillState.FAILED if record.reason else DrillState.SUCCEEDED
    return record.evolve(phase=DrillPhase.DONE, state=state, finished_at=services.clock())


# -- poison and the sweep's repairs ---------------------------------------------------------------


async def handle_drill_poison(services: Services, raw: str | bytes) -> None:
    """A drill message that failed every delivery: clean up what can be cleaned, fail it."""
    drill_id = drill_id_of(raw)
    if drill_id is None:
        log.error("poisoned drill message without a drill id: nothing to fail")
        return
    await fail_and_clean(
        services, drill_id, "DrillMessagePoisoned", "a drill step failed on every delivery"
    )


async def fail_and_clean(services: Services, drill_id: str, code: str, message: str) -> None:
    """Fail a running drill now, cleaning up best effort; the sweep removes what is left."""
    record = await services.drills.get(drill_id)
    if record is None:
        return
    if record.phase is DrillPhase.DONE:
        await deliver_drill(services, record)
        return
    failed = _fail(record, code, message)
    try:
        finished = await _cleanup(services, DrillArm(services.arm), failed)
    except RpcopyError as exc:
        log.warning("drill %s: cleanup failed (%s); the sweep removes the rest", drill_id, exc)
        finished = failed.evolve(
            phase=DrillPhase.DONE, state=DrillState.FAILED, finished_at=services.clock()
        )
    done = _next(services, finished, now=services.clock())
    committed, changed = await services.drills.update(
        drill_id, lambda current: done if current.phase is not DrillPhase.DONE else None
    )
    if changed and committed is not None:
        await deliver_drill(services, committed)
