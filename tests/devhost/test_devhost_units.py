"""Pure pieces of devhost: schedules, routes, host.json, settings, keys, queue decisions."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from devhost.errors import StartupError
from devhost.eventgrid import MalformedPayload, parse_events, trigger_value, validation_code
from devhost.host import _looks_secret
from devhost.invocation import FunctionTimeout, Invoker
from devhost.keys import KeyStore, provided_key
from devhost.metadata import build_spec
from devhost.ncrontab import parse_schedule
from devhost.outputs import queue_output_bodies
from devhost.queue_listener import Backoff, Outcome, after_invoke, before_invoke
from devhost.routing import Route, Router, RouteTemplate, join_prefix
from devhost.settings import (
    HostConfig,
    QueuesConfig,
    parse_host_config,
    parse_timespan,
    resolve_expression,
)
from devhost.storage import DecodeError, decode_message, encode_message, resolve_connection

T0 = datetime(2025, 3, 14, 10, 20, 30, 500_000, tzinfo=UTC)  # a Friday


# -- NCRONTAB -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/1 * * * * *", datetime(2025, 3, 14, 10, 20, 31, tzinfo=UTC)),
        ("0 * * * * *", datetime(2025, 3, 14, 10, 21, 0, tzinfo=UTC)),
        ("0 */5 * * * *", datetime(2025, 3, 14, 10, 25, 0, tzinfo=UTC)),
        ("30 0 9 * * *", datetime(2025, 3, 15, 9, 0, 30, tzinfo=UTC)),
        ("0 30 9 * * 1-5", datetime(2025, 3, 17, 9, 30, 0, tzinfo=UTC)),  # next weekday
        ("0 0 0 * * Sun", datetime(2025, 3, 16, 0, 0, 0, tzinfo=UTC)),
        ("0 0 12 1 Jan *", datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2025, 3, 14, 10, 30, 0, tzinfo=UTC)),  # 5 fields: no seconds
    ],
)
def test_ncrontab_next_fire(expression: str, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(T0) == expected


def test_ncrontab_day_and_weekday_must_both_match() -> None:
    # NCrontab ANDs day-of-month and day-of-week (classic cron ORs them).
    schedule = parse_schedule("0 0 0 13 * 5")  # Friday the 13th
    assert schedule.next_after(T0) == datetime(2025, 6, 13, tzinfo=UTC)


def test_ncrontab_field_order_is_seconds_first() -> None:
    schedule = parse_schedule("5 10 * * * *")  # second 5 of minute 10
    assert schedule.next_after(T0) == datetime(2025, 3, 14, 11, 10, 5, tzinfo=UTC)


def test_timespan_schedule_is_an_interval() -> None:
    schedule = parse_schedule("00:00:05")
    assert schedule.interval == timedelta(seconds=5)
    assert schedule.next_after(T0) == T0 + timedelta(seconds=5)


@pytest.mark.parametrize(
    "expression", ["* * * *", "* * * * * * *", "0 0 L * * *", "0 0 0 ? * *", "61 * * * * *", ""]
)
def test_ncrontab_rejects_invalid(expression: str) -> None:
    with pytest.raises(StartupError):
        parse_schedule(expression)


# -- routes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/copies/{id}", "/api/copies/abc", {"id": "abc"}),
        ("api/copies/{id}", "/API/Copies/abc/", {"id": "abc"}),
        ("api/copies/{id}", "/api/copies", None),
        ("api/copies/{id}", "/api/copies/a/b", None),
        ("api/items/{n:int}", "/api/items/-12", {"n": "-12"}),
        ("api/items/{n:int}", "/api/items/1.5", None),
        ("api/items/{n:int}", "/api/items/99999999999", None),  # beyond int32
        (
            "api/x/{id:guid}",
            "/api/x/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
        ),
        ("api/x/{id:guid}", "/api/x/not-a-guid", None),
        ("api/n/{name:alpha}", "/api/n/Abc", {"name": "Abc"}),
        ("api/n/{name:alpha}", "/api/n/ab1", None),
        ("api/o/{a}/{b?}", "/api/o/1", {"a": "1"}),
        ("api/o/{a}/{b?}", "/api/o/1/2", {"a": "1", "b": "2"}),
        ("api/d/{a=dflt}", "/api/d", {"a": "dflt"}),
        ("api/files/{*rest}", "/api/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("api/f/{name}.{ext}", "/api/f/report.pdf", {"name": "report", "ext": "pdf"}),
        ("api/e/{v}", "/api/e/a%20b%2Fc", {"v": "a b/c"}),
        ("api/l/{v:minlength(3)}", "/api/l/ab", None),
        ("api/r/{v:range(1,5)}", "/api/r/5", {"v": "5"}),
        ("api/r/{v:range(1,5)}", "/api/r/6", None),
        ("api/rx/{v:regex(^[a-z]{{2}}\\d$)}", "/api/rx/ab1", {"v": "ab1"}),
        ("api/rx/{v:regex(^[a-z]{{2}}\\d$)}", "/api/rx/abc1", None),
        ("api/lit{{x}}/{v}", "/api/lit{x}/1", {"v": "1"}),
        ("api/rx/{v:regex(^ab\\d$)}", "/api/rx/ab1", {"v": "ab1"}),
        ("api/multi/{v:int:min(10)}", "/api/multi/9", None),
        ("api/multi/{v:int:min(10)}", "/api/multi/10", {"v": "10"}),
    ],
)
def test_route_template_matching(template: str, path: str, expected: dict | None) -> None:
    assert RouteTemplate.parse(template).match(path) == expected


@pytest.mark.parametrize(
    "template", ["api/{a?}/b", "api/{x:nosuch}", "api/{a}/{a}", "api//x", "api/{*a}/b"]
)
def test_route_template_rejects_invalid(template: str) -> None:
    with pytest.raises(StartupError):
        RouteTemplate.parse(template)


def test_router_prefers_literals_then_constraints_and_filters_methods() -> None:
    router: Router[str] = Router()
    router.add(Route(RouteTemplate.parse("api/copies/{id}"), None, "by-id"))
    router.add(Route(RouteTemplate.parse("api/copies/{n:int}"), None, "by-int"))
    router.add(Route(RouteTemplate.parse("api/copies/latest"), frozenset({"GET"}), "latest"))
    router.add(Route(RouteTemplate.parse("api/copies"), frozenset({"POST"}), "create"))

    def target(path: str, method: str = "GET") -> str | None:
        found = router.match(path, method)
        return found[0].target if found else None

    assert target("/api/copies/latest") == "latest"
    assert target("/api/copies/latest", "DELETE") == "by-id"  # method filters, then next route
    assert target("/api/copies/7") == "by-int"
    assert target("/api/copies/x") == "by-id"
    assert target("/api/copies", "POST") == "create"
    assert target("/api/copies", "GET") is None


def test_join_prefix() -> None:
    assert join_prefix("api", "copies/{id}") == "api/copies/{id}"
    assert join_prefix("", "/copies") == "copies"
    assert join_prefix("v1/api/", "x") == "v1/api/x"


# -- host.json and settings -----------------------------------------------------------------


def test_host_json_defaults_are_the_real_hosts() -> None:
    config = parse_host_config({"version": "2.0"})
    assert config == HostConfig()
    assert config.route_prefix == "api"
    assert config.function_timeout == 1800
    assert config.queues == QueuesConfig(
        batch_size=16,
        new_batch_threshold=8,
        max_dequeue_count=5,
        visibility_timeout=0.0,
        max_polling_interval=60.0,
        message_encoding="base64",
    )


def test_host_json_overrides() -> None:
    config = parse_host_config(
        {
            "functionTimeout": "00:10:00",
            "extensions": {
                "http": {"routePrefix": ""},
                "queues": {
                    "batchSize": 4,
                    "maxPollingInterval": 2000,  # bare numbers are milliseconds
                    "visibilityTimeout": "00:00:30",
                    "maxDequeueCount": 2,
                    "messageEncoding": "none",
                },
            },
        }
    )
    assert config.route_prefix == ""
    assert config.function_timeout == 600
    assert config.queues.batch_size == 4
    assert config.queues.new_batch_threshold == 2  # batchSize / 2 unless set
    assert config.queues.max_polling_interval == 2.0
    assert config.queues.visibility_timeout == 30.0
    assert config.queues.message_encoding == "none"
    assert parse_host_config({"functionTimeout": "-1"}).function_timeout is None


@pytest.mark.parametrize(
    "queues",
    [
        {"batchSize": 0},
        {"batchSize": 33},
        {"maxDequeueCount": 0},
        {"maxPollingInterval": "00:00:00.050"},
        {"messageEncoding": "utf8"},
        {"visibilityTimeout": "soon"},
    ],
)
def test_host_json_rejects_invalid_queue_settings(queues: dict) -> None:
    with pytest.raises(StartupError):
        parse_host_config({"extensions": {"queues": queues}})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("00:00:30", 30), ("01:02:03", 3723), ("1.00:00:00", 86400), ("00:00:00.250", 0.25), (5, 5)],
)
def test_parse_timespan(value: object, seconds: float) -> None:
    assert parse_timespan(value, what="x") == pytest.approx(seconds)


def test_resolve_expression() -> None:
    settings = {"Q": "jobs", "ENV": "dev"}
    assert resolve_expression("%Q%", settings, where="w") == "jobs"
    assert resolve_expression("%Q%-%ENV%-x", settings, where="w") == "jobs-dev-x"
    assert resolve_expression("plain", settings, where="w") == "plain"
    with pytest.raises(StartupError, match="app setting 'MISSING' is not set"):
        resolve_expression("%MISSING%", settings, where="w")


def test_resolve_connection() -> None:
    conn = "UseDevelopmentStorage=true"
    assert resolve_connection(None, {"AzureWebJobsStorage": conn}, "w").connection_string == conn
    assert (
        resolve_connection("Storage", {"AzureWebJobsStorage": conn}, "w").connection_string == conn
    )
    # Identity-based connections resolve too (tests/devhost/test_devhost_identity.py has more).
    identity = resolve_connection("S", {"S__queueServiceUri": "https://x"}, "w")
    assert identity.identity_based
    assert identity.queue_service_uri == "https://x"
    with pytest.raises(StartupError, match="is not set"):
        resolve_connection("S", {}, "w")
    with pytest.raises(StartupError, match="not a valid storage connection string") as info:
        resolve_connection("S", {"S": "AccountKey=secret"}, "w")
    assert "secret" not in str(info.value)


# -- keys -----------------------------------------------------------------------------------


def test_key_levels() -> None:
    keys = KeyStore({"DEVHOST_FUNCTION_KEY": "fk", "DEVHOST_MASTER_KEY": "mk"})
    assert keys.allows("anonymous", None)
    assert keys.allows("function", "fk")
    assert keys.allows("function", "mk")
    assert not keys.allows("function", None)
    assert not keys.allows("function", "x")
    assert keys.allows("admin", "mk")
    assert not keys.allows("admin", "fk")
    assert keys.eventgrid.generated
    assert not keys.function.generated
    assert keys.allows_eventgrid(keys.eventgrid.value)
    assert keys.allows_eventgrid("mk")
    assert not keys.allows_eventgrid("fk")
    assert provided_key({"x-functions-key": "h"}, {"code": "q"}) == "h"
    assert provided_key({}, {"code": "q"}) == "q"
    assert provided_key({}, {}) is None


# -- queue semantics ------------------------------------------------------------------------


def test_queue_decisions_follow_the_extension() -> None:
    assert before_invoke(1, 5) is Outcome.PROCESS
    assert before_invoke(5, 5) is Outcome.PROCESS
    assert before_invoke(6, 5) is Outcome.POISON  # already over: straight to poison
    assert after_invoke(True, 5, 5) is Outcome.DELETE
    assert after_invoke(False, 4, 5) is Outcome.RELEASE
    assert after_invoke(False, 5, 5) is Outcome.POISON


def test_backoff_doubles_to_the_maximum_and_resets() -> None:
    backoff = Backoff(maximum=1.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays[0] <= 0.12
    assert max(delays) <= 1.0
    assert delays[-1] >= 0.8
    backoff.reset()
    assert backoff.next_delay() <= 0.12


def test_message_encoding() -> None:
    assert decode_message(encode_message("héllo", "base64"), "base64") == "héllo".encode()
    assert decode_message("plain", "none") == b"plain"
    with pytest.raises(DecodeError):
        decode_message("not base64!", "base64")


def test_queue_output_bodies_match_the_library_encoder() -> None:
    assert queue_output_bodies("a") == ["a"]
    assert queue_output_bodies(b"b") == [b"b"]
    assert queue_output_bodies(["x", "y"]) == ["x", "y"]
    (as_json,) = queue_output_bodies(func.QueueMessage(id="i", body="payload"))
    assert json.loads(as_json) == {"id": "i", "body": "payload"}
    assert queue_output_bodies(None) == []
    with pytest.raises(TypeError, match=r"cannot take a int: use str, bytes, func\.QueueMessage"):
        queue_output_bodies(42)


# -- Event Grid payloads --------------------------------------------------------------------


def test_validation_codes_of_both_schemas() -> None:
    eventgrid = [{"data": {"validationCode": "abc"}, "eventType": "x"}]
    assert validation_code(json.dumps(eventgrid).encode()) == "abc"
    cloud = {"specversion": "1.0", "data": json.dumps({"validationCode": "def"})}
    assert validation_code(json.dumps(cloud).encode()) == "def"
    with pytest.raises(MalformedPayload):
        validation_code(b"[{}]")


def test_parse_events_and_trigger_values() -> None:
    single = parse_events(b'{"specversion": "1.0", "id": "1", "type": "t", "source": "s"}')
    assert len(single) == 1
    assert isinstance(trigger_value(single[0]), func.CloudEvent)
    event = trigger_value({"id": "2", "eventType": "e", "topic": "t", "data": {"a": 1}})
    assert isinstance(event, func.EventGridEvent)
    assert event.event_type == "e"
    assert event.topic == "t"
    assert event.get_json() == {"a": 1}
    for bad in (b"", b"[]", b"[1]", b"nope"):
        with pytest.raises(MalformedPayload):
            parse_events(bad)


# -- metadata -------------------------------------------------------------------------------


def _only_function(app: func.FunctionApp) -> func.Function:
    (function,) = app.get_functions()
    return function


def test_build_spec_resolves_settings_and_outputs() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="%IN%", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="$return", queue_name="%IN%-next", connection="AzureWebJobsStorage")
    async def stage(msg: func.QueueMessage) -> str:
        return "x"

    spec = build_spec(_only_function(app), {"IN": "jobs"})
    assert spec.name == "stage"
    assert spec.trigger.type == "queueTrigger"
    assert spec.trigger.get("queueName") == "jobs"
    assert spec.is_async
    assert spec.return_binding is not None
    assert spec.return_binding.get("queueName") == "jobs-next"


def test_build_spec_rejects_unsupported_bindings() -> None:
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="c/{name}", connection="AzureWebJobsStorage")
    def on_blob(blob: func.InputStream) -> None: ...

    with pytest.raises(StartupError, match="blobTrigger' is not supported"):
        build_spec(_only_function(app), {})


def test_build_spec_rejects_parameter_mismatch() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
    def wrong(message: func.QueueMessage) -> None: ...

    with pytest.raises(StartupError, match="declared in Python but not as bindings"):
        build_spec(_only_function(app), {})


def test_build_spec_rejects_bad_queue_names() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="Bad_Name", connection="AzureWebJobsStorage")
    def bad(msg: func.QueueMessage) -> None: ...

    with pytest.raises(StartupError, match="invalid queue name"):
        build_spec(_only_function(app), {})


# -- invocation -----------------------------------------------------------------------------


class _RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, object]] = []

    async def send(self, function_name: str, binding: object, value: object) -> int:
        self.sent.append((function_name, binding.name, value))  # type: ignore[attr-defined]
        return 1


def _invoker(timeout: float | None = 5.0) -> tuple[Invoker, _RecordingSender]:
    sender = _RecordingSender()
    return Invoker("/app", sender, timeout=timeout), sender  # type: ignore[arg-type]


async def test_invoker_runs_sync_in_a_thread_with_outputs_and_context() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="next", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage, out: func.Out[str], context: func.Context) -> None:
        out.set(
            f"{msg.get_body().decode()} {context.function_name} {threading.current_thread().name}"
        )

    invoker, sender = _invoker()
    spec = build_spec(_only_function(app), {})
    result = await invoker.invoke(spec, func.QueueMessage(body="hi"), reason="test")
    invoker.shutdown()
    assert result.succeeded
    ((function, binding, value),) = sender.sent
    assert (function, binding) == ("work", "out")
    assert str(value).startswith("hi work fn")  # ran in the "fn" thread pool


async def test_invoker_reports_failures_and_timeouts_without_raising() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
    async def slow(msg: func.QueueMessage) -> None:
        await asyncio.sleep(5)

    invoker, sender = _invoker(timeout=0.05)
    result = await invoker.invoke(build_spec(_only_function(app), {}), None, reason="test")
    invoker.shutdown()
    assert not result.succeeded
    assert isinstance(result.error, FunctionTimeout)
    assert sender.sent == []


def test_secret_detection_masks_credentials_not_setting_names() -> None:
    assert _looks_secret("AzureWebJobsStorage", "DefaultEndpointsProtocol=http;AccountKey=abc")
    assert _looks_secret("DEVHOST_MASTER_KEY", "0123456789abcdef")
    assert _looks_secret("ARM_STATIC_TOKEN", "local-emulator-token")
    assert not _looks_secret("STORAGE_CONNECTION", "AzureWebJobsStorage")
    assert not _looks_secret("QUEUE_POLL", "rpcopy-poll")


def test_app_settings_override_host_json_like_the_real_host() -> None:
    from devhost.settings import apply_host_overrides, parse_host_config

    doc = {"version": "2.0", "extensions": {"queues": {"visibilityTimeout": "00:00:30"}}}
    settings = {
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:02",
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "3",
        "AzureFunctionsJobHost__extensions__http__routePrefix": "v1",
        "UNRELATED": "x",
    }
    config = parse_host_config(apply_host_overrides(doc, settings))
    assert config.queues.visibility_timeout == 2.0
    assert config.queues.max_dequeue_count == 3
    assert config.route_prefix == "v1"
