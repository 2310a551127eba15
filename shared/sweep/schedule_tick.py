"""The schedule timer (`SCHEDULE_TIMER`, every minute by default): acts on copy and creation
slots between sweeps, so a schedule fires on time however coarse `SWEEP_SCHEDULE` is.

A tick costs no ARM call unless some schedule of the policy file has a slot since the last tick
that did work, or a creation is still to follow up; then it runs the sweep for the scheduled
pairs and collections only. The per-pair and per-collection slot rows decide what fires (each
slot once); this gate only saves idle ticks, and the full sweep acts on any slot a tick missed.
"""

from __future__ import annotations

from shared.jobs.scheduled_copies import policy_schedules, slot_store
from shared.model.schedule import due_slot
from shared.services import Services
from shared.storage.schedules import ScheduleKind
from shared.sweep.reconcile import sweep
from shared.sweep.report import SweepReport

_GATE_KEY = "all"


async def schedule_tick(services: Services) -> SweepReport | None:
    """One tick; None when nothing was due (no ARM call was made)."""
    schedules = policy_schedules(services)
    if not schedules:
        return None
    now = services.clock()
    slots = slot_store(services)
    last = await slots.last_fired(ScheduleKind.TIMER, _GATE_KEY)
    due = any(due_slot(schedule, now, last) is not None for schedule in schedules)
    follow_up = services.creations is not None and await services.creations.any_open()
    if not (due or follow_up):
        return None
    report = await sweep(services, dry_run=False, only_scheduled=True)
    await slots.advance(ScheduleKind.TIMER, _GATE_KEY, now)
    return report
