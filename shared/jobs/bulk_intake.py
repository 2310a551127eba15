"""Many new jobs of one (source collection, target region) pair at once: the sweep's backlog.

`request_copy` costs a handful of storage transactions per job (insert, pair read, admission
write). A pair's jobs share one ledger partition, so the sweep writes its new ones in
transactions of up to 100 rows instead, each row already carrying the admission decision the
copy rules give it one after the other (oldest first): the jobs that wait are inserted
Waiting with their reason, and only the one the rules admit (or supersede) goes through
`admit_job` afterwards. The result is the one the per-job path gives.

Crash safety is the per-job path's: the rows are Waiting until `admit_job` moves one on, the
pair row is claimed only by `admit_job`, and a Waiting row whose admission was cut short is
admitted by the next request or the sweep's repair (`promote_waiting`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.jobs.admission import admit_job
from shared.jobs.intake import CopyRequest, fresh_record, request_copy, validate_target
from shared.model.job import JobRecord
from shared.model.keys import partition_of
from shared.rules.copy_rules import Admission, PairState, admit
from shared.services import Services
from shared.storage.ledger import MAX_BATCH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewCopy:
    request: CopyRequest
    # (region, creation time) of the source restore point, as the sweep just listed it.
    known_source: tuple[str, datetime | None]
    # The source collection's VM as the sweep read it (lineage).
    source_vm_id: str | None = None


async def request_new_copies(services: Services, copies: Sequence[NewCopy]) -> list[JobRecord]:
    """Create the jobs of `copies` (one pair's, oldest first, none in the ledger yet when the
    caller looked) and admit them as `request_copy` would; returns each job as stored.
    InvalidRequest goes up before anything is written (the caller validated them)."""
    if not copies:
        return []
    now = services.clock()
    records = [
        fresh_record(
            c.request,
            validate_target(c.request, services),
            c.known_source,
            now,
            c.request.options.model_copy(update={"source_vm_id": c.source_vm_id}),
        )
        for c in copies
    ]
    if len({partition_of(r.job_id) for r in records}) != 1:
        raise ValueError("request_new_copies takes the new copies of one pair")
    first = records[0]
    pair = await services.pairs.get(first.source_collection_id, first.target_region)
    decided, to_admit = _decide_in_order(pair.state, records)
    out: list[JobRecord] = []
    for start in range(0, len(decided), MAX_BATCH):
        chunk = decided[start : start + MAX_BATCH]
        if await services.ledger.create_batch(chunk):
            for record in chunk:
                log.info("job %s run 1 requested (%s)", record.job_id, record.trigger.value)
                out.append(
                    await admit_job(services, record) if record.job_id in to_admit else record
                )
            continue
        # Another way in created one of these meanwhile: the per-job path handles each.
        for copy in copies[start : start + MAX_BATCH]:
            job, _ = await request_copy(
                services,
                copy.request,
                known_source=copy.known_source,
                source_vm_id=copy.source_vm_id,
            )
            out.append(job)
    return out


def _decide_in_order(
    state: PairState, records: list[JobRecord]
) -> tuple[list[JobRecord], set[str]]:
    """Each row as admission would leave it, deciding one after the other from the pair as
    read: waiting rows get their reason now; the rows the rules admit or supersede are left
    for `admit_job` (which claims the pair under its ETag and sends their messages)."""
    decided: list[JobRecord] = []
    to_admit: set[str] = set()
    for record in records:
        decision = admit(state, record.job_id, record.source_created_at)
        if decision.admission is Admission.WAIT:
            decided.append(record.evolve(detail=decision.reason))
            continue
        to_admit.add(record.job_id)
        decided.append(record)
        if decision.admission is Admission.ADMIT:
            state = PairState(record.job_id, record.source_created_at, state.watermark)
    return decided, to_admit
