"""The rows behind the copy rules: one per (source collection, target region) pair, holding the
copy in flight, the newest copied restore point and the RPO state last announced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from azure.data.tables.aio import TableServiceClient

from shared.model.keys import pair_key
from shared.model.times import from_iso, iso
from shared.rules.copy_rules import PairState
from shared.storage import etag
from shared.storage.etag import TableStore

PARTITION = "pair"


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
    # The target collection the pair's last successful copy went into: this app made or
    # verified it for this source, so a later copy into it need not read it first.
    verified_target_collection_id: str | None = None

    def evolve(self, **changes: Any) -> PairRecord:
        return replace(self, **changes)

    def to_entity(self) -> dict[str, Any]:
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": self.key,
            "SourceCollectionId": self.source_collection_id,
            "SourceCollectionKey": self.source_collection_id.lower(),
            "TargetRegion": self.target_region,
            "ActiveJobId": self.state.active_job_id,
            "ActiveCreatedAt": iso(self.state.active_created_at),
            "Watermark": iso(self.state.watermark),
            "RpoState": self.rpo_state,
            "RpoBreachAnnouncedFor": self.rpo_breach_announced_for,
            "VerifiedTargetCollectionId": self.verified_target_collection_id,
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
                from_iso(entity.get("ActiveCreatedAt")),
                from_iso(entity.get("Watermark")),
            ),
            rpo_state=entity.get("RpoState"),
            rpo_breach_announced_for=entity.get("RpoBreachAnnouncedFor"),
            verified_target_collection_id=entity.get("VerifiedTargetCollectionId"),
        )


class PairStore(TableStore):
    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        super().__init__(service, table_name)
        # The pair rows this process last read or wrote (an update writes without re-reading).
        self.known: etag.KnownRows[PairRecord] = etag.KnownRows()

    async def _read(
        self, source_collection_id: str, target_region: str
    ) -> tuple[PairRecord, str | None]:
        await self.ensure_table()
        key = pair_key(source_collection_id, target_region)
        entity, tag = await etag.read_entity(self.table, PARTITION, key)
        if entity is None:
            empty = PairRecord(key, source_collection_id, target_region, PairState())
            # Remembered as missing: the update that follows inserts without reading again.
            self.known.remember_missing(key, empty)
            return empty, None
        record = PairRecord.from_entity(entity)
        self.known.remember(key, record, tag)
        return record, tag

    async def get(self, source_collection_id: str, target_region: str) -> PairRecord:
        """The pair as stored (an empty one if it has no row yet)."""
        record, _ = await self._read(source_collection_id, target_region)
        return record

    async def update_pair(
        self,
        source_collection_id: str,
        target_region: str,
        mutate: Callable[[PairRecord], PairRecord | None],
    ) -> tuple[PairRecord, bool]:
        """Read-modify-write under ETag (a new pair starts empty and is inserted)."""

        key = pair_key(source_collection_id, target_region)

        async def write(record: PairRecord, tag: str | None) -> None:
            try:
                new_tag = await etag.write_entity(self.table, record.to_entity(), tag)
            except Exception:
                self.known.forget(key)
                raise
            self.known.remember(key, record, new_tag)

        await self.ensure_table()
        stored, changed = await etag.update(
            lambda: self._read(source_collection_id, target_region),
            write,
            lambda current: mutate(current) if current is not None else None,
            what=f"pair {source_collection_id} -> {target_region}",
            known=self.known.get(key),
        )
        assert stored is not None  # _read never returns None
        return stored, changed
