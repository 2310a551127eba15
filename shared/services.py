"""The long-lived clients one worker shares across invocations, and the clock."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shared.arm.auth import token_source_for
from shared.arm.client import ArmClient
from shared.model.events import EventType
from shared.policies.loading import load_policy_file
from shared.policies.resolution import PolicySet
from shared.policies.tags import TagNames
from shared.settings import Settings
from shared.storage.account import StorageAccount
from shared.storage.budget import CopyBudget
from shared.storage.deletions import DeletionLog
from shared.storage.drills import DrillStore
from shared.storage.ledger import Ledger
from shared.storage.pairs import PairStore
from shared.storage.queues import QueueSender
from shared.storage.schedules import CreationStore, SlotStore
from shared.storage.topic import TopicPublisher

log = logging.getLogger(__name__)

# Events an operator is alerted on: infra/alerts/*.kql look for `event <name>: ` log lines (the
# name, not the type, so the rules hold whatever EVENT_TYPE_PREFIX is).
ALERTING_EVENTS = frozenset(
    {EventType.FAILED, EventType.RPO_BREACHED, EventType.CREATION_FAILED, EventType.DRILL_FAILED}
)
EVENT_LOG_FORMAT = "event %s: %s %s (%s)"

APP_ROOT = Path(__file__).resolve().parent.parent


def tag_names(settings: Settings) -> TagNames:
    return TagNames(
        targets=settings.tag_targets,
        keep_last=settings.tag_keep_last,
        max_age_days=settings.tag_max_age_days,
        rpo_minutes=settings.tag_rpo_minutes,
        target_resource_group=settings.tag_target_resource_group,
    )


@functools.cache
def load_policies(settings: Settings) -> PolicySet:
    """The policy file (all of it or nothing: PolicyError names every problem), or no file
    policies at all; tag policies on collections apply either way. Read once per worker:
    function_app.py loads it at indexing to fail fast, Services reuses that result."""
    names = tag_names(settings)
    if not settings.policy_file:
        return PolicySet.empty(extra_regions=settings.extra_regions, tag_names=names)
    path = Path(settings.policy_file)
    if not path.is_absolute():
        # Relative to the app root (where function_app.py is), not the worker's current directory.
        path = APP_ROOT / path
    return load_policy_file(path, extra_regions=settings.extra_regions, tag_names=names)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    arm: ArmClient
    ledger: Ledger
    queues: QueueSender
    pairs: PairStore
    budget: CopyBudget
    deletions: DeletionLog
    policies: PolicySet
    drills: DrillStore  # restore drill records (rules table, partition "drill")
    topic: TopicPublisher | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    # Schedules (shared/jobs/schedules.py): last slots acted on, restore points the app created.
    slots: SlotStore | None = None
    creations: CreationStore | None = None

    @classmethod
    def create(cls, settings: Settings) -> Services:
        account = StorageAccount.from_env(settings.storage_connection)
        tables = account.table_service()
        if settings.work_counts_dir:
            from shared.work_counts import start_writer

            start_writer(settings.work_counts_dir)
        return cls(
            settings=settings,
            arm=ArmClient(settings.arm, token_source_for(settings.arm)),
            ledger=Ledger(tables, settings.ledger_table),
            queues=QueueSender(account.queue_service()),
            pairs=PairStore(tables, settings.rules_table),
            budget=CopyBudget(tables, settings.rules_table),
            deletions=DeletionLog(tables, settings.rules_table),
            policies=load_policies(settings),
            slots=SlotStore(tables, settings.rules_table),
            creations=CreationStore(tables, settings.rules_table),
            drills=DrillStore(tables, settings.rules_table),
            topic=TopicPublisher(
                settings.eventgrid_topic_endpoint,
                settings.eventgrid_topic_key,
                managed_identity_client_id=settings.arm.managed_identity_client_id,
            )
            if settings.eventgrid_topic_endpoint
            else None,
        )

    async def emit(self, event_json: str) -> None:
        """Send one CloudEvent to the events queue (and the Event Grid topic, if configured),
        and log one line naming it (EVENT_LOG_FORMAT): the deployed alert rules query those."""
        await self.queues.send(self.settings.queues.events, event_json)
        if self.topic is not None:
            await self.topic.publish(event_json)
        event = json.loads(event_json)
        event_type = str(event.get("type", ""))
        name = self.settings.event_identity.name_of(event_type)
        level = logging.WARNING if name in ALERTING_EVENTS else logging.INFO
        log.log(level, EVENT_LOG_FORMAT, name, event_type, event.get("subject"), event.get("id"))

    async def close(self) -> None:
        await self.arm.close()
        await self.pairs.close()
        await self.budget.close()
        await self.deletions.close()
        for store in (self.slots, self.creations):
            if store is not None:
                await store.close()
        await self.drills.close()
        if self.topic is not None:
            await self.topic.close()
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
