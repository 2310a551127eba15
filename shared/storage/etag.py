"""The one optimistic-concurrency loop under every Table storage row the app updates.

Read the row and its ETag, let a pure function decide the new row, write it only if the ETag
still matches (or insert it if it did not exist), and on a lost race read again. Any number of
function instances stay correct this way; none of them holds a lock.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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


async def write_entity(table: TableClient, entity: dict[str, Any], etag: str | None) -> None:
    """Insert (no ETag: the row must not exist) or replace if the ETag still matches."""
    if etag is None:
        await table.create_entity(entity)
    else:
        await table.update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=etag,
            match_condition=MatchConditions.IfNotModified,
        )


async def update(
    read: Callable[[], Awaitable[tuple[T | None, str | None]]],
    write: Callable[[T, str | None], Awaitable[None]],
    decide: Callable[[T | None], T | None],
    *,
    what: str,
) -> tuple[T | None, bool]:
    """Apply `decide` under the row's ETag until it sticks.

    `decide` gets the current value (None: no row) and returns the new one, or None to leave
    it. Returns the value as stored afterwards and whether this call changed it; a row deleted
    while we wrote is reported as (None, False).
    """
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

    async def ensure_table(self) -> None:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self._service.create_table(self.table.table_name)
            self._ready = True

    async def close(self) -> None:
        await self.table.close()
