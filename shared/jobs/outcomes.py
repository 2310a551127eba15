"""What is measured and logged when a run of a copy ends, whichever path ended it."""

from __future__ import annotations

import logging

from shared import telemetry
from shared.model.job import JobRecord, JobState

log = logging.getLogger(__name__)


def record_outcome(record: JobRecord) -> None:
    """Metrics and the log line of a run that ended (once: by the delivery that committed it)."""
    if not (record.state.terminal or record.state is JobState.RERUN_PENDING):
        return
    outcome = "retrying" if record.state is JobState.RERUN_PENDING else record.state.value.lower()
    telemetry.copies.add(1, {"rpcopy.outcome": outcome})
    if record.finished_at is not None:
        elapsed = (record.finished_at - record.requested_at).total_seconds()
        telemetry.copy_duration.record(max(elapsed, 0.0), {"rpcopy.outcome": outcome})
    if record.state is JobState.SUCCEEDED:
        if record.replication_done_at is not None and record.finished_at is not None:
            lag = (record.finished_at - record.replication_done_at).total_seconds()
            telemetry.detection_lag.record(max(lag, 0.0))
        log.info(
            "copy succeeded: job %s run %s, %s -> %s in %s",
            record.job_id,
            record.run,
            record.source_restore_point_id,
            record.target_restore_point_id,
            record.target_region,
        )
