"""shared/events.py: CloudEvents 1.0 for job outcomes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from shared.model.event_identity import EventIdentity
from shared.model.events import EventType, cloud_event, encode, event_id, job_event
from shared.model.job import JobRecord, JobState
from shared.model.message import DiskProgress, Failure, Stage, Trigger

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
SRC_RPC = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
    "/restorePointCollections/rpc1"
)
SRC_RP = f"{SRC_RPC}/restorePoints/rp1"
TGT_RPC = SRC_RPC.replace("/rg/", "/rg-dr/").replace("rpc1", "rpc1-westus")
TGT_RP = f"{TGT_RPC}/restorePoints/rp1"
JOB = "0123456789abcdef0123456789abcdef"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
IDENTITY = EventIdentity.for_host("rpcopy-prod.azurewebsites.net", type_prefix="com.contoso.dr")


def make_record(**changes: object) -> JobRecord:
    base = JobRecord(
        job_id=JOB,
        run=1,
        state=JobState.SUCCEEDED,
        source_restore_point_id=SRC_RP,
        source_collection_id=SRC_RPC,
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="rpc1-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.EVENT_GRID,
        correlation_id="corr-1",
        requested_at=T0,
        updated_at=NOW,
        target_collection_id=TGT_RPC,
        target_restore_point_id=TGT_RP,
        started_at=T0 + timedelta(minutes=1),
        replication_done_at=T0 + timedelta(minutes=90),
        finished_at=T0 + timedelta(minutes=91),
        percent=100.0,
        disks=(
            DiskProgress(id=f"{TGT_RP}/diskRestorePoints/os_1", name="os_1", percent=100.0),
            DiskProgress(name="data_1", percent=100.0, code="ReplicationState/succeeded"),
        ),
        attempts={"poll": 9},
    )
    return base.evolve(**changes)


FAILED = make_record(
    state=JobState.FAILED,
    replication_done_at=None,
    failure=Failure(code="ReplicationFailed", message="disk os_1 failed", stage=Stage.POLL),
)


def test_required_cloudevents_attributes() -> None:
    event = job_event(EventType.SUCCEEDED, make_record(), identity=IDENTITY, time=NOW)
    # CloudEvents 1.0 required: id, source, specversion, type
    assert event["specversion"] == "1.0"
    assert event["type"] == "com.contoso.dr.copy.succeeded"
    assert event["source"] == "https://rpcopy-prod.azurewebsites.net/"
    assert re.fullmatch(r"[0-9a-f]{32}", event["id"])
    # optional attributes we always set
    assert event["subject"] == SRC_RP  # the source restore point, in every copy event
    assert event["dataschema"] == (
        "https://rpcopy-prod.azurewebsites.net/api/schemas/events/copy.succeeded.json"
    )
    assert event["time"] == "2025-01-01T14:00:00+00:00"
    assert datetime.fromisoformat(event["time"]) == NOW
    assert event["datacontenttype"] == "application/json"
    assert set(event) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "data",
    }


def test_data_fields() -> None:
    data = job_event(EventType.SUCCEEDED, make_record(), identity=IDENTITY, time=NOW)["data"]
    assert data["jobId"] == JOB
    assert data["run"] == 1
    assert data["state"] == "Succeeded"
    assert data["trigger"] == "eventgrid"
    assert data["correlationId"] == "corr-1"
    assert data["source"] == {"restorePointId": SRC_RP, "collectionId": SRC_RPC, "region": "eastus"}
    assert data["target"] == {
        "restorePointId": TGT_RP,
        "collectionId": TGT_RPC,
        "region": "westus",
        "resourceGroup": "rg-dr",
    }
    assert data["timing"] == {
        "requestedAt": "2025-01-01T12:00:00+00:00",
        "startedAt": "2025-01-01T12:01:00+00:00",
        "replicationDoneAt": "2025-01-01T13:30:00+00:00",
        "finishedAt": "2025-01-01T13:31:00+00:00",
        "durationSeconds": 91 * 60.0,
    }
    assert data["disks"] == [
        {"id": f"{TGT_RP}/diskRestorePoints/os_1", "name": "os_1", "percent": 100.0},
        {"name": "data_1", "percent": 100.0, "code": "ReplicationState/succeeded"},
    ]
    assert data["attempts"] == {"poll": 9}
    assert "reason" not in data


def test_failure_reason() -> None:
    event = job_event(EventType.FAILED, FAILED, identity=IDENTITY, time=NOW)
    assert event["type"] == "com.contoso.dr.copy.failed"
    assert event["data"]["state"] == "Failed"
    assert event["data"]["reason"] == {
        "code": "ReplicationFailed",
        "message": "disk os_1 failed",
        "stage": "poll",
    }
    assert event["data"]["timing"]["replicationDoneAt"] is None


def test_reason_without_stage() -> None:
    record = FAILED.evolve(failure=Failure(code="InvalidMessage", message="bad"))
    data = job_event(EventType.FAILED, record, identity=IDENTITY, time=NOW)["data"]
    assert data["reason"] == {"code": "InvalidMessage", "message": "bad"}


def test_started_event_before_the_target_exists() -> None:
    record = make_record(
        state=JobState.STARTING,
        target_collection_id=None,
        target_restore_point_id=None,
        started_at=None,
        replication_done_at=None,
        finished_at=None,
        disks=(),
        source_region=None,
    )
    event = job_event(EventType.STARTED, record, identity=IDENTITY, time=NOW)
    assert event["subject"] == SRC_RP
    assert event["data"]["target"]["restorePointId"] is None
    assert event["data"]["source"]["region"] is None
    assert event["data"]["timing"]["durationSeconds"] is None
    assert event["data"]["timing"]["finishedAt"] is None
    assert event["data"]["disks"] == []


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ((EventType.SUCCEEDED, make_record()), (EventType.SUCCEEDED, make_record()), True),
        # the id depends on (type, job, run) only, not on when or what else changed
        (
            (EventType.SUCCEEDED, make_record()),
            (EventType.SUCCEEDED, make_record(percent=50.0, attempts={}, correlation_id="x")),
            True,
        ),
        ((EventType.SUCCEEDED, make_record()), (EventType.FAILED, make_record()), False),
        ((EventType.FAILED, make_record()), (EventType.FAILED, make_record(run=2)), False),
        (
            (EventType.FAILED, make_record()),
            (EventType.FAILED, make_record(job_id="f" * 32)),
            False,
        ),
        ((EventType.STARTED, make_record()), (EventType.SUPERSEDED, make_record()), False),
    ],
)
def test_event_id_is_deterministic_per_type_job_run(
    a: tuple[EventType, JobRecord], b: tuple[EventType, JobRecord], same: bool
) -> None:
    first = job_event(a[0], a[1], identity=IDENTITY, time=NOW)
    # nor on the type prefix or source: renaming does not make old events look new
    second = job_event(b[0], b[1], identity=EventIdentity(), time=NOW + timedelta(days=1))
    assert (first["id"] == second["id"]) is same


def test_event_ids_distinct_across_all_types() -> None:
    record = make_record()
    ids = {job_event(t, record, identity=IDENTITY, time=NOW)["id"] for t in EventType}
    assert len(ids) == len(EventType)


def test_event_id_helper() -> None:
    assert event_id("a", 1) == event_id("a", 1)
    assert event_id("a", 1) != event_id("a", 2)
    assert event_id("a|1") == event_id("a", 1)  # parts are joined with "|"
    assert len(event_id("x")) == 32


def test_cloud_event_helper() -> None:
    event = cloud_event(
        EventType.RPO_BREACHED,
        identity=IDENTITY,
        subject=SRC_RPC,
        time=NOW,
        data={"k": 1},
        id_parts=("p",),
    )
    assert event["type"] == "com.contoso.dr.rpo.breached"
    assert event["id"] == event_id("rpo.breached", "p")
    assert event["dataschema"].endswith("/api/schemas/events/rpo.breached.json")
    assert event["data"] == {"k": 1}


def test_encode_is_compact_json() -> None:
    event = job_event(EventType.FAILED, FAILED, identity=IDENTITY, time=NOW)
    text = encode(event)
    assert json.loads(text) == event
    assert text == json.dumps(event, separators=(",", ":"))
