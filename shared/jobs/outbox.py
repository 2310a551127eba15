"""Send what a committed step produced, so a crash can neither lose nor double a step.

A stage does its (idempotent) ARM work; the dispatcher (`shared.jobs.stages.dispatch.commit`)
moves the ledger row from step N to N+1 under its ETag together with the messages to send, and
`deliver` sends them and marks them sent. If the
process dies after the commit, a redelivered message finds the row at N+1 with an unsent outbox
and `deliver` sends it again; the messages of step N+1 act only once, whatever arrives twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.model.job import JobRecord
from shared.services import Services

log = logging.getLogger(__name__)

# An unsent outbox younger than this is most likely being sent right now by the instance that
# committed it; re-sending it then would only make a duplicate. Repairs wait this long.
STALE_OUTBOX_SECONDS = 60.0


def outbox_is_stale(record: JobRecord, now: datetime) -> bool:
    return (
        not record.outbox_sent and (now - record.updated_at).total_seconds() > STALE_OUTBOX_SECONDS
    )


async def deliver(services: Services, record: JobRecord) -> None:
    """Send the record's outbox and mark it sent (only if the row is still at that step).

    Events go first: a stage message lets the next step run, whose commit replaces this
    outbox, so an event still unsent behind it would be lost if the process died in between.
    With the events out first, a crash before the stage messages leaves the step unsent and
    its redelivery sends it all again (the events' deterministic ids make the repeat harmless).
    """
    events = services.settings.queues.events
    for item in sorted(record.outbox, key=lambda item: item.queue != events):
        if item.queue == events:
            await services.emit(item.text)
        else:
            await services.queues.send(item.queue, item.text, delay_seconds=item.delay_seconds)

    def mark(current: JobRecord) -> JobRecord | None:
        if current.step != record.step or current.run != record.run or current.outbox_sent:
            return None
        return current.evolve(outbox_sent=True)

    # Usually a merge of the one column (the ledger knows the row it just wrote).
    await services.ledger.update(record.job_id, mark)
