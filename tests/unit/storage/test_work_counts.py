"""The work counts: the storage transaction counter on the app's own clients (against Azurite),
the ARM call counter, the rows an update need not read again (KnownRows), and the file the
benchmarks read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.data.tables.aio import TableClient

from shared.model.job import JobRecord, JobState
from shared.model.message import Trigger
from shared.storage import counting
from shared.storage.account import environment_settings_apply
from shared.storage.etag import KnownRows
from tests.conftest import MakeServices
from tests.support import unique

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SRC = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/rpc1"
)


@pytest.mark.parametrize(
    ("service", "method", "url", "kind"),
    [
        ("table", "GET", "http://h/acct/jobs(PartitionKey='p',RowKey='r')", "table:GET entity"),
        ("table", "PUT", "http://h/acct/jobs(PartitionKey='p',RowKey='r')", "table:PUT entity"),
        ("table", "POST", "http://h/acct/jobs", "table:POST insert"),
        ("table", "GET", "http://h/acct/jobs()?$filter=x", "table:GET query"),
        ("table", "POST", "http://h/acct/$batch", "table:POST batch"),
        ("table", "POST", "http://h/acct/Tables", "table:POST table"),
        ("queue", "POST", "http://h/acct/q1/messages?visibilitytimeout=1", "queue:POST messages"),
        ("queue", "GET", "http://h/acct/q1/messages", "queue:GET messages"),
        ("queue", "DELETE", "http://h/acct/q1/messages/id1?popreceipt=x", "queue:DELETE message"),
        ("queue", "PUT", "http://h/acct/q1", "queue:PUT queue"),
    ],
)
def test_each_request_is_named_by_service_method_and_resource(
    service: str, method: str, url: str, kind: str
) -> None:
    assert counting.transaction_kind(service, method, url) == kind


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def job(job_id: str) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        run=1,
        state=JobState.WAITING,
        source_restore_point_id=f"{SRC}/restorePoints/rp1",
        source_collection_id=SRC,
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="rpc1-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.HTTP,
        correlation_id="c",
        requested_at=T0,
        updated_at=T0,
    )


async def test_the_app_clients_count_every_transaction(make_services: MakeServices) -> None:
    services = await make_services()
    await services.ledger.ensure_table()
    await services.queues.ensure("counted")
    before = counting.snapshot()
    record = job(unique("job"))
    await services.ledger.create(record)
    await services.ledger.get(record.job_id)
    await services.queues.send("counted", "hello")
    assert delta(before, counting.snapshot()) == {
        "table:POST insert": 1,
        "table:GET entity": 1,
        "queue:POST messages": 1,
    }


async def test_an_update_after_a_read_or_write_does_not_read_again(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    record = job(unique("job"))
    await services.ledger.create(record)
    before = counting.snapshot()
    _stored, changed = await services.ledger.update(record.job_id, lambda r: r.evolve(detail="one"))
    again, changed_again = await services.ledger.update(
        record.job_id, lambda r: r.evolve(detail=f"{r.detail} two")
    )
    assert (changed, changed_again) == (True, True)
    assert again is not None
    assert again.detail == "one two"
    # Two writes, no read; each a merge of the changed column (the row is known at its ETag).
    assert delta(before, counting.snapshot()) == {"table:PATCH entity": 2}
    fresh = await services.ledger.get(record.job_id)
    assert fresh is not None
    assert fresh.detail == "one two"


async def test_a_row_changed_elsewhere_is_read_again_and_nothing_is_lost(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    other = await make_services(LEDGER_TABLE=services.settings.ledger_table)
    record = job(unique("job"))
    await services.ledger.create(record)  # remembered by `services`
    await other.ledger.update(record.job_id, lambda r: r.evolve(detail="other"))
    before = counting.snapshot()
    stored, changed = await services.ledger.update(
        record.job_id, lambda r: r.evolve(detail=f"{r.detail}+mine")
    )
    assert changed
    assert stored is not None
    assert stored.detail == "other+mine"
    # The write on the stale memory was refused (412), then the row read and written.
    assert delta(before, counting.snapshot()) == {"table:PATCH entity": 2, "table:GET entity": 1}


async def test_no_change_is_never_decided_on_a_remembered_row(
    make_services: MakeServices,
) -> None:
    """The memory says Waiting; the row is Queued: a mutation that changes only Queued rows
    must still see the row as stored."""
    services = await make_services()
    other = await make_services(LEDGER_TABLE=services.settings.ledger_table)
    record = job(unique("job"))
    await services.ledger.create(record)
    await other.ledger.update(record.job_id, lambda r: r.evolve(state=JobState.QUEUED))
    stored, changed = await services.ledger.update(
        record.job_id,
        lambda r: r.evolve(detail="seen queued") if r.state is JobState.QUEUED else None,
    )
    assert changed
    assert stored is not None
    assert stored.detail == "seen queued"


async def test_rows_written_behind_the_ledger_are_not_overwritten(
    make_services: MakeServices, stack
) -> None:
    services = await make_services()
    record = job(unique("job"))
    await services.ledger.create(record)
    table = TableClient.from_connection_string(
        stack.storage_connection, services.settings.ledger_table
    )
    async with table:
        entity = await table.get_entity(record.job_id[:16], record.job_id)
        entity["Detail"] = "written directly"
        await table.update_entity(entity)
    stored, _ = await services.ledger.update(record.job_id, lambda r: r.evolve(run=2))
    assert stored is not None
    assert (stored.run, stored.detail) == (2, "written directly")


def test_known_rows_keep_the_newest_keys_only() -> None:
    known: KnownRows[str] = KnownRows(limit=2)
    known.remember("a", "A", "t1")
    known.remember("b", "B", "t2")
    known.remember("a", "A2", "t3")  # refreshed: now the newest
    known.remember("c", "C", "t4")
    assert (known.get("a"), known.get("b"), known.get("c")) == (("A2", "t3"), None, ("C", "t4"))
    known.remember("a", None, None)  # a missing row is not remembered
    assert known.get("a") is None


def test_environment_lookups_stay_on_only_when_they_could_matter(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    assert environment_settings_apply({"NETRC": str(netrc)}) is False
    assert environment_settings_apply({"NETRC": str(netrc), "HTTPS_PROXY": "http://p:3128"})
    netrc.write_text("machine example.org login x password y\n")
    assert environment_settings_apply({"NETRC": str(netrc)})


def test_the_counts_file_holds_arm_and_storage_counts(tmp_path: Path) -> None:
    from shared.work_counts import path_for, write

    write(str(tmp_path))
    written = json.loads(path_for(str(tmp_path)).read_text())
    assert set(written) == {"pid", "armCalls", "storageTransactions", "cpuSeconds"}
    assert written["storageTransactions"] == counting.snapshot()
