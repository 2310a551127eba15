"""Steps for a stage that could not finish its work this time: wait and retry, or give up.

Pure: each function turns the trouble into the `Step` the dispatcher commits.
"""

from __future__ import annotations

import logging
import random

from shared.errors import ArmError, ArmThrottled
from shared.jobs.stages.step import Result, Step, send, step
from shared.model.job import JobRecord
from shared.model.message import Failure, JobMessage, Outcome, Stage
from shared.settings import Settings

log = logging.getLogger(__name__)

# Exponential backoff of transient stage retries never waits longer than this.
MAX_RETRY_DELAY_SECONDS = 900.0


def to_finish(outcome: Outcome, **changes: object) -> Step:
    """Hand the outcome to the finish stage, which records it and emits the event."""
    result = Result.ADVANCED if outcome.state == "Succeeded" else Result.FAILED
    return step(result, changes, send(Stage.FINISH, outcome=outcome))


def fail(message: JobMessage, record: JobRecord, failure: Failure) -> Step:
    """Fail the job from a stage before finish (finish fails itself, see finish.py)."""
    log.warning(
        "job %s failed in %s: %s %s",
        message.job_id,
        message.stage.value,
        failure.code,
        failure.message,
    )
    return to_finish(Outcome(state="Failed", failure=failure, disks=record.disks))


def throttled(settings: Settings, message: JobMessage, exc: ArmThrottled) -> Failure | Step:
    """Wait out a long Retry-After by re-enqueueing; a Failure once it happened too often."""
    waits = message.attempts.get("throttled", 0) + 1
    if waits > settings.max_throttle_waits:
        return Failure(
            code=exc.code,
            message=f"throttled {waits - 1} times: {exc}",
            stage=message.stage,
            retryable=True,
        )
    delay = (exc.retry_after or 60.0) + random.uniform(0, 2)
    log.info("job %s: ARM throttled %s; retrying in %.0fs", message.job_id, exc.operation, delay)
    attempts = {**message.attempts, "throttled": waits}
    return step(
        Result.WAITING,
        {"attempts": attempts},
        send(message.stage, delay, attempts=attempts),
    )


def retry_later(settings: Settings, message: JobMessage, exc: ArmError) -> Failure | Step:
    """Retry a transient ARM failure with backoff; a Failure after the stage's last attempt."""
    retried = message.with_attempt()
    attempt = retried.attempts_at(message.stage)
    if attempt >= settings.stage_max_attempts:
        return Failure(
            code=exc.code,
            message=f"gave up after {attempt} attempts: {exc}",
            stage=message.stage,
            retryable=True,
        )
    base = settings.stage_retry_base_seconds
    delay = exc.retry_after or min(
        base * 2 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS
    ) * random.uniform(0.8, 1.2)
    log.warning(
        "job %s: %s failed transiently (%s); retry %s in %.1fs",
        message.job_id,
        message.stage.value,
        exc,
        attempt,
        delay,
    )
    return step(
        Result.WAITING,
        {"attempts": retried.attempts},
        send(message.stage, delay, attempts=retried.attempts),
    )
