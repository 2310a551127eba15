"""Stage 0 of a new run: delete the failed run's target restore point, then start the next run.

Azure keeps one copy of a source restore point per target region, and a failed copy cannot be
resumed, so a failed run's copy must be gone before the next run PUTs its own. The deletion is
a long-running DELETE that this stage waits for (a 404 means it is already gone); then the row
moves to the next run, Waiting, and admission gives it the pair when its turn comes.
"""

from __future__ import annotations

import logging
import uuid

from shared.arm.operations import ArmOperation
from shared.errors import ArmError
from shared.jobs.intake import restore_point_name_for_run
from shared.jobs.stages.step import FollowUp, Result, Step, step
from shared.model.ids import CollectionId, RestorePointId
from shared.model.job import JobRecord, JobState
from shared.model.message import JobMessage
from shared.services import Services

log = logging.getLogger(__name__)


def failed_copy(record: JobRecord, message: JobMessage) -> str | None:
    """The failed run's target restore point, if it got as far as having one."""
    if record.target_restore_point_id:
        return record.target_restore_point_id
    if record.target_collection_id:
        collection = CollectionId.parse(record.target_collection_id)
        return str(collection.restore_point(message.target_restore_point_name))
    return None


async def delete_failed_copy(services: Services, target_rp: str, correlation_id: str) -> None:
    arm = services.arm
    response = await arm.request(
        "DELETE",
        target_rp,
        operation=ArmOperation.RESTORE_POINTS_DELETE,
        accept_status=(404,),
        correlation_id=correlation_id,
    )
    if response.status == 404:
        return
    result = await arm.wait_for_completion(
        "DELETE", target_rp, response, operation=ArmOperation.RESTORE_POINTS_DELETE
    )
    if not result.succeeded:
        raise result.error or ArmError(
            f"deleting the failed copy {target_rp} did not succeed", code="DeleteFailed"
        )


async def run(services: Services, message: JobMessage, record: JobRecord) -> Step:
    target_rp = failed_copy(record, message)
    if target_rp is not None:
        await delete_failed_copy(services, target_rp, message.correlation_id)
        log.info("job %s: deleted %s before run %s", record.job_id, target_rp, record.run + 1)
    next_run = record.run + 1
    source = RestorePointId.parse(record.source_restore_point_id)
    failure = record.failure
    return step(
        Result.ADVANCED,
        {
            "run": next_run,
            "state": JobState.WAITING,
            "detail": f"run {next_run} after run {record.run} failed"
            + (f" ({failure.code})" if failure else "")
            + "; admission pending",
            "correlation_id": str(uuid.uuid4()),
            "target_restore_point_name": restore_point_name_for_run(source.name, next_run),
            "target_restore_point_id": None,
            "started_at": None,
            "replication_done_at": None,
            "finished_at": None,
            "percent": None,
            "expected_finish": None,
            "disks": (),
            "attempts": {},
            "next_run_at": None,
            "next_attempt_at": None,
        },
        after=(FollowUp.ADMIT,),
    )
