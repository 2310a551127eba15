"""shared/replication.py: classifying a `GET {restorePoint}?$expand=instanceView` body.

The table starts from the official spec example (tests/fixtures/RestorePoint_Get_WithInstanceView
.json: provisioningState Succeeded, two disks at ReplicationState/succeeded 100 %) and changes one
thing per row.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.arm.bodies import instance_view
from shared.model.message import Stage
from shared.rules.replication import CopyStatus, ReplicationView, assess

FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "RestorePoint_Get_WithInstanceView.json"
)
EXAMPLE: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))["responses"]["200"][
    "body"
]

Body = dict[str, Any]


def read_and_assess(body: Any) -> ReplicationView:
    """What the poll stage does with a body: read it (shared.arm.bodies), then decide."""
    return assess(instance_view(body))


def props(body: Body) -> Body:
    return body["properties"]


def view(body: Body) -> Body:
    return body["properties"]["instanceView"]


def disk(body: Body, index: int) -> Body:
    return view(body)["diskRestorePoints"][index]["replicationStatus"]


def set_state(value: str | None) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        if value is None:
            props(body).pop("provisioningState")
        else:
            props(body)["provisioningState"] = value

    return change


def set_percent(index: int, value: object) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        disk(body, index)["completionPercent"] = value

    return change


def set_disk_status(index: int, **status: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        disk(body, index)["status"].update(status)

    return change


def set_statuses(*statuses: Body) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        view(body)["statuses"] = list(statuses)

    return change


def both(*changes: Callable[[Body], None]) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        for c in changes:
            c(body)

    return change


def drop_instance_view(body: Body) -> None:
    props(body).pop("instanceView")


def in_progress(index: int, percent: object) -> Callable[[Body], None]:
    return both(
        set_disk_status(index, code="ReplicationState/inProgress", displayStatus="In progress"),
        set_percent(index, percent),
    )


OK = {"code": "ReplicationState/succeeded", "level": "Info", "displayStatus": "Succeeded"}
RUNNING = {"code": "ReplicationState/inProgress", "level": "Info"}

# (change to the example, expected status, expected mean percent)
_CASES: dict[str, tuple[Callable[[Body], None], CopyStatus, float | None]] = {
    "official example": (lambda b: None, CopyStatus.SUCCEEDED, 100.0),
    "creating": (set_state("Creating"), CopyStatus.INITIATING, None),
    "updating": (set_state("Updating"), CopyStatus.INITIATING, None),
    "no provisioningState counts as succeeded": (set_state(None), CopyStatus.SUCCEEDED, 100.0),
    "provisioningState lower case": (set_state("succeeded"), CopyStatus.SUCCEEDED, 100.0),
    "one disk 100 one 40": (in_progress(1, 40), CopyStatus.REPLICATING, 70.0),
    "both disks at 0": (both(in_progress(0, 0), in_progress(1, 0)), CopyStatus.REPLICATING, 0.0),
    "odd mean is rounded": (
        both(in_progress(0, 33), in_progress(1, 0)),
        CopyStatus.REPLICATING,
        16.5,
    ),
    "succeeded code but 99": (set_percent(1, 99), CopyStatus.REPLICATING, 99.5),
    "succeeded code, percent missing": (
        lambda b: disk(b, 0).pop("completionPercent"),
        CopyStatus.REPLICATING,
        50.0,
    ),
    "percent as float 100.0": (
        both(set_percent(0, 100.0), set_percent(1, 100.0)),
        CopyStatus.SUCCEEDED,
        100.0,
    ),
    "percent as float 40.5": (in_progress(1, 40.5), CopyStatus.REPLICATING, 70.25),
    "percent as bool is unknown": (set_percent(1, True), CopyStatus.REPLICATING, 50.0),
    "percent as string is unknown": (set_percent(1, "100"), CopyStatus.REPLICATING, 50.0),
    "percent null is unknown": (set_percent(1, None), CopyStatus.REPLICATING, 50.0),
    "percent above 100 is clamped": (
        both(set_percent(0, 150), set_percent(1, 100)),
        CopyStatus.SUCCEEDED,
        100.0,
    ),
    "percent below 0 is clamped": (in_progress(1, -5), CopyStatus.REPLICATING, 50.0),
    "no disk reports a percent": (
        both(set_percent(0, None), set_percent(1, "x")),
        CopyStatus.REPLICATING,
        0.0,
    ),
    "code case-insensitive": (
        both(
            set_disk_status(0, code="REPLICATIONSTATE/SUCCEEDED"),
            set_disk_status(1, code="replicationstate/Succeeded"),
            set_statuses({"code": "replicationState/SUCCEEDED"}),
        ),
        CopyStatus.SUCCEEDED,
        100.0,
    ),
    "unknown code": (
        set_disk_status(1, code="ReplicationState/mystery"),
        CopyStatus.REPLICATING,
        100.0,
    ),
    "in-progress code at 100": (in_progress(1, 100), CopyStatus.REPLICATING, 100.0),
    "disk code missing": (
        lambda b: disk(b, 1)["status"].pop("code"),
        CopyStatus.REPLICATING,
        100.0,
    ),
    "disk without replicationStatus": (
        lambda b: view(b)["diskRestorePoints"][1].pop("replicationStatus"),
        CopyStatus.REPLICATING,
        50.0,
    ),
    "disk level Error, no detail": (
        set_disk_status(1, code="ReplicationState/inProgress", level="Error"),
        CopyStatus.FAILED,
        100.0,
    ),
    "disk level error lower case": (
        set_disk_status(1, level="error"),
        CopyStatus.FAILED,
        100.0,
    ),
    "disk ReplicationState/failed": (
        both(set_disk_status(0, code="ReplicationState/failed"), set_percent(0, 40)),
        CopyStatus.FAILED,
        70.0,
    ),
    "disk ReplicationState/Canceled": (
        set_disk_status(0, code="ReplicationState/Canceled"),
        CopyStatus.FAILED,
        100.0,
    ),
    "disk ReplicationState/cancelled": (
        set_disk_status(0, code="ReplicationState/cancelled"),
        CopyStatus.FAILED,
        100.0,
    ),
    "disk ReplicationState/terminated": (
        set_disk_status(0, code="ReplicationState/TERMINATED"),
        CopyStatus.FAILED,
        100.0,
    ),
    "disk level Warning is not a failure": (
        set_disk_status(0, level="Warning"),
        CopyStatus.SUCCEEDED,
        100.0,
    ),
    "statuses[] with error level": (
        set_statuses({"code": "ReplicationState/inProgress", "level": "Error"}),
        CopyStatus.FAILED,
        100.0,
    ),
    "statuses[] with failed code": (
        set_statuses(OK, {"code": "ReplicationState/failed", "level": "Info"}),
        CopyStatus.FAILED,
        100.0,
    ),
    "statuses[] not succeeded but disks done": (
        set_statuses(RUNNING),
        CopyStatus.REPLICATING,
        100.0,
    ),
    "statuses[] one of two not succeeded": (
        set_statuses(OK, RUNNING),
        CopyStatus.REPLICATING,
        100.0,
    ),
    "statuses[] empty, disks done": (set_statuses(), CopyStatus.SUCCEEDED, 100.0),
    "statuses[] entry without code": (
        set_statuses({"level": "Info"}),
        CopyStatus.REPLICATING,
        100.0,
    ),
    "statuses[] with non-string code and level": (
        set_statuses({"code": 7, "level": None}),
        CopyStatus.REPLICATING,
        100.0,
    ),
    "statuses[] not a list": (
        lambda b: view(b).update(statuses={"code": "x"}),
        CopyStatus.SUCCEEDED,
        100.0,
    ),
    "provisioningState Failed": (set_state("Failed"), CopyStatus.FAILED, None),
    "provisioningState Canceled": (set_state("Canceled"), CopyStatus.FAILED, None),
    "provisioningState failed wins over disks done": (
        set_state("failed"),
        CopyStatus.FAILED,
        None,
    ),
    "no instanceView": (drop_instance_view, CopyStatus.REPLICATING, None),
    "instanceView null": (
        lambda b: props(b).update(instanceView=None),
        CopyStatus.REPLICATING,
        None,
    ),
    "no disks in instanceView": (
        lambda b: view(b).pop("diskRestorePoints"),
        CopyStatus.REPLICATING,
        None,
    ),
    "empty disk list": (
        lambda b: view(b).update(diskRestorePoints=[]),
        CopyStatus.REPLICATING,
        None,
    ),
    "disk entries that are not objects are ignored": (
        lambda b: view(b)["diskRestorePoints"].extend(["junk", 3, None]),
        CopyStatus.SUCCEEDED,
        100.0,
    ),
    "missing properties": (lambda b: b.pop("properties"), CopyStatus.REPLICATING, None),
    "properties not an object": (
        lambda b: b.update(properties="x"),
        CopyStatus.REPLICATING,
        None,
    ),
    "provisioningState not a string": (set_state(5), CopyStatus.SUCCEEDED, 100.0),  # type: ignore[arg-type]
}


@pytest.mark.parametrize(("change", "status", "percent"), list(_CASES.values()), ids=list(_CASES))
def test_assess(change: Callable[[Body], None], status: CopyStatus, percent: float | None) -> None:
    body = copy.deepcopy(EXAMPLE)
    change(body)
    result = read_and_assess(body)
    assert result.status is status
    assert result.percent == percent
    if status is CopyStatus.FAILED:
        assert result.failure is not None
        assert result.failure.stage is Stage.POLL
        assert result.failure.code in ("ReplicationFailed", "CopyOperationFailed")
        assert result.failure.message
    else:
        assert result.failure is None


def test_example_details() -> None:
    result = read_and_assess(EXAMPLE)
    assert result.provisioning_state == "Succeeded"
    assert len(result.disks) == 2
    first = result.disks[0]
    assert first.id == view(EXAMPLE)["diskRestorePoints"][0]["id"]
    assert first.name == first.id.rsplit("/", 1)[-1]
    assert first.name.startswith("testingexcludedisk_OsDisk_1_")
    assert (first.percent, first.code, first.level) == (100.0, "ReplicationState/succeeded", "Info")


def test_creating_keeps_state_and_disks() -> None:
    body = copy.deepcopy(EXAMPLE)
    set_state("Creating")(body)
    result = read_and_assess(body)
    assert result.provisioning_state == "Creating"
    assert len(result.disks) == 2


def test_failed_disk_is_named_and_says_what_to_do() -> None:
    body = copy.deepcopy(EXAMPLE)
    set_disk_status(1, code="ReplicationState/failed", level="Error")(body)
    result = read_and_assess(body)
    assert result.failure is not None
    assert result.failure.code == "ReplicationFailed"
    assert "testingexcludedisk_DataDisk_1_68785190" in result.failure.message
    assert "testingexcludedisk_OsDisk" not in result.failure.message
    assert "request the copy again" in result.failure.message


def test_failed_statuses_without_disk_names_the_restore_point() -> None:
    body = copy.deepcopy(EXAMPLE)
    set_statuses({"code": "ReplicationState/failed", "level": "Error"})(body)
    result = read_and_assess(body)
    assert result.failure is not None
    assert "the restore point" in result.failure.message


def test_failed_provisioning_state_names_the_state() -> None:
    body = copy.deepcopy(EXAMPLE)
    set_state("Canceled")(body)
    result = read_and_assess(body)
    assert result.failure is not None
    assert result.failure.code == "CopyOperationFailed"
    assert "Canceled" in result.failure.message
    assert result.provisioning_state == "Canceled"


def test_assess_accepts_an_empty_body() -> None:
    result = read_and_assess({})
    assert result.status is CopyStatus.REPLICATING
    assert result.disks == ()
    assert result.percent is None
    assert result.provisioning_state is None


def test_assess_does_not_mutate_its_input() -> None:
    body = copy.deepcopy(EXAMPLE)
    before = json.dumps(body, sort_keys=True)
    read_and_assess(body)
    assert json.dumps(body, sort_keys=True) == before


@pytest.mark.parametrize("state", ["Succeeded", "Failed"])
@pytest.mark.parametrize(
    ("code", "level"),
    [("ReplicationState/failed", "Error"), ("ReplicationState/Failed", "Warning")],
)
def test_a_failed_disk_is_a_replication_failure_whatever_the_state(
    state: str, code: str, level: str
) -> None:
    """Azure does not say whether a failed copy keeps provisioningState Succeeded: either way,
    a disk that reports failure makes it a replication failure (not a failed operation)."""
    body = copy.deepcopy(EXAMPLE)
    props(body)["provisioningState"] = state
    disk(body, 0)["status"] = {"code": code, "level": level}
    result = read_and_assess(body)
    assert result.status is CopyStatus.FAILED
    assert result.failure is not None
    assert result.failure.code == "ReplicationFailed"
