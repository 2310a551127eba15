"""Moving jobs in and out of their (source collection, target region) pair.

`admit` lets a Waiting job start (Queued, first message sent), keeps it waiting behind the
pair's active copy, or ends it Superseded. `release` frees the pair when a job ends and admits
the oldest waiting restore point. Each step is ETag-guarded on the pair row and on the job row;
a crash between them leaves a state that the next admit/release or the sweep completes.
"""

from __future__ import annotations

import logging

from shared import telemetry
from shared.jobs.outbox import deliver
from shared.model import events
from shared.model.ids import CollectionId, RestorePointId, same_id
from shared.model.job import JobRecord, JobState, Outbound
from shared.model.message import JobMessage, Stage
from shared.rules.copy_rules import Admission, PairState, admit, order_waiting, release
from shared.services import Services
from shared.storage.pairs import PairRecord

log = logging.getLogger(__name__)


def stage_message(
    services: Services, record: JobRecord, stage: Stage, delay_seconds: float = 0.0
) -> Outbound:
    """The job's first message to `stage` for the row's current run and step."""
    message = JobMessage(
        job_id=record.job_id,
        run=record.run,
        step=record.step,
        stage=stage,
        source_restore_point_id=record.source_restore_point_id,
        target_region=record.target_region,
        target_resource_group=record.target_resource_group,
        target_collection_name=record.target_collection_name,
        target_restore_point_name=record.target_restore_point_name,
        correlation_id=record.correlation_id,
        trigger=record.trigger,
        requested_at=record.requested_at,
        traceparent=telemetry.current_traceparent(),
        options=None if record.options.is_default else record.options,
    )
    return Outbound(services.settings.queues.for_stage(stage), message.encode(), delay_seconds)


def first_message(record: JobRecord, services: Services) -> Outbound:
    return stage_message(services, record, Stage.ENSURE_TARGET)


def job_event_out(services: Services, record: JobRecord, event_type: events.EventType) -> Outbound:
    event = events.job_event(
        event_type, record, identity=services.settings.event_identity, time=services.clock()
    )
    return Outbound(services.settings.queues.events, events.encode(event))


def target_collection_of(record: JobRecord) -> CollectionId:
    """The job's target collection (in the policy's target subscription, if it names one)."""
    source = RestorePointId.parse(record.source_restore_point_id)
    return CollectionId.build(
        record.options.target_subscription(source.subscription_id),
        record.target_resource_group,
        record.target_collection_name,
    )


def target_verified_by(pair: PairRecord, record: JobRecord) -> bool:
    """Did the pair's last successful copy go into this job's target collection? Then this app
    made or verified it for this very source (ensure-target need not read it again)."""
    verified = pair.verified_target_collection_id
    if not verified or record.options.creates_in_target:
        return False
    return same_id(verified, str(target_collection_of(record)))


async def admit_job(services: Services, record: JobRecord) -> JobRecord:
    """Decide a Waiting job's fate against its pair; returns the job as stored afterwards."""
    if record.state is not JobState.WAITING:
        return record

    def claim(pair: PairRecord) -> PairRecord | None:
        decision = admit(pair.state, record.job_id, record.source_created_at)
        if decision.admission is Admission.ADMIT and pair.state.active_job_id != record.job_id:
            return pair.evolve(
                state=PairState(record.job_id, record.source_created_at, pair.state.watermark)
            )
        return None

    pair, _ = await services.pairs.update_pair(
        record.source_collection_id, record.target_region, claim
    )
    # The decision is a pure function of the pair as stored now: deciding again gives what
    # `claim` decided (after a claim, this job holds the pair and is admitted).
    decision = admit(pair.state, record.job_id, record.source_created_at)
    admission, reason = decision.admission, decision.reason
    now = services.clock()
    if admission is Admission.WAIT:
        stored, _ = await services.ledger.update(
            record.job_id,
            lambda r: (
                r.evolve(detail=reason, updated_at=now)
                if r.state is JobState.WAITING and r.detail != reason
                else None
            ),
        )
        return stored or record

    def mutate(r: JobRecord) -> JobRecord | None:
        if r.state is not JobState.WAITING or r.run != record.run:
            return None
        if admission is Admission.ADMIT:
            started = r.evolve(
                state=JobState.QUEUED,
                step=r.step + 1,
                detail=None,
                updated_at=now,
                target_collection_verified=target_verified_by(pair, r),
            )
            return started.evolve(outbox=(first_message(started, services),), outbox_sent=False)
        ended = r.evolve(
            state=JobState.SUPERSEDED,
            step=r.step + 1,
            detail=reason,
            finished_at=now,
            updated_at=now,
        )
        return ended.evolve(
            outbox=(job_event_out(services, ended, events.EventType.SUPERSEDED),), outbox_sent=False
        )

    stored, changed = await services.ledger.update(record.job_id, mutate)
    if changed and stored is not None:
        log.info("job %s %s: %s", stored.job_id, stored.state.value, reason)
        await deliver(services, stored)
    return stored or record


async def release_and_promote(services: Services, record: JobRecord) -> None:
    """Free the pair held by an ended job, then admit the oldest waiting restore point."""
    if not (record.state.terminal or record.state is JobState.RERUN_PENDING):
        return  # a job still copying keeps the pair; one waiting to re-run frees it
    succeeded = record.state is JobState.SUCCEEDED

    def free(pair: PairRecord) -> PairRecord | None:
        after = release(pair.state, record.job_id, record.source_created_at, succeeded)
        if after == pair.state:
            return None
        # A copy that succeeded proves its target collection exists for this source; any
        # other end forgets it, so the next copy checks the target collection again.
        verified = record.target_collection_id if succeeded else None
        if record.options.creates_in_target:
            verified = pair.verified_target_collection_id
        return pair.evolve(state=after, verified_target_collection_id=verified)

    await services.pairs.update_pair(record.source_collection_id, record.target_region, free)
    await promote_waiting(services, record.pair_key)


async def promote_waiting(services: Services, key: str) -> None:
    """Admit waiting jobs of a pair, oldest first, until one holds the pair or none is left."""
    waiting = await services.ledger.for_pair(key, JobState.WAITING)
    by_id = {r.job_id: r for r in waiting}
    for job_id in order_waiting([(r.job_id, r.source_created_at) for r in waiting]):
        stored = await admit_job(services, by_id[job_id])
        if stored.state is JobState.WAITING:
            return  # another job holds the pair; the rest keep waiting behind it
        if stored.state is JobState.QUEUED:
            return
