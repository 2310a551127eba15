"""shared/messages.py: the versioned job message, its codec and the deterministic job id."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.errors import InvalidMessage
from shared.model.ids import RestorePointId
from shared.model.keys import job_id_for
from shared.model.message import (
    MESSAGE_VERSION,
    DiskProgress,
    Failure,
    JobMessage,
    Outcome,
    PollState,
    Stage,
    Trigger,
    decode_message,
)
from shared.model.times import parse_arm_time

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RP = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
    "/restorePointCollections/rpc1/restorePoints/rp1"
)
JOB = "0123456789abcdef0123456789abcdef"
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def make_message(**changes: Any) -> JobMessage:
    fields: dict[str, Any] = {
        "job_id": JOB,
        "stage": Stage.ENSURE_TARGET,
        "source_restore_point_id": RP,
        "target_region": "westus",
        "target_resource_group": "rg",
        "target_collection_name": "rpc1-westus",
        "target_restore_point_name": "rp1",
        "correlation_id": "corr-1",
        "trigger": Trigger.EVENT_GRID,
        "requested_at": T0,
    }
    fields.update(changes)
    return JobMessage(**fields)


def full_message() -> JobMessage:
    return make_message(
        run=3,
        step=7,
        stage=Stage.POLL,
        started_at=T0 + timedelta(seconds=5),
        attempts={"poll": 2, "start-copy": 1},
        last_status="replicating",
        operation_url="https://management.azure.com/op?p=1&api-version=2025-04-01",
        poll=PollState(
            count=4,
            started_at=T0,
            last_polled_at=T0 + timedelta(minutes=30),
            last_percent=40.0,
            last_progress_at=T0 + timedelta(minutes=20),
            first_percent=0.0,
            first_percent_at=T0,
        ),
        outcome=Outcome(
            state="Failed",
            failure=Failure(code="ReplicationFailed", message="boom", stage=Stage.POLL),
            disks=(DiskProgress(id="/d/1", name="1", percent=40.0, code="c", level="Error"),),
            replication_done_at=T0 + timedelta(hours=1),
        ),
    )


def wire(message: JobMessage) -> dict[str, Any]:
    return json.loads(message.encode())


# -- round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("message", [make_message(), full_message()], ids=["minimal", "full"])
def test_round_trip(message: JobMessage) -> None:
    text = message.encode()
    assert decode_message(text) == message
    assert decode_message(text.encode("utf-8")) == message


def test_wire_uses_camel_case_and_omits_none() -> None:
    document = wire(full_message())
    assert document["version"] == MESSAGE_VERSION == 1
    assert document["jobId"] == JOB
    assert document["sourceRestorePointId"] == RP
    assert document["targetRegion"] == "westus"
    assert document["targetResourceGroup"] == "rg"
    assert document["targetCollectionName"] == "rpc1-westus"
    assert document["targetRestorePointName"] == "rp1"
    assert document["correlationId"] == "corr-1"
    assert document["trigger"] == "eventgrid"
    assert document["stage"] == "poll"
    assert document["requestedAt"] == "2025-01-02T03:04:05Z"
    assert document["lastStatus"] == "replicating"
    assert document["operationUrl"].startswith("https://")
    assert document["poll"]["lastPercent"] == 40.0
    assert document["poll"]["firstPercentAt"] == "2025-01-02T03:04:05Z"
    assert document["outcome"]["replicationDoneAt"] == "2025-01-02T04:04:05Z"
    assert document["outcome"]["failure"] == {
        "code": "ReplicationFailed",
        "message": "boom",
        "stage": "poll",
    }
    assert not any("_" in key for key in document)
    minimal = wire(make_message())
    assert "startedAt" not in minimal
    assert "outcome" not in minimal
    assert "operationUrl" not in minimal


def test_model_helpers() -> None:
    message = make_message()
    assert message.source == RestorePointId.parse(RP)
    assert message.attempts_at(Stage.POLL) == 0
    once = message.with_attempt().with_attempt()
    assert once.attempts_at(Stage.ENSURE_TARGET) == 2
    assert message.attempts == {}  # frozen: with_attempt copies
    nxt = once.next(Stage.START_COPY, step=1)
    assert (nxt.stage, nxt.step, nxt.job_id) == (Stage.START_COPY, 1, JOB)


# -- rejection ------------------------------------------------------------------------------


def _with(**changes: Any) -> str:
    document = wire(make_message())
    for key, value in changes.items():
        if value is _DROP:
            document.pop(key)
        else:
            document[key] = value
    return json.dumps(document)


_DROP = object()

# (raw message, words the reason must contain, job id InvalidMessage must recover)
_REJECTED: dict[str, tuple[str | bytes, tuple[str, ...], str | None]] = {
    "unknown top-level field": (_with(extra=1), ("extra",), JOB),
    "snake_case duplicate of a field": (_with(job_id=JOB), ("job_id",), JOB),
    "unknown nested field": (_with(poll={"count": 1, "speed": 2}), ("poll", "speed"), JOB),
    "version 2": (_with(version=2), ("version 2", "expected 1"), JOB),
    "version 0": (_with(version=0), ("version",), JOB),
    "version as string": (_with(version="1"), ("version",), JOB),
    "version true": (_with(version=True), ("version",), JOB),
    "job id upper case": (_with(jobId=JOB.upper()), ("jobId",), None),
    "job id too short": (_with(jobId=JOB[:-1]), ("jobId",), None),
    "job id not hex": (_with(jobId="z" * 32), ("jobId",), None),
    "job id with slashes": (_with(jobId="/" * 32), ("jobId",), None),
    "job id not a string": (_with(jobId=12345), ("jobId",), None),
    "job id missing": (_with(jobId=_DROP), ("jobId",), None),
    "bad source id": (_with(sourceRestorePointId="rp1"), ("sourceRestorePointId",), JOB),
    "source is a collection": (
        _with(sourceRestorePointId=RP.rsplit("/restorePoints", 1)[0]),
        ("sourceRestorePointId", "/restorePoints/{restorePointName}"),
        JOB,
    ),
    "bad region": (_with(targetRegion="West US"), ("targetRegion",), JOB),
    "region with dash": (_with(targetRegion="west-us"), ("targetRegion",), JOB),
    "unknown stage": (_with(stage="teleport"), ("stage",), JOB),
    "unknown trigger": (_with(trigger="email"), ("trigger",), JOB),
    "naive timestamp": (_with(requestedAt="2025-01-02T03:04:05"), ("requestedAt",), JOB),
    "run 0": (_with(run=0), ("run",), JOB),
    "negative step": (_with(step=-1), ("step",), JOB),
    "missing stage": (_with(stage=_DROP), ("stage",), JOB),
    "not JSON": ("not json", ("not JSON",), None),
    "truncated JSON": (make_message().encode()[:40], ("not JSON",), None),
    "invalid UTF-8 bytes": (b"\xff\xfe{", ("not JSON",), None),
    "JSON array": ("[]", ("schema",), None),
    "JSON string": ('"hello"', ("schema",), None),
    "JSON null": ("null", ("schema",), None),
    "empty object": ("{}", ("jobId", "stage"), None),
}


@pytest.mark.parametrize(("raw", "words", "job_id"), list(_REJECTED.values()), ids=list(_REJECTED))
def test_rejected(raw: str | bytes, words: tuple[str, ...], job_id: str | None) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode_message(raw)
    exc = info.value
    for word in words:
        assert word in exc.reason
    assert str(exc) == exc.reason
    assert exc.job_id == job_id
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    assert exc.raw_sha256 == hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def test_invalid_message_is_a_value_error() -> None:
    assert issubclass(InvalidMessage, ValueError)


def test_messages_are_frozen() -> None:
    message = make_message()
    with pytest.raises(ValueError, match="frozen"):
        message.run = 2  # type: ignore[misc]


# -- job ids --------------------------------------------------------------------------------


def test_job_id_is_deterministic_hex() -> None:
    source = RestorePointId.parse(RP)
    first = job_id_for(source, "westus")
    assert first == job_id_for(RestorePointId.parse(RP), "westus")
    assert len(first) == 32
    assert all(c in "0123456789abcdef" for c in first)
    # accepted by the message schema
    make_message(job_id=first)


@pytest.mark.parametrize(
    ("source", "region"),
    [
        (RP.upper(), "westus"),
        (RP.lower(), "westus"),
        (RP.replace("resourceGroups", "resourcegroups"), "westus"),
        (RP, "WestUS"),
        (RP, " westus "),
    ],
)
def test_job_id_ignores_case(source: str, region: str) -> None:
    assert job_id_for(RestorePointId.parse(source), region) == job_id_for(
        RestorePointId.parse(RP), "westus"
    )


@pytest.mark.parametrize(
    ("source", "region"),
    [
        (RP, "eastus"),
        (RP, "westus2"),
        (RP.replace("rp1", "rp2"), "westus"),
        (RP.replace("rpc1", "rpc2"), "westus"),
        (RP.replace("resourceGroups/rg", "resourceGroups/rg2"), "westus"),
    ],
)
def test_job_id_differs(source: str, region: str) -> None:
    assert job_id_for(RestorePointId.parse(source), region) != job_id_for(
        RestorePointId.parse(RP), "westus"
    )


# -- ARM timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # the wire format: 7 fractional digits (Python 3.11 parses at most 6)
        (
            "2023-10-20T03:43:09.9156474+00:00",
            datetime(2023, 10, 20, 3, 43, 9, 915647, tzinfo=UTC),
        ),
        ("2025-01-01T00:00:00.1234567Z", datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
        (" 2025-01-01T00:00:00Z ", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T00:00:00", datetime(2025, 1, 1, tzinfo=UTC)),  # naive is read as UTC
        (
            "2025-01-01T01:00:00+02:00",
            datetime(2025, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("", None),
        ("yesterday", None),
        (None, None),
        (1700000000, None),
    ],
)
def test_parse_arm_time(value: object, expected: datetime | None) -> None:
    parsed = parse_arm_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_parse_arm_time_reads_the_official_example() -> None:
    assert parse_arm_time("2021-01-27T20:35:05.8401519+00:00") == datetime(
        2021, 1, 27, 20, 35, 5, 840151, tzinfo=UTC
    )
