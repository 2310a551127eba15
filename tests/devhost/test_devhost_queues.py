"""Queue triggers end to end against Azurite: encoding, batches, retries, poison, scale-out."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import Azurite, wait_until
from tests.devhost.devhost_support import (
    DevhostProcess,
    ResultCollector,
    base_env,
    peek_all,
    queue_client,
    start_devhost,
    token,
)


def test_sync_function_gets_decoded_message_and_metadata(
    devhost: DevhostProcess, azurite: Azurite, results: ResultCollector
) -> None:
    body = f"hello {token()}"
    queue_client(azurite.connection_string, "work-sync").send_message(body)
    (report,) = results.wait_for(
        lambda r: r.get("fn") == "work_sync" and r.get("body") == body, what="work_sync report"
    )
    assert report["dequeue_count"] == 1
    assert report["has_times"] is True
    assert report["pop_receipt"] is True
    # Deleted after success: nothing is left for anyone else.
    wait_until(
        lambda: (
            body.encode()
            not in b"".join(
                base64.b64decode(t) for t in peek_all(azurite.connection_string, "work-sync")
            )
        ),
        timeout=5,
        what="the processed message to be deleted",
    )


def test_async_function_with_return_output_processes_a_batch(
    devhost: DevhostProcess, azurite: Azurite, results: ResultCollector
) -> None:
    mark = token()
    bodies = [f"{mark}-{i}" for i in range(20)]  # more than batchSize (8): several batches
    client = queue_client(azurite.connection_string, "work-async")
    for body in bodies:
        client.send_message(body)
    found = results.wait_for(
        lambda r: r.get("fn") == "work_async" and str(r.get("body", "")).startswith(mark),
        count=len(bodies),
        what="work_async reports for the batch",
    )
    assert sorted(r["body"] for r in found) == sorted(bodies)
    assert {r["dequeue_count"] for r in found} == {1}


def test_failing_message_is_retried_then_poisoned_with_original_content(
    devhost: DevhostProcess, azurite: Azurite, results: ResultCollector
) -> None:
    body = f"fail {token()}"
    queue_client(azurite.connection_string, "work-sync").send_message(body)
    attempts = results.wait_for(
        lambda r: r.get("fn") == "work_sync_attempt" and r.get("body") == body,
        count=3,
        what="three attempts (maxDequeueCount=3)",
    )
    assert sorted(a["dequeue_count"] for a in attempts) == [1, 2, 3]
    original = base64.b64encode(body.encode()).decode()
    wait_until(
        lambda: original in peek_all(azurite.connection_string, "work-sync-poison"),
        timeout=10,
        what="the failed message in work-sync-poison",
    )
    assert original not in peek_all(azurite.connection_string, "work-sync")


def test_invalid_base64_goes_to_poison_without_invoking(
    devhost: DevhostProcess, azurite: Azurite, results: ResultCollector
) -> None:
    raw = f"not base64 at all! {token()}"
    queue_client(azurite.connection_string, "work-async", base64=False).send_message(raw)
    wait_until(
        lambda: raw in peek_all(azurite.connection_string, "work-async-poison"),
        timeout=10,
        what="the undecodable message in work-async-poison",
    )
    devhost.wait_log("Message decoding has failed!")
    results.drain()
    assert not results.matching(lambda r: raw in str(r.get("body", "")))


@pytest.fixture
def second_devhost(
    devhost: DevhostProcess, azurite: Azurite, tmp_path: Path
) -> Iterator[DevhostProcess]:
    host = start_devhost(base_env(azurite.connection_string), tmp_path / "second.log")
    try:
        yield host
    finally:
        host.stop()


def test_two_hosts_share_a_queue_and_process_each_message_once(
    devhost: DevhostProcess,
    second_devhost: DevhostProcess,
    azurite: Azurite,
    results: ResultCollector,
) -> None:
    mark = token()
    bodies = [f"{mark}-{i}" for i in range(60)]
    client = queue_client(azurite.connection_string, "shared-work")
    for body in bodies:
        client.send_message(body)
    found = results.wait_for(
        lambda r: r.get("fn") == "shared_work" and str(r.get("body", "")).startswith(mark),
        count=len(bodies),
        timeout=20,
        what="shared_work reports from both hosts",
    )
    counts = Counter(r["body"] for r in found)
    assert set(counts) == set(bodies)
    assert max(counts.values()) == 1, f"processed more than once: {counts.most_common(3)}"
    # Let stragglers (a duplicate would arrive late) show up before concluding.
    wait_until(
        lambda: not peek_all(azurite.connection_string, "shared-work"),
        timeout=5,
        what="empty queue",
    )
    results.drain()
    again = Counter(r["body"] for r in results.matching(lambda r: r.get("fn") == "shared_work"))
    assert all(again[b] == 1 for b in bodies)
