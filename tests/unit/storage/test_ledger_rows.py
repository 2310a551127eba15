"""shared/storage/ledger.py, the pure parts: entity mapping, filters and paging cursors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.model.job import JobRecord, JobState, Outbound, RunSummary
from shared.model.keys import pair_key
from shared.model.message import DiskProgress, Failure, Stage, Trigger
from shared.storage.ledger import JobFilter, decode_cursor, encode_cursor, from_entity, to_entity

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
SRC_RPC = (
    f"/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Compute"
    "/restorePointCollections/RPC1"
)
SRC_RP = f"{SRC_RPC}/restorePoints/rp1"
TGT_RPC = (
    f"/subscriptions/{SUB}/resourceGroups/rg-dr/providers/Microsoft.Compute"
    "/restorePointCollections/rpc1-westus"
)
JOB = "0123456789abcdef0123456789abcdef"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def minimal() -> JobRecord:
    return JobRecord(
        job_id=JOB,
        run=1,
        state=JobState.QUEUED,
        source_restore_point_id=SRC_RP,
        source_collection_id=SRC_RPC,
        source_region=None,
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="rpc1-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.HTTP,
        correlation_id="corr",
        requested_at=T0,
        updated_at=T0,
    )


def full() -> JobRecord:
    return minimal().evolve(
        run=3,
        state=JobState.FAILED,
        source_region="eastus",
        trigger=Trigger.SWEEP,
        updated_at=T0 + timedelta(hours=3),
        target_collection_id=TGT_RPC,
        target_restore_point_id=f"{TGT_RPC}/restorePoints/rp1-run3",
        target_restore_point_name="rp1-run3",
        source_created_at=T0 - timedelta(days=1, microseconds=123456),
        started_at=T0 + timedelta(minutes=1),
        replication_done_at=T0 + timedelta(hours=2),
        finished_at=T0 + timedelta(hours=2, minutes=1),
        percent=42.5,
        expected_finish=T0 + timedelta(hours=5),
        disks=(
            DiskProgress(
                id="/x/diskRestorePoints/os", name="os", percent=42.5, code="c", level="Error"
            ),
            DiskProgress(name="data"),
        ),
        attempts={"poll": 3, "start-copy": 1},
        failure=Failure(code="ReplicationFailed", message="disk os failed", stage=Stage.POLL),
        step=11,
        outbox=(
            Outbound("rpcopy-finish", '{"jobId":"x"}'),
            Outbound("rpcopy-poll", "text with ünïcode", delay_seconds=600.5),
        ),
        outbox_sent=False,
        runs_failed=2,
        detail="waiting for job abc",
        next_attempt_at=T0 + timedelta(minutes=20),
        history=(
            RunSummary(
                run=1,
                state=JobState.FAILED,
                trigger=Trigger.SWEEP,
                requested_at=T0,
                started_at=T0 + timedelta(minutes=1),
                ended_at=T0 + timedelta(minutes=30),
                target_restore_point_id=f"{TGT_RPC}/restorePoints/rp1",
                percent=12.0,
                disks=(DiskProgress(name="os", percent=12.0, code="ReplicationState/failed"),),
                failure=Failure(code="ReplicationFailed", message="disk os", stage=Stage.POLL),
                detail="run 1 failed",
            ),
            RunSummary(
                run=2,
                state=JobState.CANCELLED,
                trigger=Trigger.HTTP,
                requested_at=T0 + timedelta(hours=1),
                started_at=None,
                ended_at=T0 + timedelta(hours=1, minutes=2),
                target_restore_point_id=None,
                percent=None,
            ),
        ),
    )


@pytest.mark.parametrize("record", [minimal(), full()], ids=["minimal", "full"])
def test_entity_round_trip(record: JobRecord) -> None:
    entity = to_entity(record)
    assert from_entity(entity) == record
    # the entity survives a JSON round trip (Table storage stores flat primitive properties)
    assert from_entity(json.loads(json.dumps(entity))) == record


def test_entity_shape() -> None:
    entity = to_entity(full())
    assert entity["PartitionKey"] == JOB[:16]
    assert entity["RowKey"] == JOB
    assert entity["State"] == "Failed"
    assert entity["Trigger"] == "sweep"
    assert entity["SourceCollectionId"] == SRC_RPC
    assert entity["SourceCollectionKey"] == SRC_RPC.lower()
    assert entity["PairKey"] == pair_key(SRC_RPC, "westus")
    assert entity["RequestedAt"] == "2025-01-01T12:00:00+00:00"
    assert entity["OutboxSent"] is False
    assert entity["Step"] == 11
    assert json.loads(entity["Outbox"]) == [
        {"queue": "rpcopy-finish", "text": '{"jobId":"x"}', "delay": 0.0},
        {"queue": "rpcopy-poll", "text": "text with ünïcode", "delay": 600.5},
    ]
    assert json.loads(entity["Disks"])[1] == {"name": "data"}
    assert json.loads(entity["Attempts"]) == {"poll": 3, "start-copy": 1}
    assert json.loads(entity["Failure"]) == {
        "code": "ReplicationFailed",
        "message": "disk os failed",
        "stage": "poll",
    }
    # every value is a primitive Table storage can hold
    assert all(isinstance(v, str | int | float | bool) for v in entity.values())


def test_entity_omits_none() -> None:
    entity = to_entity(minimal())
    for absent in (
        "SourceRegion",
        "TargetCollectionId",
        "TargetRestorePointId",
        "StartedAt",
        "FinishedAt",
        "Percent",
        "ExpectedFinish",
        "Failure",
        "Detail",
    ):
        assert absent not in entity
    assert None not in entity.values()


def test_from_entity_defaults_for_older_rows() -> None:
    entity = {
        "PartitionKey": JOB[:16],
        "RowKey": JOB,
        "State": "Replicating",
        "SourceRestorePointId": SRC_RP,
        "SourceCollectionId": SRC_RPC,
        "TargetRegion": "westus",
        "TargetResourceGroup": "rg-dr",
        "TargetCollectionName": "rpc1-westus",
        "TargetRestorePointName": "rp1",
        "RequestedAt": "2025-01-01T12:00:00+00:00",
    }
    record = from_entity(entity)
    assert record.run == 1
    assert record.trigger is Trigger.HTTP
    assert record.step == 0
    assert record.outbox == ()
    assert record.outbox_sent is True
    assert record.runs_failed == 0
    assert record.disks == ()
    assert record.attempts == {}
    assert record.failure is None
    assert record.requested_at == T0


def test_from_entity_accepts_datetimes() -> None:
    entity = to_entity(minimal())
    entity["RequestedAt"] = T0
    entity["StartedAt"] = T0 + timedelta(seconds=1)
    record = from_entity(entity)
    assert record.requested_at == T0
    assert record.started_at == T0 + timedelta(seconds=1)


def test_states() -> None:
    assert {s for s in JobState if s.terminal} == {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.SUPERSEDED,
        JobState.SKIPPED_BY_SCHEDULE,
        JobState.CANCELLED,
    }


@pytest.mark.parametrize(
    ("filters", "query", "params"),
    [
        (JobFilter(), None, {}),
        (JobFilter(state=JobState.FAILED), "State eq @state", {"state": "Failed"}),
        (
            JobFilter(source_collection_id=SRC_RPC),
            "SourceCollectionKey eq @src",
            {"src": SRC_RPC.lower()},
        ),
        (JobFilter(target_region="westus"), "TargetRegion eq @region", {"region": "westus"}),
        (
            JobFilter(JobState.REPLICATING, SRC_RPC, "westus"),
            "State eq @state and SourceCollectionKey eq @src and TargetRegion eq @region",
            {"state": "Replicating", "src": SRC_RPC.lower(), "region": "westus"},
        ),
        # values travel as parameters, never spliced into the query
        (
            JobFilter(target_region="x' or PartitionKey ne '"),
            "TargetRegion eq @region",
            {"region": "x' or PartitionKey ne '"},
        ),
    ],
)
def test_filter_odata(filters: JobFilter, query: str | None, params: dict[str, str]) -> None:
    assert filters.odata() == (query, params)


@pytest.mark.parametrize(
    "token",
    [
        {"PartitionKey": "abc", "RowKey": "job"},
        {"PartitionKey": "ü/+=?&", "RowKey": None},
        {"nextpk": "1!12!MDEyMzQ1", "nextrk": "1!4!am9i"},
    ],
)
def test_cursor_round_trip(token: dict[str, object]) -> None:
    cursor = encode_cursor(token)
    assert cursor is not None
    assert all(c.isalnum() or c in "-_=" for c in cursor)  # safe in a query string
    assert decode_cursor(cursor) == token


@pytest.mark.parametrize("token", [None, {}, ""])
def test_no_cursor_for_the_last_page(token: object) -> None:
    assert encode_cursor(token) is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!",
        "é",
        "abc",  # bad padding
        _b64("not json"),
        _b64("[1, 2]"),
        _b64("null"),
        _b64('"string"'),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursor(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor is not a value returned by this API"):
        decode_cursor(cursor)


def test_outbound_json() -> None:
    out = Outbound("q", "t", 5)
    assert Outbound.from_json(out.to_json()) == out
    assert Outbound.from_json({"queue": "q", "text": "t"}) == Outbound("q", "t", 0.0)
