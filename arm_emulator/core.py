"""The state every handler shares: config, clock, store, operations, faults, events and logs.

HTTP-free. `engine.Emulator` adds the lifecycle (reset, the background ticker) on top; the ARM
handlers (`resources`, `disks`, `rpcs`, `restore_points`, `local_rps`, `copies`,
`disk_restore_points`) are functions of a `Core`.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from .clock import VirtualClock, parse_time
from .config import EmulatorConfig
from .events import WRITE_SUCCESS, EventBus, RequestContext
from .faults import FaultInjector
from .operations import Scheduler
from .ratelimits import RateLimitCounters
from .requestlog import RequestLog
from .store import Store, Subscription


class Core:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        start = parse_time(config.start_time) if config.start_time else None
        self.clock = VirtualClock(config.time_scale, start)
        self.faults = FaultInjector(config.seed)
        self.events = EventBus(
            config.tenant_id,
            list(config.webhook_retry_delays_real_seconds),
            config.webhook_timeout_real_seconds,
        )
        self.requests = RequestLog(config.request_log_limit)
        self.ratelimits = RateLimitCounters()
        self.store = Store()
        # Rendered restore point bodies, keyed by everything they depend on (the hot GET).
        self.body_cache: dict[tuple[Any, ...], bytes] = {}
        self._rng = random.Random(f"guids:{config.seed}")
        self._wake: asyncio.Event | None = None
        self.ops = Scheduler(
            config, self.clock, self.store, self.faults, self.events, self.new_guid, self.wake
        )

    def new_guid(self) -> str:
        """A GUID from the seeded generator (same seed and requests, same ids)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now(self) -> float:
        return self.clock.now()

    def settle(self) -> None:
        """Complete the operations whose simulated end has passed."""
        self.ops.settle()

    def wake(self) -> None:
        """Tell the background ticker that an operation was scheduled."""
        if self._wake is not None:
            self._wake.set()

    def clear_state(self) -> None:
        """Forget every resource, operation, fault, webhook and log entry (the clock keeps
        running)."""
        self.store.clear()
        self.ops.clear()
        self.body_cache.clear()
        self.faults.clear()
        self.events.subscriptions.clear()
        self.events.clear_log()
        self.requests.clear()
        self.ratelimits.clear()
        self.ensure_subscription(self.config.default_subscription_id)

    def ensure_subscription(self, sub_id: str, tenant: str | None = None) -> Subscription:
        sub = self.store.subscriptions.get(sub_id.lower())
        if sub is None:
            sub = Subscription(sub_id, tenant or self.config.tenant_id, f"Emulated {sub_id[:8]}")
            self.store.subscriptions[sub_id.lower()] = sub
        return sub

    def emit_write(
        self, resource_id: str, operation: str, context: RequestContext | None, update: bool
    ) -> None:
        """`ResourceWriteSuccess` for a synchronous write (httpRequest only for an update)."""
        self.events.emit(
            event_type=WRITE_SUCCESS,
            subscription_id=resource_id.split("/")[2],
            resource_id=resource_id,
            operation=operation,
            status="Succeeded",
            context=context,
            sim_time=self.now(),
            include_http_request=update,
        )
