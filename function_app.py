"""Azure Functions entry points (Python v2 model): triggers and bindings only.

Each function decodes its trigger, calls into shared/, and encodes the answer. Queue names and
the HTTP auth level come from app settings, read once at indexing so a bad setting fails fast.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared import redaction, telemetry
from shared.http_api import drills as drills_api
from shared.http_api import handlers as http_api
from shared.http_api.schemas import get_event_schema
from shared.jobs import auto_intake, drill_runner
from shared.jobs.stages import dispatch, poison
from shared.model.arm_events import read_event
from shared.model.message import Stage
from shared.services import get_services, load_policies
from shared.settings import Settings
from shared.sweep import reconcile as sweep
from shared.sweep.schedule_tick import schedule_tick

redaction.install()
SETTINGS = Settings.from_env()
# Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else TELEMETRY_EXPORTER.
telemetry.configure(SETTINGS.telemetry_exporter)
# An invalid policy file stops indexing with every problem listed: never run on half a policy.
load_policies(SETTINGS)
QUEUES = SETTINGS.queues
CONNECTION = SETTINGS.storage_connection
HTTP_AUTH = (
    func.AuthLevel.ANONYMOUS if SETTINGS.http_auth_level == "anonymous" else func.AuthLevel.FUNCTION
)

app = func.FunctionApp(http_auth_level=HTTP_AUTH)


def _http(response: http_api.ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(
        response.text(),
        status_code=response.status,
        headers=response.headers,
        mimetype=response.content_type,
        charset="utf-8",
    )


# -- HTTP: manual requests and status ---------------------------------------------------------


@app.function_name("copies_create")
@app.route(route="copies", methods=["POST"])
async def copies_create(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.post_copy(await get_services(), req.get_body()))


@app.function_name("copies_get")
@app.route(route="copies/{id}", methods=["GET"])
async def copies_get(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.get_copy(await get_services(), req.route_params.get("id", "")))


# -- cancel, retry and the runs of a job --


@app.function_name("copies_cancel")
@app.route(route="copies/{id}", methods=["DELETE"])
async def copies_cancel(req: func.HttpRequest) -> func.HttpResponse:
    services = await get_services()
    job_id = req.route_params.get("id", "")
    return _http(await http_api.cancel_copy(services, job_id, dict(req.params)))


@app.function_name("copies_retry")
@app.route(route="copies/{id}/retry", methods=["POST"])
async def copies_retry(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.retry_copy(await get_services(), req.route_params.get("id", "")))


@app.function_name("copies_runs")
@app.route(route="copies/{id}/runs", methods=["GET"])
async def copies_runs(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.copy_runs(await get_services(), req.route_params.get("id", "")))


@app.function_name("copies_list")
@app.route(route="copies", methods=["GET"])
async def copies_list(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.list_copies(await get_services(), dict(req.params)))


@app.function_name("protection_status")
@app.route(route="protection", methods=["GET"])
async def protection_status(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.protection_status(await get_services()))


@app.function_name("sweep_plan")
@app.route(route="plan", methods=["GET"])
async def sweep_plan(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.sweep_plan(await get_services()))


@app.function_name("preflight")
@app.route(route="preflight", methods=["GET"])
async def preflight(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.preflight_report(await get_services()))


# -- HTTP: the JSON Schemas that the events' `dataschema` points to --------------------------


@app.function_name("event_schema")
@app.route(route="schemas/events/{name}", methods=["GET"])
async def event_schema(req: func.HttpRequest) -> func.HttpResponse:
    return _http(get_event_schema(req.route_params.get("name", "")))


# -- HTTP: the status page and the OpenAPI document ----------------------------------------------


# Anonymous on purpose: the shell holds no data and no key, and a browser cannot send a key
# header when it opens a page (a `?code=` key would reach logs). Its data needs the key.
@app.function_name("dashboard_page")
@app.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def dashboard_page(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.dashboard_page())


@app.function_name("dashboard_data")
@app.route(route="dashboard/data", methods=["GET"])
async def dashboard_data(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.dashboard_data(await get_services(), dict(req.params)))


@app.function_name("openapi_document")
@app.route(route="openapi.json", methods=["GET"])
async def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await http_api.openapi_document(await get_services()))


# -- restore drills: HTTP, and their queue (and its -poison queue) -----------------------------


@app.function_name("drills_create")
@app.route(route="drills", methods=["POST"])
async def drills_create(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await drills_api.post_drill(await get_services(), req.get_body()))


@app.function_name("drills_get")
@app.route(route="drills/{id}", methods=["GET"])
async def drills_get(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await drills_api.get_drill(await get_services(), req.route_params.get("id", "")))


@app.function_name("drills_list")
@app.route(route="drills", methods=["GET"])
async def drills_list(req: func.HttpRequest) -> func.HttpResponse:
    return _http(await drills_api.list_drills(await get_services(), dict(req.params)))


@app.function_name("stage_drill")
@app.queue_trigger(arg_name="msg", queue_name=QUEUES.drill, connection=CONNECTION)
async def stage_drill(msg: func.QueueMessage) -> None:
    await drill_runner.handle_drill_message(await get_services(), msg.get_body())


@app.function_name("poison_drill")
@app.queue_trigger(arg_name="msg", queue_name=f"{QUEUES.drill}-poison", connection=CONNECTION)
async def poison_drill(msg: func.QueueMessage) -> None:
    await drill_runner.handle_drill_poison(await get_services(), msg.get_body())


# -- queue stages and their poison queues ----------------------------------------------------


def _stage(stage: Stage, queue: str) -> None:
    """Register the stage's trigger and the trigger on its `-poison` queue."""

    async def run_stage(msg: func.QueueMessage) -> None:
        await dispatch.handle(await get_services(), stage, msg.get_body())

    async def run_poison(msg: func.QueueMessage) -> None:
        await poison.handle_poison(await get_services(), stage, msg.get_body())

    name = stage.value.replace("-", "_")
    run_stage.__name__ = run_stage.__qualname__ = f"stage_{name}"
    run_poison.__name__ = run_poison.__qualname__ = f"poison_{name}"
    app.function_name(f"stage_{name}")(
        app.queue_trigger(arg_name="msg", queue_name=queue, connection=CONNECTION)(run_stage)
    )
    app.function_name(f"poison_{name}")(
        app.queue_trigger(arg_name="msg", queue_name=f"{queue}-poison", connection=CONNECTION)(
            run_poison
        )
    )


for _each in Stage:
    _stage(_each, QUEUES.for_stage(_each))


# -- automatic DR: Event Grid --------------------------------------------------------------------


@app.function_name("restore_point_created")
@app.event_grid_trigger(arg_name="event")
async def restore_point_created(event: func.EventGridEvent) -> None:
    """ResourceWriteSuccess from the subscription's system topic (either event schema).

    Malformed or unrelated events return normally (no redelivery storm); only transient ARM
    trouble raises, so Event Grid retries the delivery."""
    try:
        data = event.get_json()
    except (ValueError, RecursionError):
        data = None
    # The worker hands CloudEvents over as func.CloudEvent (type/subject/id), Event Grid schema
    # events as func.EventGridEvent (event_type/subject/id).
    event_type = getattr(event, "event_type", None) or getattr(event, "type", None)
    read = read_event(event.id, event_type, event.subject, data)
    jobs = await auto_intake.on_restore_point_written(await get_services(), read)
    if jobs:
        logging.info("event %s: %d copy job(s) requested", event.id, len(jobs))


# -- automatic DR: the sweep ---------------------------------------------------------------------


@app.function_name("sweep_timer")
@app.timer_trigger(schedule=SETTINGS.sweep_schedule, arg_name="timer", use_monitor=True)
async def sweep_timer(timer: func.TimerRequest) -> None:
    """Reconcile every protected collection with what exists (catches missed events), apply
    retention and judge the RPO. With SWEEP_DRY_RUN=true it only logs the plan."""
    services = await get_services()
    report = await sweep.sweep(services, dry_run=services.settings.sweep_dry_run)
    if report.problems:
        logging.warning("sweep problems: %s", "; ".join(report.problems[:20]))


# -- schedules: copy schedules and scheduled restore point creation ------------------------------


@app.function_name("schedule_timer")
@app.timer_trigger(schedule=SETTINGS.schedule_timer, arg_name="timer", use_monitor=True)
async def schedule_timer(timer: func.TimerRequest) -> None:
    """Act on due copy and creation slots of the policy file (docs/policies.md); idle ticks
    make no ARM call."""
    report = await schedule_tick(await get_services())
    if report is not None and report.problems:
        logging.warning("schedule problems: %s", "; ".join(report.problems[:20]))
