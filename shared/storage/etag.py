"""The one optimistic-concurrency loop under every Table storage row the app updates.

Read the row and its ETag, let a pure function decide the new row, write it only if the ETag
still matches (or insert it if it did not exist), and on a lost race read again. Any number of
function instances stay correct this way; none of them holds a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.errors import StoreConflict

log = logging.getLogger(__name__)

T = TypeVar("T")

# Lost races before giving up; the host then retries the whole invocation.
MAX_ATTEMPTS = 30


async def read_entity(
    table: TableClient, partition: str, row: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The row and its ETag, or (None, None)."""
    try:
        entity = await table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None, None
    return dict(entity), entity.metadata.get("etag")


async def write_entity(table: TableClient, entity: dict[str, Any], etag: str | None) -> str | None:
    """Insert (no ETag: the row must not exist) or replace if the ETag still matches; returns
    the row's new ETag."""
    if etag is None:
        # Insert Entity echoes the row back unless told not to; only its ETag is used here.
        stored = await table.create_entity(entity, response_preference="return-no-content")
    else:
        stored = await table.update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=etag,
            match_condition=MatchConditions.IfNotModified,
        )
    return stored.get("etag") if isinstance(stored, dict) else None


async def write_changes(
    table: TableClient, entity: dict[str, Any], etag: str | None, base: dict[str, Any] | None
) -> str | None:
    """As `write_entity`; when `base` is what the row holds at `etag` and no column is gone,
    only the columns that changed are merged, under the same ETag (so the result is the same
    row, for a fraction of the bytes and the serializing)."""
    if etag is None or base is None or any(name not in entity for name in base):
        return await write_entity(table, entity, etag)
    keys = ("PartitionKey", "RowKey")
    changed = {k: v for k, v in entity.items() if k in keys or base.get(k) != v}
    stored = await table.update_entity(
        changed, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
    )
    return stored.get("etag") if isinstance(stored, dict) else None


class KnownRows(Generic[T]):
    """The row this process last read or wrote under each key, with its ETag (the newest
    `limit` keys). An update tries its write on the remembered row first: the ETag makes that
    write fail if anyone changed the row since, so a stale memory costs a retry, never a lost
    update, and a read is saved whenever the memory was current."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        # A None ETag: the row was found missing (an update then tries an insert first).
        self._rows: OrderedDict[str, tuple[T, str | None]] = OrderedDict()

    def get(self, key: str) -> tuple[T, str | None] | None:
        return self._rows.get(key)

    def remember(self, key: str, value: T | None, tag: str | None) -> None:
        if value is None or tag is None:
            self._rows.pop(key, None)
            return
        self._keep(key, value, tag)

    def remember_missing(self, key: str, empty: T) -> None:
        """The row did not exist when read: `empty` stands for it until it is written."""
        self._keep(key, empty, None)

    def _keep(self, key: str, value: T, tag: str | None) -> None:
        self._rows[key] = (value, tag)
        self._rows.move_to_end(key)
        while len(self._rows) > self._limit:
            self._rows.popitem(last=False)

    def forget(self, key: str) -> None:
        self._rows.pop(key, None)


async def update(
    read: Callable[[], Awaitable[tuple[T | None, str | None]]],
    write: Callable[[T, str | None], Awaitable[object]],
    decide: Callable[[T | None], T | None],
    *,
    what: str,
    known: tuple[T, str | None] | None = None,
) -> tuple[T | None, bool]:
    """Apply `decide` under the row's ETag until it sticks.

    `decide` gets the current value (None: no row) and returns the new one, or None to leave
    it. Returns the value as stored afterwards and whether this call changed it; a row deleted
    while we wrote is reported as (None, False).

    `known` (a value and its ETag this process saw last, see `KnownRows`) is tried first
    without reading: if `decide` changes it and the write's ETag still matches, that was the
    current row. A remembered row that needs no change, or lost a race, is read again: "no
    change" is only ever decided on the row as stored.
    """
    if known is not None:
        value, tag = known
        changed = decide(value)
        if changed is not None:
            try:
                await write(changed, tag)
                return changed, True
            except (ResourceModifiedError, ResourceExistsError):
                log.debug("%s changed since this process last saw it; reading it", what)
            except ResourceNotFoundError:
                return None, False
    for _ in range(MAX_ATTEMPTS):
        current, etag = await read()
        changed = decide(current)
        if changed is None:
            return current, False
        try:
            await write(changed, etag)
            return changed, True
        except (ResourceModifiedError, ResourceExistsError):
            log.info("%s changed under us; reading it again", what)
        except ResourceNotFoundError:
            return None, False
    raise StoreConflict(f"{what}: too many concurrent updates")


class TableStore:
    """One table of the storage account, created on first use."""

    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        self._service = service
        self.table: TableClient = service.get_table_client(table_name)
        self._ready = False
        self._creating: asyncio.Lock | None = None

    async def ensure_table(self) -> None:
        if self._ready:
            return
        # One create per store, however many requests arrive at once on a cold start.
        if self._creating is None:
            self._creating = asyncio.Lock()
        async with self._creating:
            if not self._ready:
                with contextlib.suppress(ResourceExistsError):
                    await self._service.create_table(self.table.table_name)
                self._ready = True

    async def close(self) -> None:
        await self.table.close()
