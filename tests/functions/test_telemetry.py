"""OpenTelemetry of a full copy, with in-memory exporters: spans per stage invocation, ARM call
and HTTP request carrying the job's ids, one trace across the queue stages, the metrics, and
log records that carry the job's attributes."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.stack import Stack
from shared import telemetry
from shared.http_api.handlers import get_copy
from shared.model.job import JobState
from tests.conftest import MakeServices
from tests.functions.test_stage_failures import run_job, start
from tests.support import seed_source


@pytest.fixture(scope="module")
def exporters() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    spans = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    # Global providers can be set once per process; the app's instruments bind to them late.
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    telemetry.install_log_context()
    return spans, reader


def points(reader: InMemoryMetricReader, name: str) -> list:
    data = reader.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def count(reader: InMemoryMetricReader, name: str, **attributes: object) -> float:
    return sum(
        p.value
        for p in points(reader, name)
        if all(p.attributes.get(k) == v for k, v in attributes.items())
    )


async def test_a_full_copy_is_traced_measured_and_logged(
    make_services: MakeServices,
    stack: Stack,
    exporters: tuple[InMemorySpanExporter, InMemoryMetricReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    spans, reader = exporters
    spans.clear()
    succeeded_before = count(reader, "rpcopy.copies", **{"rpcopy.outcome": "succeeded"})
    services = await make_services()
    source = seed_source(stack.arm_endpoint, data_disks=1)
    caplog.set_level(logging.INFO)
    with telemetry.tracer.start_as_current_span("client request") as request_span:
        job_id = await start(services, source.restore_point_id)
    record = await run_job(services, stack, job_id)
    assert record.state is JobState.SUCCEEDED
    response = await get_copy(services, job_id)
    assert response.status == 200

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    stage_spans = [
        s
        for s in finished
        if s.name.startswith("stage ") and s.attributes["rpcopy.job_id"] == job_id
    ]
    names = {s.name for s in stage_spans}
    assert {"stage ensure-target", "stage start-copy", "stage poll", "stage finish"} <= names
    for span in stage_spans:
        assert span.attributes["rpcopy.run"] == 1
        assert span.attributes["rpcopy.correlation_id"] == record.correlation_id
        assert span.attributes["rpcopy.source"] == source.restore_point_id
        assert span.attributes["rpcopy.target_region"] == record.target_region
        # One trace from the request through every stage, carried in the queue messages.
        assert span.context.trace_id == request_span.get_span_context().trace_id
        assert span.parent is not None

    stage_ids = {s.context.span_id for s in stage_spans}
    arm = [
        s
        for s in finished
        if s.name.startswith("ARM ") and s.parent and s.parent.span_id in stage_ids
    ]
    assert {"ARM RestorePoints_Create", "ARM RestorePoints_Get"} <= {s.name for s in arm}
    create = next(s for s in arm if s.name == "ARM RestorePoints_Create")
    assert create.attributes["http.response.status_code"] == 201
    http = [s for s in finished if s.name == "GET /api/copies/{id}"]
    assert http[-1].attributes["http.response.status_code"] == 200
    assert http[-1].attributes["rpcopy.job_id"] == job_id

    assert count(reader, "rpcopy.copies", **{"rpcopy.outcome": "succeeded"}) == succeeded_before + 1
    assert (
        count(
            reader,
            "rpcopy.arm.requests",
            **{"rpcopy.arm.operation": "RestorePoints_Create", "http.response.status_code": 201},
        )
        >= 1
    )
    assert points(reader, "rpcopy.copy.duration")
    assert points(reader, "rpcopy.copy.detection_lag")

    succeeded = [r for r in caplog.records if r.getMessage().startswith("copy succeeded")]
    assert succeeded, "a log line says the copy succeeded"
    assert getattr(succeeded[-1], "rpcopy.job_id") == job_id
    assert getattr(succeeded[-1], "rpcopy.stage") == "finish"


async def test_throttles_and_poison_messages_are_counted(
    make_services: MakeServices,
    stack: Stack,
    exporters: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    from arm_emulator.control import EmulatorControl
    from shared.jobs.stages.poison import handle_poison
    from shared.model.message import Stage

    _, reader = exporters
    throttled_before = count(
        reader, "rpcopy.arm.throttles", **{"rpcopy.arm.operation": "RestorePoints_Create"}
    )
    poison_before = count(reader, "rpcopy.poison.messages", **{"rpcopy.stage": "poll"})
    services = await make_services()
    source = seed_source(stack.arm_endpoint, data_disks=0)
    vm = source.vm_id.rsplit("/", 1)[-1]
    with EmulatorControl(stack.arm_endpoint) as control:
        control.add_fault(
            operation="RestorePoints_Create",
            kind="http",
            status=429,
            retryAfter=0,
            times=1,
            match={"pathContains": vm},
        )
        try:
            job_id = await start(services, source.restore_point_id)
            assert (await run_job(services, stack, job_id)).state is JobState.SUCCEEDED
        finally:
            control.clear_faults()
    await handle_poison(services, Stage.POLL, b"not a message")
    assert (
        count(reader, "rpcopy.arm.throttles", **{"rpcopy.arm.operation": "RestorePoints_Create"})
        == throttled_before + 1
    )
    assert count(reader, "rpcopy.poison.messages", **{"rpcopy.stage": "poll"}) == poison_before + 1
