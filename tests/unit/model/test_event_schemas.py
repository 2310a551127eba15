"""schemas/events/: one JSON Schema per event type, each a valid 2020-12 schema that the events
the app builds meet (and that refuses data drifting from them), served at each `dataschema`."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from shared.http_api.schemas import (
    DEFS_SUFFIX,
    SCHEMA_DIR,
    event_schema_names,
    get_event_schema,
    schema_documents,
)
from shared.jobs import creations
from shared.model.drills import (
    DrillDisk,
    DrillFailure,
    DrillPair,
    DrillPhase,
    DrillRecord,
    DrillState,
    drill_event,
)
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType, cloud_event, job_event
from shared.model.job import JobState
from shared.model.message import Failure, Stage, Trigger
from shared.storage.schedules import CreationRecord, CreationState
from tests.event_contract import check_event
from tests.unit.model.test_events import FAILED, NOW, SRC_RP, SRC_RPC, TGT_RP, make_record

IDENTITY = EventIdentity.for_host("rpcopy-prod.azurewebsites.net", type_prefix="com.contoso.dr")
DEFS = schema_documents()["job-run.defs.json"]["$defs"]


def test_every_event_type_has_a_schema_and_every_schema_an_event_type() -> None:
    names = {t.value for t in EventType}
    missing = sorted(names - event_schema_names())
    assert not missing, f"add schemas/events/<name>.json for {missing} (README, 'Events')"
    orphans = sorted(event_schema_names() - names)
    assert not orphans, f"schemas for no EventType: {orphans}"


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_each_file_is_a_2020_12_schema(name: str) -> None:
    document = schema_documents()[name]
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)
    assert document.get("title") or name.endswith(DEFS_SUFFIX)
    assert (SCHEMA_DIR / name).read_text().endswith("\n")


def test_the_shared_enums_are_the_models() -> None:
    assert DEFS["jobState"]["enum"] == [s.value for s in JobState]
    assert DEFS["stage"]["enum"] == [s.value for s in Stage]
    trigger = schema_documents()["job-run.defs.json"]["properties"]["trigger"]["enum"]
    assert trigger == [t.value for t in Trigger]


RETRYING = make_record(
    state=JobState.RERUN_PENDING,
    failure=Failure(code="ReplicationFailed", message="disk os_1 failed", stage=Stage.POLL),
    next_run_at=NOW + timedelta(minutes=10),
    reruns=1,
    finished_at=None,
    detail="run 1 failed (ReplicationFailed); run 2 starts at ...",
)
STARTED = make_record(
    state=JobState.REPLICATING, replication_done_at=None, finished_at=None, percent=0.0, disks=()
)
SUPERSEDED = make_record(
    state=JobState.SUPERSEDED,
    target_restore_point_id=None,
    target_collection_id=None,
    started_at=None,
    replication_done_at=None,
    disks=(),
    detail="a newer restore point was already copied to westus",
)
CANCELLED = make_record(
    state=JobState.CANCELLED,
    replication_done_at=None,
    percent=40.0,
    disks=(),
    detail="cancelled by an operator; the copy already started is left to Azure (not tracked)",
)
SKIPPED = make_record(
    state=JobState.SKIPPED_BY_SCHEDULE,
    trigger=Trigger.SCHEDULE,
    target_restore_point_id=None,
    target_collection_id=None,
    started_at=None,
    replication_done_at=None,
    disks=(),
    detail="skipped by the copy schedule: a newer restore point was copied at its slot",
)
CREATED = CreationRecord(
    collection_id=SRC_RPC,
    restore_point_name="rpcopy-20250101T120000Z",
    slot=NOW,
    state=CreationState.SUCCEEDED,
    policy_name="prod",
    requested_at=NOW,
    updated_at=NOW,
    attempts=1,
    created_at=NOW,
)
NOT_CREATED = CREATED.evolve(
    state=CreationState.FAILED,
    attempts=5,
    created_at=None,
    code="VMRestorePointClientError",
    reason="a restore point of this VM is being created (gave up after 5 attempts, 60 s apart)",
)
PLACEHOLDER = FAILED.evolve(
    source_restore_point_id="unknown",
    source_collection_id="unknown",
    target_collection_id=None,
    target_restore_point_id=None,
    failure=Failure(code="InvalidMessage", message="not JSON", stage=Stage.POLL),
)


def drill_record(state: DrillState) -> DrillRecord:
    ok = state is DrillState.SUCCEEDED
    disk = DrillDisk(
        name="rpcopy-drill-" + "a" * 32 + "-0",
        disk_id=TGT_RP.split("/providers/")[0] + "/providers/Microsoft.Compute/disks/d0",
        disk_restore_point_id=f"{TGT_RP}/diskRestorePoints/os_1_guid",
        source_disk_size_gb=128,
        created=True,
        verified=ok,
        cleaned=True,
        create_requested_at=NOW,
        created_at=NOW,
        verified_at=NOW if ok else None,
        cleaned_at=NOW,
        create_seconds=10.0,
        verify_seconds=2.5 if ok else None,
        clean_seconds=5.0,
        bytes_read=1048576 if ok else None,
        sha256="0" * 64 if ok else None,
        problem=None if ok else "SasReadFailed: the SAS read from https://md-x answered 403",
    )
    return DrillRecord(
        id="a" * 32,
        state=state,
        phase=DrillPhase.DONE,
        pair=DrillPair(source_collection_id=SRC_RPC, target_region="westus", policy="prod"),
        trigger="schedule",
        subscription_id="s",
        resource_group="rg-drills",
        started_at=NOW,
        updated_at=NOW,
        finished_at=NOW,
        restore_point_id=TGT_RP,
        source_restore_point_id=SRC_RP,
        copy_job_id="0" * 32,
        disks=(disk,),
        reason=None
        if ok
        else DrillFailure(code="SasReadFailed", message="os_1: 403", phase=DrillPhase.READ),
    )


def built_events() -> dict[str, dict[str, Any]]:
    """One event of each type as the app builds it (and an unreadable message's placeholder)."""
    jobs = {
        EventType.STARTED: STARTED,
        EventType.SUCCEEDED: make_record(),
        EventType.FAILED: FAILED,
        EventType.SUPERSEDED: SUPERSEDED,
        EventType.RETRYING: RETRYING,
    }
    out = {str(t): job_event(t, r, identity=IDENTITY, time=NOW) for t, r in jobs.items()}
    out["placeholder"] = job_event(EventType.FAILED, PLACEHOLDER, identity=IDENTITY, time=NOW)
    out[EventType.CANCELLED] = job_event(
        EventType.CANCELLED, CANCELLED, identity=IDENTITY, time=NOW
    )
    out[EventType.SKIPPED_BY_SCHEDULE] = job_event(
        EventType.SKIPPED_BY_SCHEDULE, SKIPPED, identity=IDENTITY, time=NOW
    )
    services = SimpleNamespace(settings=SimpleNamespace(event_identity=IDENTITY), clock=lambda: NOW)
    for kind, record in (
        (EventType.CREATION_SUCCEEDED, CREATED),
        (EventType.CREATION_FAILED, NOT_CREATED),
    ):
        out[kind] = creations._event(services, kind, record)  # type: ignore[arg-type]
    out[EventType.SOURCE_RETENTION_DELETED] = cloud_event(
        EventType.SOURCE_RETENTION_DELETED,
        identity=IDENTITY,
        subject=SRC_RP,
        time=NOW,
        data={
            "restorePointId": SRC_RP,
            "reason": "beyond keepLast 2",
            "deletedAt": NOW.isoformat(),
        },
        id_parts=(SRC_RP,),
    )
    for state, name in (
        (DrillState.SUCCEEDED, EventType.DRILL_SUCCEEDED),
        (DrillState.FAILED, EventType.DRILL_FAILED),
    ):
        out[str(name)] = drill_event(drill_record(state), identity=IDENTITY, time=NOW)
    out[EventType.RETENTION_DELETED] = cloud_event(
        EventType.RETENTION_DELETED,
        identity=IDENTITY,
        subject=SRC_RP,
        time=NOW,
        data={
            "targetRestorePointId": TGT_RP,
            "sourceRestorePointId": SRC_RP,
            "reason": "beyond keepLast 3",
            "deletedAt": NOW.isoformat(),
        },
        id_parts=(TGT_RP,),
    )
    out[EventType.RPO_BREACHED] = cloud_event(
        EventType.RPO_BREACHED,
        identity=IDENTITY,
        subject=SRC_RPC,
        time=NOW,
        data={
            "sourceCollectionId": SRC_RPC,
            "targetRegion": "westus",
            "policy": "prod",
            "protection": {
                "rpoState": "breached",
                "rpoMinutes": 240,
                "rpoDeadline": "2025-01-01T13:00:00+00:00",
                "ageMinutes": 300.0,
                "reason": "the newest usable copy is 300 min old",
                "newestUsable": None,
                "inFlight": [],
                "waiting": 0,
                "lastFailure": None,
            },
        },
        id_parts=(SRC_RPC, "westus", "k"),
    )
    return out


def test_the_table_covers_every_event_type() -> None:
    assert {t.value for t in EventType} <= set(built_events())


@pytest.mark.parametrize("key", sorted(built_events()))
def test_each_built_event_meets_the_contract(key: str) -> None:
    event = check_event(json.dumps(built_events()[key]))
    assert event["dataschema"].startswith("https://rpcopy-prod.azurewebsites.net/api/schemas/")


def _drop(path: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            data = data[p]
        del data[last]

    return change


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            data = data[p]
        data[last] = value

    return change


# (event, how the data drifts): each must be refused by its schema.
DRIFTS = [
    ("copy.succeeded", _set("state", "Failed")),
    ("copy.succeeded", _set("timing.finishedAt", None)),
    ("copy.succeeded", _set("target.restorePointId", None)),
    ("copy.succeeded", _set("unexpected", 1)),
    ("copy.succeeded", _set("timing.unexpected", 1)),
    ("copy.succeeded", _set("jobId", "not-a-job-id")),
    ("copy.succeeded", _set("source.restorePointId", "unknown")),  # only a placeholder failure
    ("copy.succeeded", _set("timing.requestedAt", "yesterday")),
    ("copy.succeeded", _set("disks", [{"percent": 101}])),
    ("copy.succeeded", _drop("attempts")),
    ("copy.started", _set("target.restorePointId", None)),
    ("copy.failed", _drop("reason")),
    ("copy.failed", _set("reason", {"code": "X", "message": "m", "stage": "nowhere"})),
    ("copy.retrying", _drop("nextRunAt")),
    ("copy.retrying", _set("trigger", "carrier-pigeon")),
    ("copy.superseded", _drop("detail")),
    ("retention.deleted", _set("sourceRestorePointId", None)),
    ("retention.deleted", _set("targetRestorePointId", "/subscriptions/x")),
    ("rpo.breached", _set("protection.rpoState", "ok")),
    ("rpo.breached", _drop("targetRegion")),
    ("drill.succeeded", _set("state", "Failed")),
    ("drill.succeeded", _set("reason", {"code": "X", "message": "m"})),
    ("drill.succeeded", _set("disks", [])),
    ("drill.failed", _drop("reason")),
    ("drill.failed", _set("drillId", "nope")),
    ("drill.failed", _set("unexpected", 1)),
]


@pytest.mark.parametrize(
    ("key", "drift"), DRIFTS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(DRIFTS)]
)
def test_data_that_drifts_from_its_schema_is_refused(key: str, drift: Any) -> None:
    event = copy.deepcopy(built_events()[key])
    drift(event["data"])
    with pytest.raises(AssertionError, match="does not match"):
        check_event(json.dumps(event))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_set("type", "Contoso.copy.succeeded"), "reverse-DNS"),
        (_set("type", "copy.succeeded"), "event name"),
        (_set("type", "com.contoso.dr.copy.exploded"), "event name"),
        (_set("source", "/rpcopy"), "absolute URI"),
        (_drop("dataschema"), "dataschema"),
        (_set("dataschema", "https://h/api/schemas/events/copy.failed.json"), "does not end"),
        (_set("subject", TGT_RP), "subject|copy.succeeded"),
        (_drop("id"), "without"),
        (_drop("time"), "without"),
        (_set("id", ""), "SDK"),
        (_set("specversion", "0.3"), "SDK"),
        (_set("time", "2025-01-01T14:00:00"), "SDK"),
        (_set("datacontenttype", "text/plain"), "text/plain"),
    ],
)
def test_envelopes_off_the_contract_are_refused(change: Any, why: str) -> None:
    event = copy.deepcopy(built_events()[EventType.SUCCEEDED])
    change(event)
    with pytest.raises((AssertionError, ValueError), match=why):
        check_event(json.dumps(event))


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_every_schema_file_is_served(name: str) -> None:
    response = get_event_schema(name)
    assert response.status == 200
    assert response.content_type == "application/schema+json"
    assert json.loads(response.text()) == json.loads((SCHEMA_DIR / name).read_text())


@pytest.mark.parametrize(
    "name", ["copy.exploded.json", "copy.started", "../settings.py", "..%2Fsettings.py", ""]
)
def test_unknown_schema_names_are_404_problems(name: str) -> None:
    response = get_event_schema(name)
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert "copy.started.json" in response.body["detail"]


def _readme_examples() -> list[dict[str, Any]]:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("\n## Events\n", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", section, re.DOTALL)]


def test_the_readme_shows_one_valid_example_of_every_event_type() -> None:
    examples = [check_event(json.dumps(e)) for e in _readme_examples()]
    names = [e["type"].removeprefix("com.example.rpcopy.") for e in examples]
    assert sorted(names) == sorted(t.value for t in EventType), "README, 'Events': one per type"
