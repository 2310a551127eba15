"""Timer trigger: fire on the NCRONTAB schedule, one invocation at a time per function.

Like the host, the next occurrence is computed after the previous invocation finishes,
so a slow run skips the occurrences it overlapped instead of queueing them. Times are UTC
unless WEBSITE_TIME_ZONE names an IANA zone.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.functions.timer import TimerRequest

from devhost.errors import StartupError
from devhost.invocation import Invoker
from devhost.logs import host_logger
from devhost.metadata import FunctionSpec
from devhost.ncrontab import Schedule, parse_schedule

log = host_logger("timers")

# A fire this late counts as past due (the host flags missed occurrences the same way).
PAST_DUE_AFTER = 1.0


def host_timezone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise StartupError(
            f"WEBSITE_TIME_ZONE={name!r} is not an IANA time zone name known here"
        ) from exc


def timer_request(
    schedule: Schedule, *, past_due: bool, last: datetime | None, next_fire: datetime
) -> TimerRequest:
    """The concrete TimerRequest the worker builds from the host's timer info."""
    now = datetime.now(UTC)
    return TimerRequest(
        past_due=past_due,
        schedule_status={
            "Last": (last or now).isoformat(),
            "Next": next_fire.isoformat(),
            "LastUpdated": now.isoformat(),
        },
        schedule={"AdjustForDST": True},
    )


class TimerScheduler:
    def __init__(self, spec: FunctionSpec, invoker: Invoker, zone: tzinfo) -> None:
        self.spec = spec
        self.schedule = parse_schedule(str(spec.trigger.get("schedule")))
        self.run_on_startup = bool(spec.trigger.get("runOnStartup"))
        self._invoker = invoker
        self._zone = zone
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last: datetime | None = None

    def next_fire(self, after: datetime | None = None) -> datetime:
        return self.schedule.next_after((after or datetime.now(self._zone)).astimezone(self._zone))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"timer:{self.spec.name}")

    async def stop(self, drain_timeout: float) -> None:
        self._stopping.set()
        if self._task is None:
            return
        # The sleep ends at once; an invocation in progress gets drain_timeout to finish.
        done, _ = await asyncio.wait([self._task], timeout=drain_timeout)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def fire(self, *, past_due: bool = False, reason: str = "Timer fired") -> None:
        next_fire = self.next_fire()
        request = timer_request(
            self.schedule, past_due=past_due, last=self._last, next_fire=next_fire
        )
        self._last = datetime.now(self._zone)
        await self._invoker.invoke(self.spec, request, reason=reason)

    async def _run(self) -> None:
        if self.run_on_startup:
            await self.fire(reason="Timer fired at startup (runOnStartup)")
        while not self._stopping.is_set():
            due = self.next_fire()
            # The loop clock and the wall clock can disagree by a few ms: never fire early.
            while (delay := (due - datetime.now(self._zone)).total_seconds()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay + 0.001)
                if self._stopping.is_set():
                    return
            if self._stopping.is_set():
                return
            late = (datetime.now(self._zone) - due).total_seconds()
            await self.fire(
                past_due=late > PAST_DUE_AFTER, reason=f"Timer fired at {due.isoformat()}"
            )
