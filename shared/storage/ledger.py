"""The copy job ledger: one Table storage row per job, updated under ETag concurrency.

The row is the source of truth for "does this copy exist and how far is it": the three intake
paths dedupe on it (the job id is deterministic) and the HTTP API answers from it. Every update
is read-modify-write guarded by the row's ETag, so any number of function instances stay correct.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.model.message import DiskProgress, Failure, Stage, Trigger
from shared.rules.copy_rules import pair_key

log = logging.getLogger(__name__)


def partition_of(job_id: str) -> str:
    """A job's partition: the first half of its id, which is its pair's key prefix (see
    shared.model.message.job_id_for), so a pair's jobs are one partition query, not a table scan."""
    return job_id[:16]


_MAX_CONFLICT_RETRIES = 20


class JobState(StrEnum):
    QUEUED = "Queued"
    # Waiting for its turn: another copy of the same (source collection, target region) runs.
    WAITING = "Waiting"
    CREATING_TARGET = "CreatingTarget"
    STARTING = "Starting"
    REPLICATING = "Replicating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.SUPERSEDED)


ACTIVE_STATES = frozenset(s for s in JobState if not s.terminal)


def iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def datetime_or_none(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


@dataclass(frozen=True)
class Outbound:
    """One queue message to send once a step is committed."""

    queue: str
    text: str
    delay_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"queue": self.queue, "text": self.text, "delay": self.delay_seconds}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Outbound:
        return cls(str(value["queue"]), str(value["text"]), float(value.get("delay", 0.0)))


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    run: int
    state: JobState
    source_restore_point_id: str
    source_collection_id: str
    source_region: str | None
    target_region: str
    target_resource_group: str
    target_collection_name: str
    target_restore_point_name: str
    trigger: Trigger
    correlation_id: str
    requested_at: datetime
    updated_at: datetime
    target_collection_id: str | None = None
    target_restore_point_id: str | None = None
    source_created_at: datetime | None = None
    started_at: datetime | None = None
    replication_done_at: datetime | None = None
    finished_at: datetime | None = None
    percent: float | None = None
    expected_finish: datetime | None = None
    disks: tuple[DiskProgress, ...] = ()
    attempts: Mapping[str, int] = field(default_factory=dict)
    failure: Failure | None = None
    step: int = 0
    # Transactional outbox: the messages this step must send, written in the same ETag-guarded
    # update that claims the step, and marked sent afterwards. A crash in between is repaired by
    # re-sending (duplicates are harmless: the next stage acts only once per step).
    outbox: tuple[Outbound, ...] = ()
    outbox_sent: bool = True
    runs_failed: int = 0
    # Why the job waits or how it ended, in words (e.g. which job it waits for).
    detail: str | None = None

    @property
    def pair_key(self) -> str:
        return pair_key(self.source_collection_id, self.target_region)

    def evolve(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)

    # -- Table entity mapping (flat properties; complex values as JSON strings) -------------

    def to_entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": partition_of(self.job_id),
            "RowKey": self.job_id,
            "Run": self.run,
            "State": self.state.value,
            "SourceRestorePointId": self.source_restore_point_id,
            # Lower-cased copy for equality filters: ARM ids are case-insensitive.
            "SourceCollectionKey": self.source_collection_id.lower(),
            "SourceCollectionId": self.source_collection_id,
            "SourceRegion": self.source_region,
            "TargetRegion": self.target_region,
            "TargetResourceGroup": self.target_resource_group,
            "TargetCollectionName": self.target_collection_name,
            "TargetRestorePointName": self.target_restore_point_name,
            "TargetCollectionId": self.target_collection_id,
            "TargetRestorePointId": self.target_restore_point_id,
            "Trigger": self.trigger.value,
            "CorrelationId": self.correlation_id,
            "RequestedAt": iso_or_none(self.requested_at),
            "UpdatedAt": iso_or_none(self.updated_at),
            "SourceCreatedAt": iso_or_none(self.source_created_at),
            "StartedAt": iso_or_none(self.started_at),
            "ReplicationDoneAt": iso_or_none(self.replication_done_at),
            "FinishedAt": iso_or_none(self.finished_at),
            "Percent": self.percent,
            "ExpectedFinish": iso_or_none(self.expected_finish),
            "Disks": json.dumps(
                [d.model_dump(by_alias=True, exclude_none=True) for d in self.disks]
            ),
            "Attempts": json.dumps(dict(self.attempts)),
            "Failure": self.failure.model_dump_json(by_alias=True, exclude_none=True)
            if self.failure
            else None,
            "Step": self.step,
            "Outbox": json.dumps([o.to_json() for o in self.outbox]),
            "OutboxSent": self.outbox_sent,
            "RunsFailed": self.runs_failed,
            "PairKey": self.pair_key,
            "Detail": self.detail,
        }
        return {k: v for k, v in entity.items() if v is not None}

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> JobRecord:
        failure = entity.get("Failure")
        return cls(
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
            requested_at=datetime_or_none(entity["RequestedAt"]) or datetime.min,
            updated_at=datetime_or_none(entity.get("UpdatedAt")) or datetime.min,
            target_collection_id=entity.get("TargetCollectionId"),
            target_restore_point_id=entity.get("TargetRestorePointId"),
            source_created_at=datetime_or_none(entity.get("SourceCreatedAt")),
            started_at=datetime_or_none(entity.get("StartedAt")),
            replication_done_at=datetime_or_none(entity.get("ReplicationDoneAt")),
            finished_at=datetime_or_none(entity.get("FinishedAt")),
            percent=entity.get("Percent"),
            expected_finish=datetime_or_none(entity.get("ExpectedFinish")),
            disks=tuple(
                DiskProgress.model_validate(d) for d in json.loads(entity.get("Disks") or "[]")
            ),
            attempts=json.loads(entity.get("Attempts") or "{}"),
            failure=Failure.model_validate_json(failure) if failure else None,
            step=int(entity.get("Step", 0)),
            outbox=tuple(Outbound.from_json(o) for o in json.loads(entity.get("Outbox") or "[]")),
            outbox_sent=bool(entity.get("OutboxSent", True)),
            runs_failed=int(entity.get("RunsFailed", 0)),
            detail=entity.get("Detail"),
        )

    def to_api(self) -> dict[str, Any]:
        """The job as the HTTP API and events show it."""
        body: dict[str, Any] = {
            "id": self.job_id,
            "state": self.state.value,
            "run": self.run,
            "sourceRestorePointId": self.source_restore_point_id,
            "sourceCollectionId": self.source_collection_id,
            "sourceRegion": self.source_region,
            "targetRegion": self.target_region,
            "targetResourceGroup": self.target_resource_group,
            "targetCollectionName": self.target_collection_name,
            "targetCollectionId": self.target_collection_id,
            "targetRestorePointId": self.target_restore_point_id,
            "trigger": self.trigger.value,
            "correlationId": self.correlation_id,
            "requestedAt": iso_or_none(self.requested_at),
            "startedAt": iso_or_none(self.started_at),
            "replicationDoneAt": iso_or_none(self.replication_done_at),
            "finishedAt": iso_or_none(self.finished_at),
            "updatedAt": iso_or_none(self.updated_at),
            "percentComplete": self.percent,
            "expectedFinish": iso_or_none(self.expected_finish),
            "disks": [d.model_dump(by_alias=True, exclude_none=True) for d in self.disks],
            "attempts": dict(self.attempts),
            "sourceCreatedAt": iso_or_none(self.source_created_at),
            "detail": self.detail,
            "error": self.failure.model_dump(by_alias=True, exclude_none=True, mode="json")
            if self.failure
            else None,
        }
        return {k: v for k, v in body.items() if v is not None}


class LedgerConflict(RuntimeError):
    """Too many concurrent writers on one row; the caller's invocation is retried."""


@dataclass(frozen=True)
class JobFilter:
    state: JobState | None = None
    source_collection_id: str | None = None
    target_region: str | None = None

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
        return (" and ".join(clauses) or None), params


def encode_cursor(token: Any) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    """The opaque paging cursor of the list API; ValueError if it was not ours."""
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeError):
        raise ValueError("cursor is not a value returned by this API") from None
    if not isinstance(token, dict):
        raise ValueError("cursor is not a value returned by this API")
    return token


class Ledger:
    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        self._service = service
        self._table: TableClient = service.get_table_client(table_name)
        self._ready = False

    async def ensure_table(self) -> None:
        if self._ready:
            return
        with contextlib.suppress(ResourceExistsError):
            await self._service.create_table(self._table.table_name)
        self._ready = True

    async def close(self) -> None:
        await self._table.close()
        await self._service.close()

    async def create(self, record: JobRecord) -> tuple[JobRecord, bool]:
        """Insert the job; if it already exists, return the stored one and False."""
        await self.ensure_table()
        try:
            await self._table.create_entity(record.to_entity())
            return record, True
        except ResourceExistsError:
            existing = await self.get(record.job_id)
            if existing is None:  # deleted in between: try once more
                await self._table.create_entity(record.to_entity())
                return record, True
            return existing, False

    async def overwrite(self, record: JobRecord) -> None:
        """Replace the row whatever it holds (only for repairing a row that cannot be read)."""
        await self.ensure_table()
        await self._table.upsert_entity(record.to_entity(), mode=UpdateMode.REPLACE)

    async def get(self, job_id: str) -> JobRecord | None:
        record, _ = await self._get_with_etag(job_id)
        return record

    async def _get_with_etag(self, job_id: str) -> tuple[JobRecord | None, str | None]:
        await self.ensure_table()
        try:
            entity = await self._table.get_entity(partition_of(job_id), job_id)
        except ResourceNotFoundError:
            return None, None
        return JobRecord.from_entity(entity), entity.metadata.get("etag")

    async def update(
        self, job_id: str, mutate: Callable[[JobRecord], JobRecord | None]
    ) -> tuple[JobRecord | None, bool]:
        """Apply `mutate` under the row's ETag, re-reading on conflict.

        `mutate` returns the new record, or None to leave the row as it is. Returns the record
        as stored afterwards and whether this call changed it.
        """
        for _ in range(_MAX_CONFLICT_RETRIES):
            current, etag = await self._get_with_etag(job_id)
            if current is None:
                return None, False
            changed = mutate(current)
            if changed is None:
                return current, False
            try:
                await self._table.update_entity(
                    changed.to_entity(),
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
                return changed, True
            except ResourceModifiedError:
                log.info("ledger row %s changed under us; re-reading", job_id)
            except ResourceNotFoundError:
                return None, False
        raise LedgerConflict(f"job {job_id}: too many concurrent updates")

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
        await self.ensure_table()
        query, params = filters.odata()
        token = decode_cursor(cursor) if cursor else None
        if query:
            pages = self._table.query_entities(
                query, parameters=params, results_per_page=page_size
            ).by_page(continuation_token=token)
        else:
            pages = self._table.list_entities(results_per_page=page_size).by_page(
                continuation_token=token
            )
        records: list[JobRecord] = []
        async for page in pages:
            async for entity in page:
                records.append(JobRecord.from_entity(entity))
            break
        return records, encode_cursor(getattr(pages, "continuation_token", None))

    async def for_pair(self, key: str) -> list[JobRecord]:
        """Every job (all states, all runs' latest) of one (source collection, region) pair."""
        await self.ensure_table()
        return [
            JobRecord.from_entity(e)
            async for e in self._table.query_entities(
                "PartitionKey eq @pk and PairKey eq @key",
                parameters={"pk": partition_of(key), "key": key},
            )
        ]

    async def waiting_for_pair(self, key: str) -> list[JobRecord]:
        await self.ensure_table()
        return [
            JobRecord.from_entity(e)
            async for e in self._table.query_entities(
                "PartitionKey eq @pk and PairKey eq @key and State eq 'Waiting'",
                parameters={"pk": partition_of(key), "key": key},
            )
        ]


STAGE_FOR_STATE = {
    JobState.QUEUED: Stage.ENSURE_TARGET,
    JobState.CREATING_TARGET: Stage.ENSURE_TARGET,
    JobState.STARTING: Stage.START_COPY,
    JobState.REPLICATING: Stage.POLL,
}
