"""Run one function invocation: bind arguments, await or thread it, flush output bindings.

Async functions run on the host's event loop; sync ones in a thread pool (the worker's
default size is min(32, cpu+4), PYTHON_THREADPOOL_THREAD_COUNT overrides it), with the
invocation's context variables copied so logs stay tagged.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

from devhost.logs import InvocationTag, current_invocation, host_logger
from devhost.metadata import RETURN, FunctionSpec
from devhost.outputs import QueueOutputSender

log = host_logger("invoke")


class Out(func.Out):  # type: ignore[type-arg]
    """Concrete `func.Out[T]` handed to output-binding parameters."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """What a `context` parameter receives (the worker's Context has the same members)."""

    def __init__(self, function_name: str, invocation_id: str, directory: str) -> None:
        self._function_name = function_name
        self._invocation_id = invocation_id
        self._directory = directory
        self._tls = threading.local()
        self._trace = _TraceContext()
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._tls

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace

    @property
    def retry_context(self) -> RetryContext:
        return self._retry


class FunctionTimeout(Exception):
    pass


@dataclass
class InvocationResult:
    invocation_id: str
    succeeded: bool
    value: Any = None  # the return value (an HttpResponse for HTTP functions)
    error: BaseException | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


class Invoker:
    def __init__(
        self,
        app_dir: str,
        outputs: QueueOutputSender,
        *,
        timeout: float | None,
        max_threads: int | None = None,
    ) -> None:
        self._app_dir = app_dir
        self._outputs = outputs
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="fn")
        self._in_flight: set[asyncio.Task[Any]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def invoke(self, spec: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult:
        """Run `spec` once; never raises for user errors (the result says what happened)."""
        invocation_id = str(uuid.uuid4())
        token = current_invocation.set(InvocationTag(spec.name, invocation_id))
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        started = time.perf_counter()
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        result = InvocationResult(invocation_id, succeeded=False)
        try:
            result = await self._run(spec, trigger_value, invocation_id)
        except Exception as exc:  # user code failures are results, not host crashes
            result.error = exc
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            if result.succeeded:
                log.info(
                    "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                    spec.name,
                    invocation_id,
                    elapsed,
                )
            else:
                log.error(
                    "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
                    spec.name,
                    invocation_id,
                    elapsed,
                    exc_info=result.error,
                )
            if task is not None:
                self._in_flight.discard(task)
            current_invocation.reset(token)
        return result

    async def _run(
        self, spec: FunctionSpec, trigger_value: Any, invocation_id: str
    ) -> InvocationResult:
        kwargs: dict[str, Any] = {spec.trigger.name: trigger_value}
        outs = {b.name: Out() for b in spec.named_outputs}
        kwargs.update(outs)
        if spec.wants_context:
            kwargs["context"] = InvocationContext(spec.name, invocation_id, self._app_dir)
        value = await self._call(spec, kwargs)
        outputs = {name: out.get() for name, out in outs.items()}
        if spec.return_binding is not None:
            outputs[RETURN] = value
        # Output bindings are flushed after the function returns; a failed flush fails
        # the invocation (so a queue message is retried), as in the host.
        for binding in spec.outputs:
            if binding.type == "queue" and outputs.get(binding.name) is not None:
                await self._outputs.send(spec.name, binding, outputs[binding.name])
        return InvocationResult(invocation_id, succeeded=True, value=value, outputs=outputs)

    async def _call(self, spec: FunctionSpec, kwargs: dict[str, Any]) -> Any:
        if spec.is_async:
            call = spec.user_function(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            ctx = contextvars.copy_context()
            call = loop.run_in_executor(
                self._executor, functools.partial(ctx.run, spec.user_function, **kwargs)
            )
        if self._timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, self._timeout)
        except TimeoutError as exc:
            # A sync function's thread cannot be stopped; its result is discarded.
            raise FunctionTimeout(
                f"Timeout value of {self._timeout:g}s exceeded by function 'Functions.{spec.name}'"
            ) from exc

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
