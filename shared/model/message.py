"""The versioned job message that carries a copy from stage to stage through the queues.

One schema for every stage: the message is the job's state in flight, so any instance can pick
it up. Unknown fields and unknown versions are rejected: a message we do not fully understand is
not acted on (it ends as a failed job, see shared/stages.py), never half-processed.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat, ValidationError
from pydantic.alias_generators import to_camel

from shared.errors import InvalidMessage, InvalidResourceId
from shared.model.copy_options import CopyOptions
from shared.model.ids import RestorePointId
from shared.model.json_input import InvalidJson, load_json
from shared.model.regions import normalize_region

MESSAGE_VERSION = 1
_JOB_ID = re.compile(r"[0-9a-f]{32}")


class Stage(StrEnum):
    # Deletes a failed run's copy and starts the next run (see shared/jobs/stages/rerun.py).
    RERUN = "rerun"
    ENSURE_TARGET = "ensure-target"
    START_COPY = "start-copy"
    POLL = "poll"
    FINISH = "finish"


class Trigger(StrEnum):
    HTTP = "http"
    EVENT_GRID = "eventgrid"
    SWEEP = "sweep"
    # A copy or restore point creation made at a policy schedule's slot (docs/policies.md).
    SCHEDULE = "schedule"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Failure(_Model):
    """Why a job failed: ARM's code and message where ARM gave one, else ours."""

    code: str
    message: str
    stage: Stage | None = None
    # Can another run get past it? None: decided by the code (shared.rules.reruns).
    retryable: bool | None = None


class DiskProgress(_Model):
    """One disk restore point's replication as last seen in the instance view."""

    id: str | None = None
    name: str | None = None
    percent: float | None = None
    code: str | None = None
    level: str | None = None


class PollState(_Model):
    count: int = Field(default=0, ge=0)
    started_at: AwareDatetime | None = None
    last_polled_at: AwareDatetime | None = None
    last_percent: float | None = None
    # When the published percentage last moved; drives the rate estimate in poll_schedule.
    last_progress_at: AwareDatetime | None = None
    first_percent: float | None = None
    first_percent_at: AwareDatetime | None = None
    # -- learned schedule (shared/rules/poll_rhythm.py); absent in older messages = today's --
    # (seconds since started_at, slowest disk's percent) of recent polls, bounded in number.
    seen: tuple[tuple[FiniteFloat, FiniteFloat], ...] = Field(default=(), max_length=16)
    # Every publish falls in (publish_after, publish_by] modulo the progress interval (seconds
    # since started_at); None until a change is seen between two polls less than that apart.
    publish_after: FiniteFloat | None = None
    publish_by: FiniteFloat | None = None
    # The fastest running disk (its index) and its own (seconds, percent) history.
    fast_disk: int | None = None
    fast_seen: tuple[tuple[FiniteFloat, FiniteFloat], ...] = Field(default=(), max_length=16)
    # The plan was sure a percentage changes at the publish in (after, by].
    sure_change: tuple[FiniteFloat, FiniteFloat] | None = None
    # The observations contradicted a steady rhythm or rate: today's schedule from then on.
    rhythm_broken: bool = False


class Outcome(_Model):
    state: Literal["Succeeded", "Failed", "Superseded"]
    failure: Failure | None = None
    disks: tuple[DiskProgress, ...] = ()
    replication_done_at: AwareDatetime | None = None


class JobMessage(_Model):
    version: Literal[1] = MESSAGE_VERSION
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    # A failed job can be requested again; each new attempt is a new run with its own target
    # restore point (Azure cannot resume a failed copy). Messages of older runs are ignored.
    run: int = Field(default=1, ge=1)
    # The ledger row's step this message was sent for. A stage acts only if the row is still at
    # this step, and moves it on by one when it commits: duplicates and stale messages drop out.
    step: int = Field(default=0, ge=0)
    stage: Stage
    source_restore_point_id: str
    target_region: str
    target_resource_group: str
    target_collection_name: str
    target_restore_point_name: str
    correlation_id: str
    trigger: Trigger
    requested_at: AwareDatetime
    started_at: AwareDatetime | None = None
    attempts: dict[str, int] = Field(default_factory=dict)
    last_status: str | None = None
    operation_url: str | None = None
    poll: PollState = Field(default_factory=PollState)
    outcome: Outcome | None = None
    # W3C traceparent of the span that sent this message: the trace follows the copy.
    traceparent: str | None = None
    # Target subscription, encryption, copied tags and lineage (shared/model/copy_options.py).
    options: CopyOptions | None = None

    @property
    def source(self) -> RestorePointId:
        return RestorePointId.parse(self.source_restore_point_id)

    def attempts_at(self, stage: Stage) -> int:
        return self.attempts.get(stage.value, 0)

    def next(self, stage: Stage, **changes: Any) -> JobMessage:
        """The message for the next stage (or the same stage again)."""
        return self.model_copy(update={"stage": stage, **changes})

    def with_attempt(self) -> JobMessage:
        attempts = dict(self.attempts)
        attempts[self.stage.value] = attempts.get(self.stage.value, 0) + 1
        return self.model_copy(update={"attempts": attempts})

    def encode(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


def queue_text(raw: str | bytes) -> str:
    """The JSON text of a queue message as it arrived.

    The app sends base64 (what the Functions host decodes by default), but host.json sets
    `messageEncoding: none` so that every message reaches this code, even one an outside writer
    put there without base64: the host would otherwise poison it before the app sees it, and
    poison it again from the poison queue, into a queue nobody reads. So: JSON as it is, else
    base64 of JSON, else the text as it is (reading it as JSON then says what is wrong).
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidMessage(
                "message is not JSON: it is not UTF-8 text", raw=raw.decode("utf-8", "replace")
            ) from None
    else:
        text = raw
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return text
    try:
        return base64.b64decode("".join(stripped.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return text  # not base64: read as JSON, which says what is wrong with it


def decode_message(raw: str | bytes) -> JobMessage:
    text = queue_text(raw)
    try:
        document = load_json(text, what="message")
    except InvalidJson as exc:
        raise InvalidMessage(f"message is not JSON ({exc})", raw=text) from None
    job_id = document.get("jobId") if isinstance(document, dict) else None
    # Only a well-formed id is recovered: it becomes a ledger key when the job is failed.
    job_id = job_id if isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) else None
    version = document.get("version") if isinstance(document, dict) else None
    # bool is an int subclass (True == 1): a boolean is not a version.
    if isinstance(version, bool) or version not in (None, MESSAGE_VERSION):
        raise InvalidMessage(
            f"message version {version!r} is not supported (expected {MESSAGE_VERSION})",
            job_id=job_id,
            raw=text,
        )
    try:
        message = JobMessage.model_validate(document)
        RestorePointId.parse(message.source_restore_point_id, "sourceRestorePointId")
        normalize_region(message.target_region, "targetRegion")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidMessage(
            f"message does not match schema v1: {problems}", job_id=job_id, raw=text
        ) from None
    except InvalidResourceId as exc:
        raise InvalidMessage(str(exc), job_id=job_id, raw=text) from None
    return message
