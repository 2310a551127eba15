"""Nothing is parked where nobody reads: through the local host, Azurite and the emulator.

A message that is not base64 (any outside writer can put one on a queue) reaches the app (host.json
`messageEncoding: none`), ends as a failed placeholder job with its failure event, and leaves no
`-poison-poison` queue holding anything; a message already sitting in such a queue is drained by
the sweep into a failed job.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid

import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from devstack.stack import Stack
from tests.support import EventLog, peek_queue, wait_for

STAGE_QUEUES = ["rpcopy-ensure-target", "rpcopy-start-copy", "rpcopy-poll", "rpcopy-finish"]


def send_raw(stack: Stack, queue: str, text: str) -> None:
    """Put `text` on the queue as it is: no base64, as a careless outside writer would."""
    with QueueClient.from_connection_string(stack.storage_connection, queue) as client:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        client.send_message(text)


def placeholder_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def failed_job(api: httpx.Client, job_id: str) -> dict | None:
    response = api.get(f"/api/copies/{job_id}")
    return response.json() if response.status_code == 200 else None


@pytest.mark.parametrize("queue", STAGE_QUEUES)
def test_a_message_that_is_not_base64_ends_as_a_failed_job(
    api: httpx.Client, events: EventLog, stack: Stack, queue: str
) -> None:
    text = f"not base64 and not JSON: {uuid.uuid4()} <>&"
    send_raw(stack, queue, text)
    job_id = placeholder_id(text)
    job = wait_for(
        lambda: failed_job(api, job_id), timeout=60, what=f"a failed job for the message on {queue}"
    )
    assert job["state"] == "Failed"
    assert job["error"]["code"] == "InvalidMessage"
    assert "not JSON" in job["error"]["message"]
    event = events.wait_for(job_id, "com.example.rpcopy.copy.failed", timeout=30)
    assert event["data"]["reason"]["code"] == "InvalidMessage"
    for sink in (f"{queue}-poison", f"{queue}-poison-poison"):
        assert peek_queue(stack.storage_connection, sink) == [], sink


def test_the_sweep_drains_a_poison_poison_queue_into_failed_jobs(
    api: httpx.Client, events: EventLog, stack: Stack
) -> None:
    text = f"left behind by an older version {uuid.uuid4()}"
    send_raw(stack, "rpcopy-poll-poison-poison", text)
    response = httpx.post(
        f"{stack.host_url}/admin/functions/sweep_timer",
        json={"input": ""},
        headers={"x-functions-key": stack.options.master_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job_id = placeholder_id(text)
    job = wait_for(lambda: failed_job(api, job_id), timeout=60, what="the drained message's job")
    assert job["error"]["code"] == "InvalidMessage"
    assert "poll" in job["error"]["message"]
    events.wait_for(job_id, "com.example.rpcopy.copy.failed", timeout=30)
    assert peek_queue(stack.storage_connection, "rpcopy-poll-poison-poison") == []
