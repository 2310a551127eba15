"""The long-lived clients one worker shares across invocations, and the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.arm_client import ArmClient, token_source_for
from shared.ledger import Ledger
from shared.queues import QueueSender
from shared.rules_store import RulesStore
from shared.settings import Settings
from shared.storage import StorageAccount


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    arm: ArmClient
    ledger: Ledger
    queues: QueueSender
    rules: RulesStore
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        account = StorageAccount.from_env(settings.storage_connection)
        tables = account.table_service()
        return cls(
            settings=settings,
            arm=ArmClient(settings.arm, token_source_for(settings.arm)),
            ledger=Ledger(tables, settings.ledger_table),
            queues=QueueSender(account.queue_service()),
            rules=RulesStore(tables, settings.rules_table),
        )

    async def close(self) -> None:
        await self.arm.close()
        await self.rules.close()
        await self.ledger.close()
        await self.queues.close()


_services: Services | None = None
_lock = asyncio.Lock()


async def get_services() -> Services:
    """One set of clients per worker process (created on first use, on the worker's loop)."""
    global _services
    if _services is None:
        async with _lock:
            if _services is None:
                _services = Services.create(Settings.from_env())
    return _services
