"""Sample app for devhost's tests: every trigger type, sync and async, with queue outputs.

Functions report what they saw as JSON messages on the RESULTS_QUEUE / TIMER_RESULTS_QUEUE
queues, so tests observe them through Azurite exactly as the real app would be observed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

RESULTS = "%RESULTS_QUEUE%"
TIMER_RESULTS = "timer-results"
PID = os.getpid()
log = logging.getLogger("sample_app")


def _report(**fields: object) -> str:
    return json.dumps({"pid": PID, **fields}, default=str)


# -- HTTP ---------------------------------------------------------------------------------------


@app.route(route="hello/{name:alpha}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello, {req.route_params['name']}")


@app.route(route="copies/{id:guid}", methods=["GET"])
def copies_get(req: func.HttpRequest) -> func.HttpResponse:
    body = {"id": req.route_params["id"], "method": req.method, "params": dict(req.params)}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="copies", methods=["POST"])
@app.queue_output(arg_name="out", queue_name=RESULTS, connection="AzureWebJobsStorage")
async def copies_post(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    token = req.get_json()["token"]
    out.set(_report(fn="copies_post", token=token))
    return func.HttpResponse(
        json.dumps({"accepted": token}),
        status_code=202,
        headers={"Location": f"/api/copies/{token}"},
        mimetype="application/json",
    )


@app.route(route="items/{num:int}/{extra?}", methods=["GET"], auth_level="anonymous")
def items(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="secret", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("kaboom: internal detail that must not leak")


@app.route(route="echo", methods=["POST", "PUT"], auth_level=func.AuthLevel.ANONYMOUS)
async def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    log.info("echo called")
    return func.HttpResponse(
        req.get_body(),
        status_code=201,
        headers={"X-Invocation-Id": context.invocation_id, "X-Method": req.method},
        mimetype="application/json",
    )


@app.route(route="slow", auth_level=func.AuthLevel.ANONYMOUS)
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("seconds", "1")))
    return func.HttpResponse("slow done")


# -- queues -------------------------------------------------------------------------------------


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name=RESULTS, connection="AzureWebJobsStorage")
def work_sync(msg: func.QueueMessage, out: func.Out[str]) -> None:
    body = msg.get_body().decode()
    log.info("work_sync got %s (dequeue %s)", body, msg.dequeue_count)
    if body.startswith("fail"):
        # Report the attempt through the queue directly: a failed run's outputs are dropped.
        _send_direct(_report(fn="work_sync_attempt", body=body, dequeue_count=msg.dequeue_count))
        raise ValueError(f"asked to fail: {body}")
    out.set(
        _report(
            fn="work_sync",
            body=body,
            id=msg.id,
            dequeue_count=msg.dequeue_count,
            has_times=all((msg.insertion_time, msg.expiration_time, msg.time_next_visible)),
            pop_receipt=bool(msg.pop_receipt),
        )
    )


@app.queue_trigger(arg_name="msg", queue_name="work-async", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="$return", queue_name=RESULTS, connection="AzureWebJobsStorage")
async def work_async(msg: func.QueueMessage) -> str:
    body = msg.get_body().decode()
    await asyncio.sleep(0.01)
    return _report(fn="work_async", body=body, dequeue_count=msg.dequeue_count)


@app.function_name("shared_work")
@app.queue_trigger(arg_name="msg", queue_name="shared-work", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name=RESULTS, connection="AzureWebJobsStorage")
async def shared_work_handler(msg: func.QueueMessage, out: func.Out[str]) -> None:
    await asyncio.sleep(0.02)
    out.set(_report(fn="shared_work", body=msg.get_body().decode()))


def _send_direct(text: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    client = QueueClient.from_connection_string(
        os.environ["AzureWebJobsStorage"],  # noqa: SIM112 - the host's own setting name
        os.environ["RESULTS_QUEUE"],
        message_encode_policy=TextBase64EncodePolicy(),
    )
    with client:
        try:
            client.send_message(text)
        except ResourceNotFoundError:
            client.create_queue()
            client.send_message(text)


# -- timers -------------------------------------------------------------------------------------


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", use_monitor=False)
@app.queue_output(arg_name="out", queue_name=TIMER_RESULTS, connection="AzureWebJobsStorage")
def tick(timer: func.TimerRequest, out: func.Out[str]) -> None:
    out.set(_report(fn="tick", past_due=timer.past_due, at=time.time()))


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
@app.queue_output(arg_name="out", queue_name=TIMER_RESULTS, connection="AzureWebJobsStorage")
async def on_startup(timer: func.TimerRequest, out: func.Out[str]) -> None:
    out.set(_report(fn="on_startup", past_due=timer.past_due, kind=type(timer).__name__))


# -- Event Grid ---------------------------------------------------------------------------------


@app.event_grid_trigger(arg_name="event")
@app.queue_output(arg_name="out", queue_name=RESULTS, connection="AzureWebJobsStorage")
def on_event(event: func.EventGridEvent, out: func.Out[str]) -> None:
    data = event.get_json()
    if isinstance(data, dict) and data.get("fail"):
        raise RuntimeError(f"event {event.id} asked to fail")
    # CloudEvents arrive as func.CloudEvent (the library's own decoder decides, as in Azure).
    cloud = isinstance(event, func.CloudEvent)
    out.set(
        _report(
            fn="on_event",
            token=data.get("token") if isinstance(data, dict) else None,
            kind=type(event).__name__,
            id=event.id,
            type=event.type if cloud else event.event_type,
            source=event.source if cloud else event.topic,
            subject=event.subject,
            time=event.time if cloud else event.event_time,
        )
    )
