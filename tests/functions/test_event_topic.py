"""Optional Event Grid topic: every event goes to the events queue (Azurite) and, when a topic is
configured, to the topic (a real HTTP receiver on loopback standing in for Event Grid)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devstack.stack import Stack
from shared.errors import SettingsError, TopicPublishError
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType, encode, job_event
from shared.services import Services
from shared.settings import Settings
from shared.storage.topic import TopicPublisher
from tests.support import drain_queue, unique
from tests.unit.model.test_events import NOW, make_record


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


EVENT = encode(job_event(EventType.SUCCEEDED, make_record(), identity=EventIdentity(), time=NOW))
EVENT_ID = json.loads(EVENT)["id"]


async def test_publisher_posts_cloudevents_with_the_key(receiver: Receiver) -> None:
    publisher = TopicPublisher(receiver.url, "topic-key")
    try:
        await publisher.publish(EVENT)
    finally:
        await publisher.close()
    ((headers, body),) = receiver.requests
    assert headers["aeg-sas-key"] == "topic-key"
    assert headers["content-type"].startswith("application/cloudevents+json")
    assert json.loads(body)["id"] == EVENT_ID


async def test_publisher_failures_raise(receiver: Receiver) -> None:
    receiver.status = 500
    publisher = TopicPublisher(receiver.url, "k")
    try:
        with pytest.raises(TopicPublishError, match="500"):
            await publisher.publish(EVENT)
    finally:
        await publisher.close()
    unreachable = TopicPublisher("http://127.0.0.1:9/api/events", "k")
    try:
        with pytest.raises(TopicPublishError, match="unreachable"):
            await unreachable.publish(EVENT)
    finally:
        await unreachable.close()


@pytest.mark.parametrize(
    "endpoint", ["http://topic.westus-1.eventgrid.azure.net/api/events", "ftp://x/y", "not a url"]
)
def test_topic_endpoint_must_be_https(endpoint: str) -> None:
    with pytest.raises(SettingsError, match="EVENTGRID_TOPIC_ENDPOINT"):
        Settings.from_env({"EVENTGRID_TOPIC_ENDPOINT": endpoint})


async def test_events_go_to_the_queue_and_the_topic(
    stack: Stack, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = unique("topicevents")
    env = {
        **stack.app_settings(),
        "EVENTS_QUEUE": queue,
        "EVENTGRID_TOPIC_ENDPOINT": receiver.url,
        "EVENTGRID_TOPIC_KEY": "k",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    services = Services.create(Settings.from_env())
    try:
        await services.emit(EVENT)
    finally:
        await services.close()
    assert [json.loads(t)["id"] for t in drain_queue(stack.storage_connection, queue)] == [EVENT_ID]
    assert [json.loads(body)["id"] for _, body in receiver.requests] == [EVENT_ID]
