"""Wire the pieces together: load, start listeners and timers, serve HTTP, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from azure.functions.queue import QueueMessage as FuncQueueMessage

from devhost import eventgrid
from devhost.errors import StartupError
from devhost.http_server import HostHttpApp
from devhost.invocation import Invoker
from devhost.keys import KeyStore
from devhost.logs import host_logger, register_secrets
from devhost.metadata import (
    EVENTGRID_TRIGGER,
    HTTP_TRIGGER,
    QUEUE_TRIGGER,
    TIMER_TRIGGER,
    FunctionSpec,
    load_functions,
)
from devhost.outputs import QueueOutputSender
from devhost.queue_listener import QueueListener
from devhost.settings import AppSettings, HostConfig
from devhost.storage import QueueClients, StorageConnection, resolve_connection
from devhost.timer_scheduler import TimerScheduler, host_timezone

log = host_logger()


@dataclass(frozen=True)
class HostOptions:
    app_dir: Path
    host: str = "127.0.0.1"
    port: int = 7071
    drain_timeout: float = 10.0


class _Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the host owns SIGTERM/SIGINT (and exit code 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Host:
    def __init__(self, options: HostOptions, settings: AppSettings, config: HostConfig) -> None:
        self.options = options
        self.settings = settings
        self.config = config
        self.instance_id = uuid.uuid4().hex
        self.keys = KeyStore(settings)
        self.clients = QueueClients()
        self.functions: list[FunctionSpec] = []
        self.listeners: list[QueueListener] = []
        self.timers: list[TimerScheduler] = []
        self._admin_tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.outputs = QueueOutputSender(
            self.clients, settings, config.queues.message_encoding, notify=self._notify_local
        )
        threads = settings.get("PYTHON_THREADPOOL_THREAD_COUNT")
        self.invoker = Invoker(
            str(options.app_dir),
            self.outputs,
            timeout=config.function_timeout,
            max_threads=int(threads)
            if threads and threads.isdigit() and int(threads) > 0
            else None,
        )
        self.http: HostHttpApp | None = None

    # ---- loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Index the app and build every trigger; raises StartupError on anything wrong."""
        register_secrets(self.keys.secrets())
        register_secrets(v for k, v in self.settings.items() if _looks_secret(k, v))
        self.functions = load_functions(self.options.app_dir, self.settings)
        zone = host_timezone(self.settings.get("WEBSITE_TIME_ZONE"))
        for spec in self.functions:
            if spec.disabled:
                continue
            where = f"function '{spec.name}'"
            for binding in spec.outputs:
                if binding.type == "queue":
                    self.outputs.connection_for(spec.name, binding)  # fail now, not mid-run
            if spec.trigger_type == QUEUE_TRIGGER:
                connection = resolve_connection(
                    spec.trigger.get("connection"), self.settings, where
                )
                self.listeners.append(
                    QueueListener(spec, connection, self.clients, self.config.queues, self.invoker)
                )
            elif spec.trigger_type == TIMER_TRIGGER:
                try:
                    self.timers.append(TimerScheduler(spec, self.invoker, zone))
                except StartupError as exc:
                    raise StartupError(f"{where}: {exc}") from exc
        self.http = HostHttpApp(
            functions=self.functions,
            route_prefix=self.config.route_prefix,
            keys=self.keys,
            invoker=self.invoker,
            admin_invoke=self.admin_invoke,
            instance_id=self.instance_id,
        )

    # ---- running -------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def bind(self) -> socket.socket:
        """Bind before serving so a busy port is a clear startup error (uvicorn would exit)."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.options.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.options.host, self.options.port))
        except OSError as exc:
            sock.close()
            raise StartupError(
                f"cannot listen on {self.options.host}:{self.options.port}: {exc.strerror}"
            ) from exc
        sock.set_inheritable(True)
        self.options = replace(self.options, port=sock.getsockname()[1])  # --port 0 picks one
        return sock

    async def run(self) -> None:
        assert self.http is not None, "load() first"
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        sock = self.bind()
        config = uvicorn.Config(
            self.http,
            lifespan="off",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=int(self.options.drain_timeout) or 1,
        )
        server = _Server(config)
        server_task: asyncio.Task[None] | None = None
        try:
            for listener in self.listeners:
                try:
                    await listener.start()
                except Exception as exc:
                    raise StartupError(
                        f"function '{listener.spec.name}': cannot use queue "
                        f"'{listener.queue_name}' in {listener.connection.label}: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    ) from exc
            server_task = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started:
                if server_task.done():
                    await server_task
                    raise StartupError(f"the HTTP server did not start on {self.base_url()}")
                await asyncio.sleep(0.02)
            self.http.state = "Running"
            for timer in self.timers:
                timer.start()
            self.print_summary()
            await self._stop.wait()
            log.info("Stopping the host (draining up to %gs)", self.options.drain_timeout)
        finally:
            self.http.state = "Stopping"
            # Stop intake first (HTTP listener closed, pollers stop), then drain in flight.
            server.should_exit = True
            drain = self.options.drain_timeout
            await asyncio.gather(
                *(listener.stop(drain) for listener in self.listeners),
                *(timer.stop(drain) for timer in self.timers),
                return_exceptions=True,
            )
            if self._admin_tasks:
                await asyncio.wait(self._admin_tasks, timeout=drain)
            if server_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server_task, drain + 5)
            await self.clients.close()
            self.invoker.shutdown()
            log.info("Host stopped")

    def _notify_local(self, connection: StorageConnection, queue_name: str) -> None:
        for listener in self.listeners:
            if listener.connection == connection and listener.queue_name == queue_name:
                listener.wake()

    # ---- admin API -------------------------------------------------------------------------

    async def admin_invoke(self, spec: FunctionSpec, payload: str) -> None:
        """`POST /admin/functions/{name}`: run a non-HTTP function once, in the background."""
        if spec.trigger_type == TIMER_TRIGGER:
            timer = next(t for t in self.timers if t.spec is spec)
            coro = timer.fire(reason="This function was programmatically called via the host APIs.")
        elif spec.trigger_type == QUEUE_TRIGGER:
            now = datetime.now(UTC)
            message = FuncQueueMessage(
                id=str(uuid.uuid4()),
                body=payload.encode("utf-8"),
                dequeue_count=1,
                insertion_time=now,
                expiration_time=None,
                time_next_visible=now,
                pop_receipt=None,
            )
            coro = self.invoker.invoke(
                spec, message, reason="This function was programmatically called via the host APIs."
            )
        elif spec.trigger_type == EVENTGRID_TRIGGER:
            events = eventgrid.parse_events(payload.encode("utf-8") or b"{}")
            coro = self.invoker.invoke(
                spec,
                eventgrid.trigger_value(events[0]),
                reason="This function was programmatically called via the host APIs.",
            )
        else:
            raise ValueError(f"cannot admin-invoke a {spec.trigger_type} function")

        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._admin_tasks.add(task)
        task.add_done_callback(self._admin_tasks.discard)

    # ---- startup summary -------------------------------------------------------------------

    def base_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def summary_lines(self) -> list[str]:
        base = self.base_url()
        lines = [
            f"devhost: Functions host for {self.options.app_dir}",
            f"  listening on {base} (route prefix '{self.config.route_prefix}')",
            "",
            "Functions:",
        ]
        assert self.http is not None
        routes = {id(r.target): r for r in self.http.router}
        for spec in self.functions:
            if spec.disabled:
                lines.append(f"  {spec.name}: disabled (AzureWebJobs.{spec.name}.Disabled)")
                continue
            kind = spec.trigger_type
            if kind == HTTP_TRIGGER:
                route = routes[id(spec)]
                methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
                level = str(spec.trigger.get("authLevel") or "function").upper()
                lines.append(
                    f"  {spec.name}: [{methods}] {base}/{route.template.template} (auth {level})"
                )
            elif kind == QUEUE_TRIGGER:
                listener = next(q for q in self.listeners if q.spec is spec)
                lines.append(
                    f"  {spec.name}: queueTrigger on '{listener.queue_name}' in "
                    f"{listener.connection.label} (poison: '{listener.poison_name}')"
                )
            elif kind == TIMER_TRIGGER:
                timer = next(t for t in self.timers if t.spec is spec)
                lines.append(
                    f"  {spec.name}: timerTrigger '{timer.schedule.describe()}' next "
                    f"{timer.next_fire().isoformat()}"
                    + (" (runOnStartup)" if timer.run_on_startup else "")
                )
            elif kind == EVENTGRID_TRIGGER:
                lines.append(
                    f"  {spec.name}: eventGridTrigger POST {base}{eventgrid.WEBHOOK_PATH}"
                    f"?functionName={spec.name}&code=<eventgrid key>"
                )
            for binding in spec.outputs:
                if binding.type == "queue":
                    lines.append(
                        f"      output '{binding.name}' -> queue '{binding.get('queueName')}'"
                    )
        q = self.config.queues
        lines += [
            "",
            f"Queues: batchSize={q.batch_size} newBatchThreshold={q.new_batch_threshold} "
            f"maxDequeueCount={q.max_dequeue_count} visibilityTimeout={q.visibility_timeout:g}s "
            f"maxPollingInterval={q.max_polling_interval:g}s messageEncoding={q.message_encoding}",
            "Keys:",
        ]
        for label, key in (
            ("function key", self.keys.function),
            ("master key", self.keys.master),
            ("eventgrid key", self.keys.eventgrid),
        ):
            shown = (
                f"{key.value} (generated; set {key.setting} to fix it)"
                if key.generated
                else (f"from setting {key.setting}")
            )
            lines.append(f"  {label}: {shown}")
        lines.append(f"devhost: Host started ({len(self.functions)} functions), pid {os.getpid()}")
        return lines

    def print_summary(self) -> None:
        # print, not logging: generated keys must reach the user, and the redactor masks them.
        print("\n".join(self.summary_lines()), flush=True)


_SECRET_MARKERS = ("accountkey=", "sharedaccesssignature=", "sharedaccesskey=", "sig=")
_SECRET_NAME = re.compile(r"(key|secret|password|token)$", re.IGNORECASE)


def _looks_secret(name: str, value: str) -> bool:
    """Values to mask in logs: credentials, not setting names (STORAGE_CONNECTION=...)."""
    if len(value) < 8:
        return False
    if any(marker in value.lower() for marker in _SECRET_MARKERS):
        return True
    return bool(_SECRET_NAME.search(name)) and " " not in value


def dump_functions_json(functions: list[FunctionSpec]) -> str:
    """The resolved metadata, for `--list` (debugging binding expressions)."""
    return json.dumps(
        {
            f.name: {"trigger": dict(f.trigger.raw), "outputs": [dict(b.raw) for b in f.outputs]}
            for f in functions
        },
        indent=2,
        default=str,
    )
