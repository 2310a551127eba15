"""A host that dies between a stage's commit and its follow-ups (found by the crash drill,
`python -m drills crash`): the message was not deleted, so the host delivers it again, and that
delivery must finish the follow-ups even though the step is already committed. Otherwise the
pair stays held by a job that ended (or a new run stays Waiting with nobody to admit it) and
every later restore point of the pair waits forever; a manual (HTTP) pair is never swept."""

from __future__ import annotations

import pytest

from shared.jobs.admission import admit_job, stage_message
from shared.jobs.outbox import deliver
from shared.jobs.stages import dispatch
from shared.model.job import JobState, Outbound
from shared.model.message import Failure, Outcome, Stage, decode_message
from shared.rules.copy_rules import PairState
from tests.conftest import MakeServices
from tests.support import drain_queue
from tests.unit.jobs.test_admission import RPC, connection, started_event, stored, waiting


class HostDied(BaseException):
    """The process was killed: nothing after this point of the delivery ran."""


def die_after_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    async def died(*args: object, **kwargs: object) -> None:
        raise HostDied

    monkeypatch.setattr(dispatch, "_follow_up", died)


async def test_a_finish_redelivered_after_a_crash_frees_the_pair_for_the_next_copy(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = await make_services()
    first = await admit_job(services, await stored(services, waiting("rp1", 0)))
    second = await admit_job(services, await stored(services, waiting("rp2", 60)))
    assert (first.state, second.state) == (JobState.QUEUED, JobState.WAITING)
    replicating, _ = await services.ledger.update(
        first.job_id,
        lambda r: r.evolve(
            state=JobState.REPLICATING, target_restore_point_id=f"{RPC}-westus/restorePoints/rp1"
        ),
    )
    assert replicating is not None
    finish = decode_message(stage_message(services, replicating, Stage.FINISH).text)
    done = Outcome(state="Succeeded", replication_done_at=replicating.requested_at)
    text = finish.model_copy(update={"outcome": done}).encode()

    with monkeypatch.context() as patch:
        die_after_commit(patch)
        with pytest.raises(HostDied):
            await dispatch.handle(services, Stage.FINISH, text)
    assert (await services.ledger.get(first.job_id)).state is JobState.SUCCEEDED

    # The message was never deleted: it comes back once its lock runs out.
    await dispatch.handle(services, Stage.FINISH, text)

    assert (await services.ledger.get(second.job_id)).state is JobState.QUEUED
    pair, _ = await services.pairs.update_pair(RPC, "westus", lambda p: None)
    assert pair.state.active_job_id == second.job_id


async def test_a_rerun_redelivered_after_a_crash_admits_the_new_run(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = await make_services()
    job = await admit_job(services, await stored(services, waiting("rp1", 0)))
    failure = Failure(code="ReplicationFailed", message="replication failed", stage=Stage.POLL)
    # Run 1 failed and freed the pair; the rerun stage's message waits for its backoff.
    pending, _ = await services.ledger.update(
        job.job_id, lambda r: r.evolve(state=JobState.RERUN_PENDING, failure=failure)
    )
    assert pending is not None
    await services.pairs.update_pair(RPC, "westus", lambda p: p.evolve(state=PairState()))
    text = stage_message(services, pending, Stage.RERUN).text

    with monkeypatch.context() as patch:
        die_after_commit(patch)
        with pytest.raises(HostDied):
            await dispatch.handle(services, Stage.RERUN, text)
    run2 = await services.ledger.get(job.job_id)
    assert (run2.run, run2.state) == (2, JobState.WAITING)

    await dispatch.handle(services, Stage.RERUN, text)

    admitted = await services.ledger.get(job.job_id)
    assert (admitted.run, admitted.state) == (2, JobState.QUEUED)


async def test_a_crash_while_delivering_never_lets_the_job_move_on_before_its_events(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-copy step sends the poll message and announces copy.started. If the
    host dies between the two and the poll message is already out, the poll stage's commit
    replaces the outbox and the started event is lost for good (found by the crash drill);
    with the event out first, the step stays unsent and its redelivery sends both."""
    services = await make_services()
    queues = services.settings.queues
    started = started_event(services, waiting("rp1", 0))
    record = await stored(
        services,
        waiting("rp1", 0).evolve(
            outbox=(
                Outbound(queues.poll, "the poll message"),
                Outbound(queues.events, started),
            ),
            outbox_sent=False,
        ),
    )

    async def died(event_json: str) -> None:
        raise HostDied

    with monkeypatch.context() as patch:
        patch.setattr(services, "emit", died)
        with pytest.raises(HostDied):
            await deliver(services, record)

    assert drain_queue(connection(services), queues.poll) == [], "nothing moved the job on"
    assert not (await services.ledger.get(record.job_id)).outbox_sent
    await deliver(services, record)  # the redelivered message finds the outbox unsent
    assert drain_queue(connection(services), queues.poll) == ["the poll message"]
    assert drain_queue(connection(services), queues.events) == [started]
