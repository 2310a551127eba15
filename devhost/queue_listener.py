"""Storage queue trigger: poll, lock, invoke, delete / release / move to `<queue>-poison`.

Mirrors the Storage queues extension (v5): batches of `batchSize` received under a long
visibility lock that is renewed while the function runs; new batches are fetched while no
more than `newBatchThreshold` messages are in flight; an empty queue backs polling off
exponentially (randomised) from 100 ms to `maxPollingInterval`. Several devhost processes
can share a queue: the visibility lock keeps each message with one of them at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.functions.queue import QueueMessage as FuncQueueMessage
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient

from devhost.invocation import Invoker
from devhost.logs import host_logger
from devhost.metadata import FunctionSpec
from devhost.settings import MIN_POLLING_INTERVAL, QueuesConfig
from devhost.storage import DecodeError, QueueClients, StorageConnection, decode_message

log = host_logger("queues")

LOCK_SECONDS = 600  # the extension's receive visibility; renewed at half-time while running
POISON_SUFFIX = "-poison"


class Outcome(enum.Enum):
    PROCESS = "process"
    DELETE = "delete"
    RELEASE = "release"
    POISON = "poison"


def before_invoke(dequeue_count: int, max_dequeue_count: int) -> Outcome:
    """A message already past the limit (e.g. a crash mid-run) goes straight to poison."""
    return Outcome.POISON if dequeue_count > max_dequeue_count else Outcome.PROCESS


def after_invoke(succeeded: bool, dequeue_count: int, max_dequeue_count: int) -> Outcome:
    """Failing on the last allowed dequeue moves the message; earlier failures release it."""
    if succeeded:
        return Outcome.DELETE
    return Outcome.POISON if dequeue_count >= max_dequeue_count else Outcome.RELEASE


class Backoff:
    """Randomised exponential back-off between empty polls, reset by any message."""

    def __init__(self, maximum: float, minimum: float = MIN_POLLING_INTERVAL) -> None:
        self.minimum = minimum
        self.maximum = max(maximum, minimum)
        self.current = minimum

    def reset(self) -> None:
        self.current = self.minimum

    def next_delay(self) -> float:
        delay = min(self.maximum, self.current * random.uniform(0.8, 1.2))
        self.current = min(self.maximum, self.current * 2)
        return delay


@dataclass
class _Held:
    """A received message and its latest pop receipt (renewing the lock changes it)."""

    message: StorageMessage
    pop_receipt: str


class QueueListener:
    def __init__(
        self,
        spec: FunctionSpec,
        connection: StorageConnection,
        clients: QueueClients,
        config: QueuesConfig,
        invoker: Invoker,
    ) -> None:
        self.spec = spec
        self.queue_name = str(spec.trigger.get("queueName"))
        self.poison_name = self.queue_name + POISON_SUFFIX
        self.connection = connection
        self._clients = clients
        self._config = config
        self._invoker = invoker
        self._queue: QueueClient | None = None  # made in start(): aio clients need the loop
        self._backoff = Backoff(config.max_polling_interval)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def queue(self) -> QueueClient:
        assert self._queue is not None, "start() first"
        return self._queue

    async def start(self) -> None:
        self._queue = self._clients.queue(self.connection, self.queue_name)
        await self._clients.ensure_queue(self.connection, self.queue_name)
        self._loop_task = asyncio.create_task(self._poll_loop(), name=f"poll:{self.queue_name}")

    def wake(self) -> None:
        """Poll now (a message was just sent to this queue from this host)."""
        self._backoff.reset()
        self._wake.set()

    async def stop(self, drain_timeout: float) -> None:
        """Stop receiving; give in-flight invocations `drain_timeout` seconds to finish."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=drain_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            if len(self._tasks) > self._config.new_batch_threshold:
                # Enough in flight: wait for one to finish before asking for more.
                stop_waiter = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait([*self._tasks, stop_waiter], return_when=asyncio.FIRST_COMPLETED)
                stop_waiter.cancel()
                continue
            messages = await self._receive_batch()
            if messages:
                self._backoff.reset()
                for message in messages:
                    task = asyncio.create_task(self._handle(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._backoff.next_delay())

    async def _receive_batch(self) -> list[StorageMessage]:
        # One Get Messages call: `messages_per_page` alone (max_messages would page again).
        try:
            pages = self.queue.receive_messages(
                messages_per_page=self._config.batch_size, visibility_timeout=LOCK_SECONDS
            ).by_page()
            try:
                page = await pages.__anext__()
            except StopAsyncIteration:
                return []
            return [m async for m in page]
        except ResourceNotFoundError:
            # Someone deleted the queue under us: recreate it, as at startup.
            log.warning("queue '%s' disappeared; recreating it", self.queue_name)
            await self._clients.ensure_queue(self.connection, self.queue_name, force=True)
            return []
        except Exception as exc:  # storage hiccups must not kill the listener
            log.warning("receiving from queue '%s' failed: %s", self.queue_name, exc)
            return []

    async def _handle(self, message: StorageMessage) -> None:
        held = _Held(message, message.pop_receipt or "")
        max_count = self._config.max_dequeue_count
        dequeue_count = message.dequeue_count or 1
        try:
            if before_invoke(dequeue_count, max_count) is Outcome.POISON:
                log.warning(
                    "Message %s was dequeued %d times (max %d); moving it to queue '%s'.",
                    message.id,
                    dequeue_count,
                    max_count,
                    self.poison_name,
                )
                await self._move_to_poison(held)
                return
            try:
                body = decode_message(str(message.content or ""), self._config.message_encoding)
            except DecodeError:
                # The extension's decode-failure handler poisons the message at once.
                log.warning(
                    "Message decoding has failed! Check MessageEncoding settings. MessageId=%s. "
                    "Moving it to queue '%s'.",
                    message.id,
                    self.poison_name,
                )
                await self._move_to_poison(held)
                return
            renewer = asyncio.create_task(self._keep_locked(held))
            try:
                result = await self._invoker.invoke(
                    self.spec,
                    self._trigger_value(message, body, held),
                    reason=f"New queue message detected on '{self.queue_name}'.",
                )
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            outcome = after_invoke(result.succeeded, dequeue_count, max_count)
            if outcome is Outcome.DELETE:
                await self.queue.delete_message(message.id, held.pop_receipt)
            elif outcome is Outcome.POISON:
                log.warning(
                    "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                    max_count,
                    self.poison_name,
                )
                await self._move_to_poison(held)
            else:
                await self._release(held, self._config.visibility_timeout)
        except asyncio.CancelledError:
            # Shut down mid-invocation: make the message visible again right away.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(held, 0))
            raise
        except Exception:
            log.exception("handling message %s from '%s' failed", message.id, self.queue_name)

    def _trigger_value(self, message: StorageMessage, body: bytes, held: _Held) -> Any:
        return FuncQueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=held.pop_receipt,
        )

    async def _keep_locked(self, held: _Held) -> None:
        while True:
            await asyncio.sleep(LOCK_SECONDS / 2)
            updated = await self.queue.update_message(
                held.message.id, pop_receipt=held.pop_receipt, visibility_timeout=LOCK_SECONDS
            )
            held.pop_receipt = updated.pop_receipt or held.pop_receipt

    async def _release(self, held: _Held, visibility_timeout: float) -> None:
        await self.queue.update_message(
            held.message.id,
            pop_receipt=held.pop_receipt,
            visibility_timeout=int(visibility_timeout),
        )

    async def _move_to_poison(self, held: _Held) -> None:
        # Same raw text as the original (still encoded), so a poison handler decodes it alike.
        await self._clients.ensure_queue(self.connection, self.poison_name)
        poison = self._clients.queue(self.connection, self.poison_name)
        await poison.send_message(held.message.content or "")
        await self.queue.delete_message(held.message.id, held.pop_receipt)
        log.info("Moved message %s to queue '%s'", held.message.id, self.poison_name)
