"""Each run of a job keeps its own record: the history in the row and GET .../runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.http_api.views import runs_view
from shared.model.job import MAX_RUN_HISTORY, JobRecord, JobState
from shared.model.message import DiskProgress, Failure, Stage, Trigger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SOURCE = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg/providers/"
    "Microsoft.Compute/restorePointCollections/rpc/restorePoints/rp1"
)


def record(**changes: object) -> JobRecord:
    base = JobRecord(
        job_id="f" * 32,
        run=1,
        state=JobState.REPLICATING,
        source_restore_point_id=SOURCE,
        source_collection_id=SOURCE.rsplit("/restorePoints/", 1)[0],
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg",
        target_collection_name="rpc-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.HTTP,
        correlation_id="c",
        requested_at=T0,
        updated_at=T0,
        target_restore_point_id="/t/rp1",
        percent=30.0,
        disks=(DiskProgress(name="os", percent=30.0),),
    )
    return base.evolve(**changes)


def test_a_run_is_recorded_once_with_how_it_ended() -> None:
    failure = Failure(code="ReplicationFailed", message="os", stage=Stage.POLL)
    failed = record(state=JobState.FAILED, failure=failure)
    history = failed.with_run_recorded(JobState.FAILED, T0 + timedelta(hours=1))
    (run,) = history
    assert (run.run, run.state, run.failure, run.percent) == (1, JobState.FAILED, failure, 30.0)
    assert run.ended_at == T0 + timedelta(hours=1)
    assert run.target_restore_point_id == "/t/rp1"
    again = failed.evolve(history=history).with_run_recorded(JobState.FAILED, T0)
    assert again == history, "a redelivered step does not record the run twice"


def test_the_history_keeps_the_newest_runs() -> None:
    current = record()
    for run in range(1, MAX_RUN_HISTORY + 6):
        current = current.evolve(run=run)
        current = current.evolve(history=current.with_run_recorded(JobState.FAILED, T0))
    assert len(current.history) == MAX_RUN_HISTORY
    assert current.history[-1].run == MAX_RUN_HISTORY + 5


def test_runs_view_current_run_and_a_pending_one() -> None:
    one = record(state=JobState.FAILED, failure=Failure(code="X", message="y"))
    pending = one.evolve(
        state=JobState.RERUN_PENDING,
        next_run_at=T0 + timedelta(minutes=10),
        history=one.with_run_recorded(JobState.FAILED, T0),
    )
    runs = runs_view(pending)["value"]
    assert [(r["run"], r["state"]) for r in runs] == [(1, "Failed"), (2, "RerunPending")]
    assert runs[0]["error"]["code"] == "X"
    assert runs[1]["nextRunAt"] == (T0 + timedelta(minutes=10)).isoformat()

    running = pending.evolve(run=2, state=JobState.REPLICATING, failure=None)
    runs = runs_view(running)["value"]
    assert [(r["run"], r["state"]) for r in runs] == [(1, "Failed"), (2, "Replicating")]
    assert runs[1]["percentComplete"] == 30.0
    assert "error" not in runs[1]
