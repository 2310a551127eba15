"""Deleting target copies that retention no longer keeps, with an audit row and an event.

The decision is `shared.rules.retention.plan_retention`; this module carries it out, both
after a policy copy succeeds and from the sweep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.arm import bodies
from shared.arm.bodies import target_collection_view
from shared.arm.operations import ArmOperation
from shared.errors import ArmError, InvalidResourceId
from shared.model import events
from shared.model.ids import CollectionId
from shared.model.job import JobRecord
from shared.rules.retention import RetentionPlan, plan_retention
from shared.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionOutcome:
    deleted: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


async def apply_retention(services: Services, plan: RetentionPlan) -> RetentionOutcome:
    """Carry out the plan's deletions; one failing does not stop the others."""
    deleted: list[str] = []
    errors: list[str] = []
    for deletion in plan.deletions:
        try:
            await delete_copy(
                services,
                deletion.target_restore_point_id,
                deletion.reason,
                deletion.source_restore_point_id,
            )
            deleted.append(deletion.target_restore_point_id)
        except ArmError as exc:
            errors.append(f"deleting {deletion.target_restore_point_id} failed: {exc}")
    return RetentionOutcome(tuple(deleted), tuple(errors))


async def delete_copy(services: Services, target_rp: str, reason: str, source_rp: str) -> None:
    """Delete one target copy (an ARM long-running DELETE) and announce it."""
    arm = services.arm
    response = await arm.request(
        "DELETE", target_rp, operation=ArmOperation.RESTORE_POINTS_DELETE, accept_status=(404,)
    )
    if response.status != 404:
        result = await arm.wait_for_completion(
            "DELETE", target_rp, response, operation=ArmOperation.RESTORE_POINTS_DELETE
        )
        if not result.succeeded:
            raise result.error or ArmError("delete failed", code="DeleteFailed")
    now = services.clock()
    event = events.cloud_event(
        events.EventType.RETENTION_DELETED,
        identity=services.settings.event_identity,
        subject=source_rp,  # the source restore point, as in every copy event
        time=now,
        data={
            "targetRestorePointId": target_rp,
            "sourceRestorePointId": source_rp,
            "reason": reason,
            "deletedAt": now.isoformat(),
        },
        id_parts=(target_rp.lower(),),
    )
    await services.deletions.record_deletion(target_rp, source_rp, reason, now)
    await services.emit(events.encode(event))
    log.info("retention deleted %s: %s", target_rp, reason)


async def retention_after_success(services: Services, record: JobRecord) -> None:
    """After a copy succeeds, prune its target collection per policy (best effort)."""
    if record.options.creates_in_target:
        return  # its pair is a VM, not a collection to resolve: the sweep prunes it
    try:
        source = CollectionId.parse(record.source_collection_id)
        body = await services.arm.get_or_none(
            str(source), operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET
        )
        if body is None:
            return
        info = bodies.collection_info(body)
        target = next(
            (
                t
                for t in services.policies.resolve(info).targets
                if t.region == record.target_region
            ),
            None,
        )
        if target is None or (target.keep_last is None and target.max_age_days is None):
            return
        if (
            not record.target_collection_id
            or record.target_collection_id.lower() != str(target.collection_id).lower()
        ):
            return  # the copy went elsewhere (a manual request): not this policy's collection
        target_body = await services.arm.get_or_none(
            record.target_collection_id,
            operation=ArmOperation.RESTORE_POINT_COLLECTIONS_GET,
            params={"$expand": "restorePoints"},
        )
        jobs = await services.ledger.for_pair(record.pair_key)
        plan = plan_retention(
            target_collection_view(target_body, str(target.collection_id)),
            jobs,
            keep_last=target.keep_last,
            max_age_days=target.max_age_days,
            now=services.clock(),
        )
        log.info(
            "retention after job %s: %d to delete, kept %s",
            record.job_id,
            len(plan.deletions),
            ", ".join(
                f"{k.target_restore_point_id.rsplit('/', 1)[-1]}={k.reason}" for k in plan.kept
            ),
        )
        outcome = await apply_retention(services, plan)
        for error in outcome.errors:
            log.warning("retention after job %s: %s", record.job_id, error)
    except (ArmError, InvalidResourceId) as exc:
        log.warning("retention after job %s skipped: %s", record.job_id, exc)
