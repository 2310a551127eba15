"""The copy job ledger: one Table storage row per job, updated under ETag concurrency.

The row is the source of truth for "does this copy exist and how far is it": the three intake
paths dedupe on it (the job id is deterministic) and the HTTP API answers from it. Every update
is read-modify-write guarded by the row's ETag, so any number of function instances stay correct.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import (
    ResourceExistsError,
)
from azure.data.tables import TableErrorCode, TableTransactionError, UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.errors import InvalidCursor
from shared.model.copy_options import NO_OPTIONS, CopyOptions
from shared.model.job import JobRecord, JobState, Outbound, RunSummary
from shared.model.keys import partition_of
from shared.model.message import DiskProgress, Failure, Trigger
from shared.model.times import from_iso, iso, utc
from shared.storage import etag
from shared.storage.etag import TableStore

log = logging.getLogger(__name__)

# Azure Table storage takes at most 100 operations in one transaction (entity group).
MAX_BATCH = 100


def to_entity(record: JobRecord) -> dict[str, Any]:
    """The row: flat properties, complex values as JSON strings."""
    entity: dict[str, Any] = {
        "PartitionKey": partition_of(record.job_id),
        "RowKey": record.job_id,
        "Run": record.run,
        "State": record.state.value,
        "SourceRestorePointId": record.source_restore_point_id,
        # Lower-cased copy for equality filters: ARM ids are case-insensitive.
        "SourceCollectionKey": record.source_collection_id.lower(),
        "SourceCollectionId": record.source_collection_id,
        "SourceRegion": record.source_region,
        "TargetRegion": record.target_region,
        "TargetResourceGroup": record.target_resource_group,
        "TargetCollectionName": record.target_collection_name,
        "TargetRestorePointName": record.target_restore_point_name,
        "TargetCollectionId": record.target_collection_id,
        "TargetRestorePointId": record.target_restore_point_id,
        "Trigger": record.trigger.value,
        "CorrelationId": record.correlation_id,
        "RequestedAt": iso(record.requested_at),
        "UpdatedAt": iso(record.updated_at),
        "SourceCreatedAt": iso(record.source_created_at),
        "StartedAt": iso(record.started_at),
        "ReplicationDoneAt": iso(record.replication_done_at),
        "FinishedAt": iso(record.finished_at),
        "Percent": record.percent,
        "ExpectedFinish": iso(record.expected_finish),
        "Disks": json.dumps([d.model_dump(by_alias=True, exclude_none=True) for d in record.disks]),
        "Attempts": json.dumps(dict(record.attempts)),
        "Failure": record.failure.model_dump_json(by_alias=True, exclude_none=True)
        if record.failure
        else None,
        "Step": record.step,
        "Outbox": json.dumps([o.to_json() for o in record.outbox]),
        "OutboxSent": record.outbox_sent,
        "RunsFailed": record.runs_failed,
        "Reruns": record.reruns,
        "NextRunAt": iso(record.next_run_at),
        "PairKey": record.pair_key,
        "Detail": record.detail,
        # Options and lineage (copy_options.py); the VM key (lower case) serves ?sourceVmId=.
        # Rows written before these columns have neither: they read as NO_OPTIONS and are not
        # found by a sourceVmId filter.
        "Options": None
        if record.options.is_default
        else record.options.model_dump_json(by_alias=True, exclude_none=True),
        "SourceVmKey": record.options.source_vm_id.lower() if record.options.source_vm_id else None,
        "NextAttemptAt": iso(record.next_attempt_at),
        "History": json.dumps([r.to_json() for r in record.history]) if record.history else None,
        "TargetCollectionVerified": True if record.target_collection_verified else None,
    }
    return {k: v for k, v in entity.items() if v is not None}


def from_entity(entity: Mapping[str, Any]) -> JobRecord:
    failure = entity.get("Failure")
    return JobRecord(
        job_id=entity["RowKey"],
        run=int(entity.get("Run", 1)),
        state=JobState(entity["State"]),
        source_restore_point_id=entity["SourceRestorePointId"],
        source_collection_id=entity["SourceCollectionId"],
        source_region=entity.get("SourceRegion"),
        target_region=entity["TargetRegion"],
        target_resource_group=entity["TargetResourceGroup"],
        target_collection_name=entity["TargetCollectionName"],
        target_restore_point_name=entity["TargetRestorePointName"],
        trigger=Trigger(entity.get("Trigger", "http")),
        correlation_id=entity.get("CorrelationId", ""),
        requested_at=from_iso(entity["RequestedAt"]) or datetime.min,
        updated_at=from_iso(entity.get("UpdatedAt")) or datetime.min,
        target_collection_id=entity.get("TargetCollectionId"),
        target_restore_point_id=entity.get("TargetRestorePointId"),
        source_created_at=from_iso(entity.get("SourceCreatedAt")),
        started_at=from_iso(entity.get("StartedAt")),
        replication_done_at=from_iso(entity.get("ReplicationDoneAt")),
        finished_at=from_iso(entity.get("FinishedAt")),
        percent=entity.get("Percent"),
        expected_finish=from_iso(entity.get("ExpectedFinish")),
        disks=tuple(
            DiskProgress.model_validate(d) for d in json.loads(entity.get("Disks") or "[]")
        ),
        attempts=json.loads(entity.get("Attempts") or "{}"),
        failure=Failure.model_validate_json(failure) if failure else None,
        step=int(entity.get("Step", 0)),
        outbox=tuple(Outbound.from_json(o) for o in json.loads(entity.get("Outbox") or "[]")),
        outbox_sent=bool(entity.get("OutboxSent", True)),
        runs_failed=int(entity.get("RunsFailed", 0)),
        reruns=int(entity.get("Reruns", 0)),
        next_run_at=from_iso(entity.get("NextRunAt")),
        detail=entity.get("Detail"),
        options=CopyOptions.model_validate_json(entity["Options"])
        if entity.get("Options")
        else NO_OPTIONS,
        next_attempt_at=from_iso(entity.get("NextAttemptAt")),
        history=tuple(RunSummary.from_json(r) for r in json.loads(entity.get("History") or "[]")),
        target_collection_verified=bool(entity.get("TargetCollectionVerified", False)),
    )


@dataclass(frozen=True)
class JobFilter:
    state: JobState | None = None
    source_collection_id: str | None = None
    target_region: str | None = None
    source_vm_id: str | None = None

    def odata(self) -> tuple[str | None, dict[str, Any]]:
        clauses, params = [], {}
        if self.state is not None:
            clauses.append("State eq @state")
            params["state"] = self.state.value
        if self.source_collection_id is not None:
            clauses.append("SourceCollectionKey eq @src")
            params["src"] = self.source_collection_id.lower()
        if self.target_region is not None:
            clauses.append("TargetRegion eq @region")
            params["region"] = self.target_region
        if self.source_vm_id is not None:
            clauses.append("SourceVmKey eq @vm")
            params["vm"] = self.source_vm_id.lower()
        return (" and ".join(clauses) or None), params


def encode_cursor(token: Any) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    """The opaque paging cursor of the list API; InvalidCursor if it was not ours."""
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeError, RecursionError):
        raise InvalidCursor("cursor is not a value returned by this API") from None
    if not isinstance(token, dict):
        raise InvalidCursor("cursor is not a value returned by this API")
    return token


def _newest_first_key(record: JobRecord) -> tuple[str, str]:
    # A fixed-width UTC text sorts as the times do.
    requested = utc(record.requested_at) or datetime.min.replace(tzinfo=UTC)
    return (requested.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), record.job_id)


def _position_token(record: JobRecord) -> dict[str, str]:
    requested, job_id = _newest_first_key(record)
    return {"requestedAt": requested, "id": job_id}


def _cursor_position(token: Any) -> tuple[str, str]:
    requested, job_id = token.get("requestedAt"), token.get("id")
    if not isinstance(requested, str) or not isinstance(job_id, str):
        raise InvalidCursor("cursor is not a value returned by this API")
    return (requested, job_id)


class Ledger(TableStore):
    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        super().__init__(service, table_name)
        # The rows this process last read or wrote: an update then writes without reading
        # again (the ETag still guards it), e.g. a stage's commit after the dispatcher's read.
        self.known: etag.KnownRows[JobRecord] = etag.KnownRows()

    async def close(self) -> None:
        await super().close()
        await self._service.close()

    async def create(self, record: JobRecord) -> tuple[JobRecord, bool]:
        """Insert the job; if it already exists, return the stored one and False."""
        await self.ensure_table()
        try:
            await self._insert(record)
            return record, True
        except ResourceExistsError:
            existing = await self.get(record.job_id)
            if existing is None:  # deleted in between: try once more
                await self._insert(record)
                return record, True
            return existing, False

    async def create_batch(self, records: Sequence[JobRecord]) -> bool:
        """Insert rows of one partition (one pair's jobs) in one transaction: all or none.
        False if any of them already existed (nothing was written then)."""
        if not records:
            return True
        partitions = {partition_of(r.job_id) for r in records}
        if len(partitions) != 1 or len(records) > MAX_BATCH:
            raise ValueError(f"a batch is at most {MAX_BATCH} rows of one partition")
        await self.ensure_table()
        try:
            stored = await self.table.submit_transaction(
                [("create", to_entity(r)) for r in records]
            )
        except TableTransactionError as exc:
            if exc.error_code == TableErrorCode.ENTITY_ALREADY_EXISTS or exc.status_code == 409:
                return False
            raise
        for record, metadata in zip(records, stored, strict=False):
            self.known.remember(record.job_id, record, metadata.get("etag"))
        return True

    async def _insert(self, record: JobRecord) -> None:
        tag = await etag.write_entity(self.table, to_entity(record), None)
        self.known.remember(record.job_id, record, tag)

    async def overwrite(self, record: JobRecord) -> None:
        """Replace the row whatever it holds (only for repairing a row that cannot be read)."""
        await self.ensure_table()
        self.known.forget(record.job_id)
        await self.table.upsert_entity(to_entity(record), mode=UpdateMode.REPLACE)

    async def get(
        self, job_id: str, *, reuse: Callable[[JobRecord], bool] | None = None
    ) -> JobRecord | None:
        """The row as stored; with `reuse`, the row this process last read or wrote, if
        `reuse` accepts it, without a read (for a caller whose next write is under that row's
        ETag, which fails if anyone changed it since)."""
        known = self.known.get(job_id) if reuse is not None else None
        if reuse is not None and known is not None and known[1] is not None and reuse(known[0]):
            return known[0]
        record, _ = await self._read(job_id)
        return record

    async def _read(self, job_id: str) -> tuple[JobRecord | None, str | None]:
        await self.ensure_table()
        entity, tag = await etag.read_entity(self.table, partition_of(job_id), job_id)
        record = from_entity(entity) if entity is not None else None
        self.known.remember(job_id, record, tag)
        return record, tag

    async def update(
        self, job_id: str, mutate: Callable[[JobRecord], JobRecord | None]
    ) -> tuple[JobRecord | None, bool]:
        """Apply `mutate` under the row's ETag (see shared.storage.etag); a missing row is left
        missing. Returns the record as stored afterwards and whether this call changed it."""

        async def write(record: JobRecord, tag: str | None) -> None:
            # What the row holds at `tag`, if this process wrote or read that very version:
            # then only the changed columns go out.
            known = self.known.get(job_id)
            base = to_entity(known[0]) if known is not None and known[1] == tag else None
            try:
                new_tag = await etag.write_changes(self.table, to_entity(record), tag, base)
            except Exception:
                self.known.forget(job_id)
                raise
            self.known.remember(job_id, record, new_tag)

        await self.ensure_table()
        return await etag.update(
            lambda: self._read(job_id),
            write,
            lambda current: mutate(current) if current is not None else None,
            what=f"ledger row {job_id}",
            known=self.known.get(job_id),
        )

    async def put_new_or_replace_failed(
        self, record: JobRecord, *, restart: Callable[[JobRecord], JobRecord | None]
    ) -> tuple[JobRecord, bool]:
        """Create the job, or hand the existing row to `restart` (which may start a new run)."""
        stored, created = await self.create(record)
        if created:
            return stored, True
        updated, changed = await self.update(record.job_id, restart)
        return (updated or stored), changed

    async def list(
        self, filters: JobFilter, *, page_size: int = 50, cursor: str | None = None
    ) -> tuple[list[JobRecord], str | None]:
        """The matching jobs, newest request first (then by id), one page after `cursor`.

        Table storage returns rows in key order only, and job ids are hashes, so the newest-first
        order is made here: every matching row is read and sorted (one scan of the table per
        page). The cursor is the position of the last job shown; a job asked again in between
        (a new run moves its request time) can show on two pages or be passed over."""
        await self.ensure_table()
        after = _cursor_position(decode_cursor(cursor)) if cursor else None
        query, params = filters.odata()
        entities = (
            self.table.query_entities(query, parameters=params)
            if query
            else self.table.list_entities()
        )
        records = sorted(
            [from_entity(e) async for e in entities], key=_newest_first_key, reverse=True
        )
        if after is not None:
            records = [r for r in records if _newest_first_key(r) < after]
        page = records[:page_size]
        more = len(records) > page_size
        return page, (encode_cursor(_position_token(page[-1])) if more and page else None)

    async def for_pair(self, key: str, state: JobState | None = None) -> list[JobRecord]:
        """The jobs (each at its latest run) of one (source collection, region) pair, all or
        those in `state`: one partition query."""
        await self.ensure_table()
        query = "PartitionKey eq @pk and PairKey eq @key"
        params = {"pk": partition_of(key), "key": key}
        if state is not None:
            query += " and State eq @state"
            params["state"] = state.value
        records = []
        async for entity in self.table.query_entities(query, parameters=params):
            record = from_entity(entity)
            self.known.remember(record.job_id, record, entity.metadata.get("etag"))
            records.append(record)
        return records

    # -- the status page (GET /api/dashboard/data) ---------------------------------------------

    async def recent_or_active(
        self, since: datetime, active: Iterable[JobState], *, limit: int = 500
    ) -> list[JobRecord]:
        """Jobs whose row changed at or after `since`, and jobs in an `active` state however
        old (at most `limit`): one query, not a read of the whole history per state. Rows hold
        UTC ISO 8601 text, which sorts as time."""
        await self.ensure_table()
        states = sorted(s.value for s in active)
        clauses = ["UpdatedAt ge @since", *(f"State eq @s{i}" for i in range(len(states)))]
        params = {"since": iso(utc(since)), **{f"s{i}": v for i, v in enumerate(states)}}
        records: list[JobRecord] = []
        async for entity in self.table.query_entities(" or ".join(clauses), parameters=params):
            records.append(from_entity(entity))
            if len(records) >= limit:
                break
        return records
