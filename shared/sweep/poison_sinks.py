"""Drain `<queue>-poison-poison`: the queue nobody reads.

The poison handlers turn whatever reaches them into a failed job, but when even that fails
(storage unreachable on every delivery) the host moves the message on to `-poison-poison`, and
older versions or outside writers may have left messages there too. Each sweep takes them, hands
each to the poison handler of its stage (a failed job, or a failed placeholder job, with its
event), and deletes it only once that worked: nothing stays where nobody looks.
"""

from __future__ import annotations

import logging

from shared.jobs.stages.poison import handle_poison
from shared.model.message import Stage
from shared.services import Services

log = logging.getLogger(__name__)


def sink_of(services: Services, stage: Stage) -> str:
    return f"{services.settings.queues.for_stage(stage)}-poison-poison"


async def drain_poison_sinks(services: Services) -> dict[str, int]:
    """Messages accounted for, per sink queue that had any."""
    drained: dict[str, int] = {}
    for stage in Stage:
        sink = sink_of(services, stage)
        for text, message_id, receipt in await services.queues.take_raw(sink):
            await handle_poison(services, stage, text)
            await services.queues.delete(sink, message_id, receipt)
            drained[sink] = drained.get(sink, 0) + 1
    for sink, count in drained.items():
        log.warning("drained %d message(s) from %s into failed jobs", count, sink)
    return drained
