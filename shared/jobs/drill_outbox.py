"""Send what a committed drill step produced (its event, its next message), as the copy
pipeline's outbox does (shared/jobs/outbox.py): events first, then the message that moves the
drill on, then mark the outbox sent if the drill is still at that step."""

from __future__ import annotations

from datetime import datetime

from shared.model.drills import DrillRecord
from shared.services import Services

STALE_OUTBOX_SECONDS = 60.0


def drill_outbox_is_stale(record: DrillRecord, now: datetime) -> bool:
    return (
        not record.outbox_sent and (now - record.updated_at).total_seconds() > STALE_OUTBOX_SECONDS
    )


async def deliver_drill(services: Services, record: DrillRecord) -> None:
    if record.outbox_sent:
        return
    events = services.settings.queues.events
    for item in sorted(record.outbox, key=lambda item: item.queue != events):
        if item.queue == events:
            await services.emit(item.text)
        else:
            await services.queues.send(item.queue, item.text, delay_seconds=item.delay)

    def mark(current: DrillRecord) -> DrillRecord | None:
        if current.step != record.step or current.outbox_sent:
            return None
        return current.evolve(outbox_sent=True)

    await services.drills.update(record.id, mark)
