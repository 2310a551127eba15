"""Counting the storage transactions the app's own queue and table clients send.

`TransactionCounter` is an azure-core pipeline policy placed after the retry policy, so it sees
every attempt that reaches the wire: what Azure Storage bills as a transaction. It only bumps a
dictionary entry per request (no I/O, no parsing beyond the URL path), cheap enough to stay on
everywhere. The benchmarks read the counts to show the work per completed copy
(`benchmarks/bench_pipeline.py`); `shared.storage.account` installs it on every client.
"""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import unquote, urlsplit

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

# One process-wide tally: every client of the process counts into it.
_counts: Counter[str] = Counter()
_lock = threading.Lock()


def transaction_kind(service: str, method: str, url: str) -> str:
    """A short name for one storage request: `table:GET entity`, `queue:POST messages`, ..."""
    path = unquote(urlsplit(url).path).rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if service == "table":
        if last == "$batch":
            what = "batch"
        elif last.startswith("Tables"):
            what = "table"
        elif last.endswith("()"):
            what = "query"
        elif "(" in last:
            what = "entity"  # read, replace, merge or delete one row
        else:
            what = "insert"  # POST to the table itself
    elif last == "messages":
        what = "messages"  # send (POST) or receive (GET)
    elif "/messages/" in path:
        what = "message"  # delete or update one message
    else:
        what = "queue"
    return f"{service}:{method.upper()} {what}"


class TransactionCounter(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Counts each request of one client (`service` is "queue" or "table")."""

    def __init__(self, service: str) -> None:
        self.service = service

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        http = request.http_request
        kind = transaction_kind(self.service, http.method, http.url)
        with _lock:
            _counts[kind] += 1


def snapshot() -> dict[str, int]:
    """The counts so far, by kind (a copy)."""
    with _lock:
        return dict(_counts)


def reset() -> None:
    with _lock:
        _counts.clear()
