"""shared/http_api/views.py: the job as the HTTP API shows it."""

from __future__ import annotations

import json

from shared.http_api.views import job_view
from tests.unit.storage.test_ledger_rows import JOB, SRC_RP, SRC_RPC, TGT_RPC, full, minimal


def test_job_view() -> None:
    api = job_view(full())
    assert api["id"] == JOB
    assert api["state"] == "Failed"
    assert api["run"] == 3
    assert api["sourceRestorePointId"] == SRC_RP
    assert api["sourceCollectionId"] == SRC_RPC
    assert api["sourceRegion"] == "eastus"
    assert api["targetRegion"] == "westus"
    assert api["targetCollectionId"] == TGT_RPC
    assert api["trigger"] == "sweep"
    assert api["percentComplete"] == 42.5
    assert api["requestedAt"] == "2025-01-01T12:00:00+00:00"
    assert api["expectedFinish"] == "2025-01-01T17:00:00+00:00"
    assert api["detail"] == "waiting for job abc"
    assert api["error"] == {
        "code": "ReplicationFailed",
        "message": "disk os failed",
        "stage": "poll",
    }
    assert api["disks"][1] == {"name": "data"}
    assert api["attempts"] == {"poll": 3, "start-copy": 1}
    # internal bookkeeping never leaks into the API
    for internal in ("outbox", "outboxSent", "step", "runsFailed", "Outbox", "pairKey"):
        assert internal not in api
    json.dumps(api)  # serializable as is


def test_job_view_omits_none() -> None:
    api = job_view(minimal())
    assert "error" not in api
    assert "sourceRegion" not in api
    assert "percentComplete" not in api
    assert None not in api.values()
    assert api["disks"] == []
