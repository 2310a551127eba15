"""Table storage rows behind the copy rules: one per (source collection, target region) pair
and one per target collection's copy-PUT budget. ETag-guarded, so any number of instances agree.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.rules.copy_rules import PairState, budget_wait, collection_key, pair_key
from shared.storage.ledger import datetime_or_none, iso_or_none

log = logging.getLogger(__name__)
_MAX_CONFLICT_RETRIES = 30


@dataclass(frozen=True)
class PairRecord:
    key: str
    source_collection_id: str
    target_region: str
    state: PairState
    # RPO tracking for the protection view: last state seen by the sweep and the copy it
    # was judged on, so each breach is announced once.
    rpo_state: str | None = None
    rpo_breach_announced_for: str | None = None

    def evolve(self, **changes: Any) -> PairRecord:
        return replace(self, **changes)

    def to_entity(self) -> dict[str, Any]:
        entity = {
            "PartitionKey": "pair",
            "RowKey": self.key,
            "SourceCollectionId": self.source_collection_id,
            "SourceCollectionKey": self.source_collection_id.lower(),
            "TargetRegion": self.target_region,
            "ActiveJobId": self.state.active_job_id,
            "ActiveCreatedAt": iso_or_none(self.state.active_created_at),
            "Watermark": iso_or_none(self.state.watermark),
            "RpoState": self.rpo_state,
            "RpoBreachAnnouncedFor": self.rpo_breach_announced_for,
        }
        return {k: v for k, v in entity.items() if v is not None}

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> PairRecord:
        return cls(
            key=entity["RowKey"],
            source_collection_id=entity["SourceCollectionId"],
            target_region=entity["TargetRegion"],
            state=PairState(
                entity.get("ActiveJobId"),
                datetime_or_none(entity.get("ActiveCreatedAt")),
                datetime_or_none(entity.get("Watermark")),
            ),
            rpo_state=entity.get("RpoState"),
            rpo_breach_announced_for=entity.get("RpoBreachAnnouncedFor"),
        )


class RulesConflict(RuntimeError):
    pass


class RulesStore:
    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        self._service = service
        self._table: TableClient = service.get_table_client(table_name)
        self._ready = False

    async def ensure_table(self) -> None:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self._service.create_table(self._table.table_name)
            self._ready = True

    async def close(self) -> None:
        await self._table.close()

    async def _read_pair(
        self, source_collection_id: str, target_region: str
    ) -> tuple[PairRecord, str | None]:
        await self.ensure_table()
        key = pair_key(source_collection_id, target_region)
        try:
            entity = await self._table.get_entity("pair", key)
        except ResourceNotFoundError:
            return PairRecord(key, source_collection_id, target_region, PairState()), None
        return PairRecord.from_entity(entity), entity.metadata.get("etag")

    async def update_pair(
        self,
        source_collection_id: str,
        target_region: str,
        mutate: Callable[[PairRecord], PairRecord | None],
    ) -> tuple[PairRecord, bool]:
        """Read-modify-write under ETag (insert-if-absent for a new pair)."""
        for _ in range(_MAX_CONFLICT_RETRIES):
            current, etag = await self._read_pair(source_collection_id, target_region)
            changed = mutate(current)
            if changed is None:
                return current, False
            try:
                if etag is None:
                    await self._table.create_entity(changed.to_entity())
                else:
                    await self._table.update_entity(
                        changed.to_entity(),
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                return changed, True
            except (ResourceModifiedError, ResourceExistsError):
                log.info("pair %s changed under us; re-reading", current.key)
        raise RulesConflict(f"pair {source_collection_id} -> {target_region}: too many writers")

    async def record_deletion(
        self,
        target_restore_point_id: str,
        source_restore_point_id: str | None,
        reason: str,
        deleted_at: datetime,
    ) -> None:
        """Keep a row per copy retention deleted (the audit trail behind the event)."""
        await self.ensure_table()
        await self._table.upsert_entity(
            {
                "PartitionKey": "deletion",
                "RowKey": collection_key(target_restore_point_id),
                "TargetRestorePointId": target_restore_point_id,
                "SourceRestorePointId": source_restore_point_id or "",
                "Reason": reason,
                "DeletedAt": deleted_at.isoformat(),
            }
        )

    async def reserve_copy_put(
        self, target_collection_id: str, now: datetime, limit: int, window: timedelta
    ) -> float:
        """Take one copy-PUT slot of the target collection, or say how long to wait for one."""
        await self.ensure_table()
        key = collection_key(target_collection_id)
        for _ in range(_MAX_CONFLICT_RETRIES):
            try:
                entity = await self._table.get_entity("budget", key)
                etag = entity.metadata.get("etag")
                times = [
                    datetime.fromisoformat(t) for t in json.loads(entity.get("PutTimes", "[]"))
                ]
            except ResourceNotFoundError:
                etag, times = None, []
            wait, recent = budget_wait(times, now, limit, window)
            if wait > 0:
                return wait
            row = {
                "PartitionKey": "budget",
                "RowKey": key,
                "TargetCollectionId": target_collection_id,
                "PutTimes": json.dumps([t.isoformat() for t in [*recent, now]]),
            }
            try:
                if etag is None:
                    await self._table.create_entity(row)
                else:
                    await self._table.update_entity(
                        row,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                return 0.0
            except (ResourceModifiedError, ResourceExistsError):
                continue
        raise RulesConflict(f"copy budget of {target_collection_id}: too many writers")
