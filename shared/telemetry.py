"""OpenTelemetry for the app: one tracer, one meter, its instruments and the job's context.

`configure` picks where telemetry goes, once per worker: Application Insights through
`azure-monitor-opentelemetry` when APPLICATIONINSIGHTS_CONNECTION_STRING is set (host.json sets
`telemetryMode: OpenTelemetry`, so the host's own telemetry correlates with it); otherwise the
TELEMETRY_EXPORTER setting (`otlp` to OTEL_EXPORTER_OTLP_ENDPOINT, `console`, or `none`).
Without a configured provider every call here is a cheap no-op, which is what tests that do not
look at telemetry get; tests that do install in-memory readers and exporters.

Spans: one per stage invocation, ARM call and HTTP request, with the job's id, run, correlation
id, source and target as attributes. The trace follows a copy across the queue stages: every job
message carries the W3C `traceparent` of the span that sent it. Log records of a job carry the
same attributes (added as each record is made), so a copy can be followed in logs and traces alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

tracer = trace.get_tracer("rpcopy")
meter = metrics.get_meter("rpcopy")

# -- instruments (names are part of the app's contract: dashboards and alerts use them) ---------

copies = meter.create_counter(
    "rpcopy.copies", unit="{copy}", description="Copy runs that ended, by outcome"
)
copy_duration = meter.create_histogram(
    "rpcopy.copy.duration", unit="s", description="From the request to the end of the copy"
)
detection_lag = meter.create_histogram(
    "rpcopy.copy.detection_lag",
    unit="s",
    description="From the poll that saw replication done to the completion event",
)
rpo_age = meter.create_gauge(
    "rpcopy.rpo.age", unit="min", description="Age of the newest usable copy, per pair"
)
arm_requests = meter.create_counter(
    "rpcopy.arm.requests", unit="{request}", description="ARM requests by operation and status"
)
arm_throttles = meter.create_counter(
    "rpcopy.arm.throttles", unit="{response}", description="ARM 429 answers by operation"
)
poison_messages = meter.create_counter(
    "rpcopy.poison.messages",
    unit="{message}",
    description="Messages that reached a poison handler or a -poison-poison queue",
)

# -- the job an invocation works for -----------------------------------------------------------

_job: ContextVar[Mapping[str, Any] | None] = ContextVar("rpcopy_job", default=None)


def job_attributes(
    *,
    job_id: str,
    run: int | None = None,
    correlation_id: str | None = None,
    source: str | None = None,
    target_region: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    attributes = {
        "rpcopy.job_id": job_id,
        "rpcopy.run": run,
        "rpcopy.correlation_id": correlation_id,
        "rpcopy.source": source,
        "rpcopy.target_region": target_region,
        "rpcopy.stage": stage,
    }
    return {k: v for k, v in attributes.items() if v is not None}


@contextlib.contextmanager
def job_span(
    name: str, attributes: Mapping[str, Any], traceparent: str | None = None
) -> Iterator[trace.Span]:
    """A span for work on one job, a child of the span that sent its message (if any), with
    the job's attributes also on every log record made inside it."""
    parent: Context | None = None
    if traceparent:
        parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    token = _job.set(dict(attributes))
    try:
        with tracer.start_as_current_span(name, context=parent, attributes=attributes) as span:
            yield span
    finally:
        _job.reset(token)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to carry in the next message."""
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


_base_factory = logging.getLogRecordFactory()


def _record_with_job(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every log record made while working for a job carries the job's attributes (the
    OpenTelemetry logging handler exports them as log attributes), whatever handler sees it."""
    record = _base_factory(*args, **kwargs)
    for key, value in (_job.get() or {}).items():
        setattr(record, key, value)
    return record


def install_log_context() -> None:
    if logging.getLogRecordFactory() is not _record_with_job:
        logging.setLogRecordFactory(_record_with_job)


# -- configuration ------------------------------------------------------------------------------

_configured = False


def configure(exporter: str, env: Mapping[str, str] | None = None) -> str:
    """Set up the exporters once per worker (`exporter`: the TELEMETRY_EXPORTER setting, used
    when Application Insights is not configured); returns what was chosen."""
    global _configured
    env = os.environ if env is None else env
    install_log_context()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "disabled"  # OpenTelemetry's own switch (e.g. indexing the app in a test)
    if _configured:
        return "already"
    _configured = True
    if env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip():
        from azure.monitor.opentelemetry import configure_azure_monitor

        # The connection string, and Entra ID authentication through
        # APPLICATIONINSIGHTS_AUTHENTICATION_STRING, are read from the environment.
        configure_azure_monitor(logger_name="shared")
        return "azure-monitor"
    choice = exporter
    if choice == "none":
        return "none"
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter: Any = OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_ENDPOINT et al.
        metric_exporter: Any = OTLPMetricExporter()
    else:
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        span_exporter, metric_exporter = ConsoleSpanExporter(), ConsoleMetricExporter()
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "rpcopy")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(
        MeterProvider(
            resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter)]
        )
    )
    return choice
