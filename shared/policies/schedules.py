"""The policy file's schedule blocks: a target's `copySchedule` and a policy's `create` section
(scheduled restore point creation with its source retention). See docs/policies.md.

The models are checked when the file is loaded, so a schedule that cannot fire, a time zone that
does not exist or an RPO shorter than the schedule's longest gap stops the app at startup with
the file, line and field (shared/policies/loading.py).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from shared.model.schedule import Schedule, ScheduleError

# Azure's documented input values (arm-contract §3); the spec text says only CrashConsistent is
# accepted as input, so anything else is refused here rather than by ARM at 02:00.
CONSISTENCY_MODES = ("CrashConsistent",)

# A managed disk id, as strictly as shared/model/ids.py reads the ids it owns.
_DISK_ID = re.compile(
    r"^/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"/resourceGroups/[-\w._()]{0,89}[-\w_()]/providers/Microsoft\.Compute/disks"
    r"/[^/?#&%\\\s]{1,80}$",
    re.IGNORECASE,
)


def _fail(message: str, field_hint: str | None = None) -> PydanticCustomError:
    # The same error type as shared/policies/model.py, so loading.py places it by field.
    return PydanticCustomError("policy", "{message}", {"message": message, "field": field_hint})


class _Block(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )


_Text = Annotated[str, Strict()]
_Positive = Annotated[int, Strict(), Field(ge=1)]
_PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]


class ScheduleSpec(_Block):
    """`{"cron": "0 0 2 * * *", "timeZone": "Europe/Berlin"}` or `{"intervalMinutes": 360}`."""

    cron: _Text | None = None
    time_zone: _Text | None = None
    interval_minutes: _Positive | None = None

    @model_validator(mode="after")
    def _checked(self) -> ScheduleSpec:
        if self.cron is not None and self.interval_minutes is not None:
            raise _fail("give cron or intervalMinutes, not both", "intervalMinutes")
        if self.cron is None and self.interval_minutes is None:
            raise _fail("give cron (NCRONTAB, e.g. '0 0 2 * * *') or intervalMinutes (e.g. 360)")
        if self.interval_minutes is not None and self.time_zone is not None:
            raise _fail(
                "an interval fires at multiples of intervalMinutes since 1970-01-01T00:00Z; a "
                "time zone would change nothing, so leave it out",
                "timeZone",
            )
        try:
            Schedule.parse(
                cron=self.cron, time_zone=self.time_zone, interval_minutes=self.interval_minutes
            )
        except ScheduleError as exc:
            text = str(exc)
            field = "timeZone" if "time zone" in text else "cron"
            raise _fail(text, field if self.cron is not None else None) from None
        return self

    def schedule(self) -> Schedule:
        return Schedule.parse(
            cron=self.cron, time_zone=self.time_zone, interval_minutes=self.interval_minutes
        )


def check_rpo_against_schedule(rpo_minutes: int | None, spec: ScheduleSpec | None) -> None:
    """An RPO the copy schedule can never meet is refused: the newest copy can be as old as the
    schedule's longest gap before the next slot even starts its copy."""
    if rpo_minutes is None or spec is None:
        return
    gap_minutes = spec.schedule().longest_gap().total_seconds() / 60
    if rpo_minutes < gap_minutes:
        raise _fail(
            f"rpoMinutes {rpo_minutes} is shorter than the copy schedule's longest gap between "
            f"slots ({gap_minutes:g} minutes): the RPO would be breached by design; raise "
            "rpoMinutes or schedule copies more often",
            "rpoMinutes",
        )


class SourceRetention(_Block):
    """Which restore points the app created in the source collection it keeps (either rule
    keeps one). The newest usable one, one a copy is in flight from or waiting on, and every
    restore point the app did not create are always kept."""

    keep_last: _Positive | None = None
    max_age_days: _PositiveNumber | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SourceRetention:
        if self.keep_last is None and self.max_age_days is None:
            raise _fail(
                "set keepLast and/or maxAgeDays, or leave retention out to keep every "
                "restore point the app creates"
            )
        return self


class CreateSpec(_Block):
    """Scheduled restore point creation for every collection the policy matches (its VM)."""

    schedule: ScheduleSpec
    consistency_mode: _Text | None = None
    exclude_disks: tuple[_Text, ...] = ()
    retention: SourceRetention | None = None

    @field_validator("consistency_mode")
    @classmethod
    def _mode(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for mode in CONSISTENCY_MODES:
            if value.lower() == mode.lower():
                return mode
        raise _fail(
            f"{value!r} is not accepted as input by Azure; use {', '.join(CONSISTENCY_MODES)} "
            "or leave consistencyMode out for Azure's default (application-consistent)"
        )

    @field_validator("exclude_disks")
    @classmethod
    def _disks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for index, disk in enumerate(value):
            if not _DISK_ID.match(disk):
                raise _fail(
                    f"excludeDisks[{index}]: {disk!r} is not a managed disk id "
                    "(/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Compute"
                    "/disks/{name})"
                )
            if disk.lower() in seen:
                raise _fail(f"excludeDisks[{index}]: {disk!r} is listed twice")
            seen.add(disk.lower())
        return value
