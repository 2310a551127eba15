"""Bad-input drill: thousands of generated inputs on every way into the app.

    python -m drills bad-input [--scale 1.0] [--seed 1]

On a stack with two local hosts, after a few real copies have finished (so there are real jobs,
restore points and copies to aim at), it sends, seeded (`drills.generators`):

- HTTP: `POST /api/copies` bodies (wrong types, unknown/missing/duplicate keys, deep nesting,
  huge bodies, invalid UTF-8, malformed JSON, top-level scalars, secret-shaped values), query
  strings on `GET /api/copies` (bad values, unknown names, broken percent-encoding, cursors it
  never handed out), `GET|DELETE /api/copies/{id}`, `.../retry` and `.../runs` with bad ids,
  odd headers, and raw malformed HTTP/1.1 requests over a socket;
- Event Grid deliveries to the host webhook: the Event Grid schema and CloudEvents (single and
  batch), mutated, malformed, handshakes, non-events, and well-formed events for real restore
  points and copies;
- raw queue messages on every stage queue and its `-poison` queue (and a few left in
  `-poison-poison`, which the sweep drains): not base64, not JSON, base64 of random bytes, job
  messages mutated, well-formed for unknown jobs, on the wrong queue, replays of a real job's
  earlier steps, and messages claiming a step or run the job never reached.

It counts 5xx answers, host crashes, unaccounted queue messages (each must end as a job, or a
failed placeholder job, with a `copy.failed` event, or be dropped only when it repeats a
step the job already took) and secret-looking lines in the host logs. All must be zero.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import random
import socket
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from devstack.console import interrupt_on_signals
from drills import report
from drills.checks import Verdict, check_queues
from drills.generators import Gen, xml_safe
from drills.observe import (
    EVENT_TYPE,
    TERMINAL_STATES,
    EventCollector,
    events_by_job,
    host_5xx_lines,
    host_log_counts,
    secret_log_lines,
    wait_queues_drained,
)
from drills.stack import Api, DrillStack, drill_stack
from drills.world import request_seeded, seed_world, wait_all_terminal
from shared.model.events import EventType

STAGES = ("ensure-target", "start-copy", "poll", "finish", "rerun")


@dataclass
class BadInputOptions:
    scale: float = 1.0  # 1.0: about 2,400 inputs
    http_bodies: int = 700
    queries: int = 300
    ids: int = 100
    headers: int = 150
    raw_http: int = 40
    eventgrid: int = 500
    queue: int = 600
    seed: int = 1
    hosts: int = 2
    workdir: Path | None = None

    def n(self, count: int) -> int:
        return max(1, round(count * self.scale))


@dataclass
class Sent:
    """One raw queue message and what the app must make of it."""

    queue: str
    category: str
    text: str
    job_id: str | None = None  # a real job this message names (replays)
    expect: str = "failed-job"  # or "dropped-duplicate"


class Tally:
    def __init__(self) -> None:
        self.by_category: dict[str, Counter[str]] = defaultdict(Counter)
        self.server_errors: list[str] = []
        self.connection_errors: list[str] = []
        self.count = 0
        self.unsent = 0  # inputs httpx refused to put on the wire: never seen by the app

    def add(self, way: str, category: str, status: int | str, note: str = "") -> None:
        if str(status).startswith("not sent"):
            self.unsent += 1
            return
        self.count += 1
        self.by_category[f"{way}: {category}"][str(status)] += 1
        if isinstance(status, int) and status >= 500:
            self.server_errors.append(f"{way} / {category}: {status} {note[:120]}")
        if status == "connection error":
            self.connection_errors.append(f"{way} / {category}: {note[:120]}")


class Hosts:
    """Sends to the hosts in turn; notices (and repairs) a host that died."""

    def __init__(self, stack: DrillStack) -> None:
        self.stack = stack
        self.turn = 0
        self.crashes: list[str] = []
        self.client = httpx.Client(timeout=60, trust_env=False)

    def url(self) -> str:
        self.check()
        self.turn += 1
        return self.stack.hosts[self.turn % len(self.stack.hosts)].url

    def check(self) -> None:
        for index in self.stack.crashed_hosts():
            code = self.stack.hosts[index].process.popen.returncode  # type: ignore[union-attr]
            self.crashes.append(f"host {index} died (exit code {code})")
            self.stack.restart_host(index)

    def send(self, method: str, path: str, **kwargs: Any) -> int | str:
        try:
            return self.client.request(method, f"{self.url()}{path}", **kwargs).status_code
        except httpx.LocalProtocolError:
            return "not sent (the client refused it)"
        except httpx.HTTPError as exc:
            self.check()
            return (
                "connection error" if isinstance(exc, httpx.TransportError) else type(exc).__name__
            )


def raw_http_requests(key: str) -> list[tuple[str, bytes]]:
    """Malformed HTTP/1.1 on the wire (what httpx would refuse to send)."""
    head = f"Host: 127.0.0.1\r\nx-functions-key: {key}\r\n".encode()
    body = b'{"targetRegion": "westus"}'

    def get(target: bytes, extra: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
        return b"GET " + target + b" " + version + b"\r\n" + head + extra + b"\r\n"

    def post(extra: bytes, payload: bytes) -> bytes:
        return b"POST /api/copies HTTP/1.1\r\n" + head + extra + b"\r\n" + payload

    chunked = b"Transfer-Encoding: chunked\r\n"
    return [
        ("bad request line", b"GARBAGE\r\n\r\n"),
        ("HTTP/0.9", b"GET /api/copies\r\n\r\n"),
        ("unknown version", get(b"/api/copies", version=b"HTTP/9.9")),
        ("no Host", f"GET /api/copies HTTP/1.1\r\nx-functions-key: {key}\r\n\r\n".encode()),
        ("absolute URI", get(b"http://evil.example/api/copies")),
        ("invalid header name", get(b"/api/copies", b"Bad Header: x\r\n")),
        ("header without colon", get(b"/api/copies", b"nocolon\r\n")),
        ("two Content-Length", post(b"Content-Length: 5\r\nContent-Length: 26\r\n", body)),
        ("negative Content-Length", post(b"Content-Length: -1\r\n", body)),
        ("bad chunk size", post(chunked, b"ZZ\r\nabc\r\n0\r\n\r\n")),
        (
            "chunked and Content-Length",
            post(chunked + b"Content-Length: 3\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
        ),
        ("NUL in path", get(b"/api/copies/\x00")),
        ("100 KB path", get(b"/api/copies/" + b"a" * 100_000)),
        ("non-ASCII path", get("/api/copies/caf\u00e9".encode("latin-1"))),
        ("pipelined garbage", get(b"/api/copies") + b"\x16\x03\x01\x00"),
        ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40),
    ]


def send_raw(port: int, data: bytes) -> int | str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (TimeoutError, OSError):
            pass
    head = b"".join(chunks).split(b"\r\n", 1)[0].split()
    if len(head) >= 2 and head[1].isdigit():
        return int(head[1])
    return "closed without an answer"


def ledger_rows(connection: str) -> dict[str, dict[str, Any]]:
    with TableClient.from_connection_string(connection, "rpcopyjobs") as table:
        return {e["RowKey"]: dict(e) for e in table.list_entities()}


def message_template(row: dict[str, Any], stage: str, step: int, run: int) -> dict[str, Any]:
    """A well-formed job message for a real job (the camelCase JSON the app sends)."""
    return {
        "version": 1,
        "jobId": row["RowKey"],
        "run": run,
        "step": step,
        "stage": stage,
        "sourceRestorePointId": row["SourceRestorePointId"],
        "targetRegion": row["TargetRegion"],
        "targetResourceGroup": row["TargetResourceGroup"],
        "targetCollectionName": row["TargetCollectionName"],
        "targetRestorePointName": row["TargetRestorePointName"],
        "correlationId": row["CorrelationId"],
        "trigger": row["Trigger"],
        "requestedAt": row["RequestedAt"],
    }


def candidates(text: str) -> set[str]:
    """Job ids the app may have filed an unreadable message under: the sha256 of its text as
    it arrived or, base64-decoded, as the app read it; or the job id it names."""
    variants = {text, text.strip()}
    with contextlib.suppress(ValueError):
        variants.add(base64.b64decode("".join(text.split()), validate=True).decode("utf-8"))
    out = {hashlib.sha256(v.encode("utf-8", "replace")).hexdigest()[:32] for v in variants}
    for variant in variants:
        try:
            doc = json.loads(variant)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("jobId"), str):
            out.add(doc["jobId"])
    return out


def queue_inputs(
    gen: Gen, rng: random.Random, rows: dict[str, dict[str, Any]], count: int
) -> list[Sent]:
    real = [r for r in rows.values() if r.get("State") in TERMINAL_STATES and r.get("Step", 0) >= 2]
    sent: list[Sent] = []
    queues = [f"rpcopy-{s}" for s in STAGES] + [f"rpcopy-{s}-poison" for s in STAGES]
    for index in range(count):
        queue = queues[index % len(queues)]
        stage = queue.removeprefix("rpcopy-").removesuffix("-poison")
        row = rng.choice(real)
        step, run = int(row["Step"]), int(row["Run"])
        template = message_template(row, stage, step, run)
        roll = rng.random()
        if roll < 0.12:
            earlier = rng.randrange(0, step)
            doc = message_template(row, stage, earlier, run)
            sent.append(
                Sent(
                    queue,
                    "replay of a step the job took",
                    _b64(doc),
                    row["RowKey"],
                    "dropped-duplicate",
                )
            )
        elif roll < 0.16 and run > 1:
            doc = message_template(row, stage, rng.randrange(0, step), run - 1)
            sent.append(
                Sent(
                    queue, "replay of an earlier run", _b64(doc), row["RowKey"], "dropped-duplicate"
                )
            )
        elif roll < 0.20:
            doc = message_template(row, stage, step + rng.randrange(0, 5), run)
            sent.append(Sent(queue, "a step the job never reached", _b64(doc), row["RowKey"]))
        elif roll < 0.23:
            doc = message_template(row, stage, rng.randrange(0, 5), run + 1)
            sent.append(Sent(queue, "a run the job never had", _b64(doc), row["RowKey"]))
        elif roll < 0.28:
            other = rng.choice([s for s in STAGES if s != stage])
            doc = {**template, "jobId": _fresh(rng), "stage": other}
            sent.append(Sent(queue, "valid job message, wrong queue", _b64(doc)))
        else:
            category, text = gen.queue_text({**template, "jobId": _fresh(rng)})
            sent.append(Sent(queue, category, text))
    # Left where only the sweep looks (an older version's poisoned messages).
    for stage in STAGES:
        sent.append(
            Sent(
                f"rpcopy-{stage}-poison-poison",
                "left in -poison-poison",
                xml_safe(gen.text(80)) or "x",
            )
        )
    return sent


def _b64(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _fresh(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def send_queue_messages(connection: str, messages: list[Sent]) -> list[Sent]:
    """Send each message as it is; returns those Azure Storage refused (too large: the app
    never sees them, so they are not counted as inputs)."""
    refused: list[Sent] = []
    clients: dict[str, QueueClient] = {}
    try:
        for message in messages:
            client = clients.get(message.queue)
            if client is None:
                client = clients[message.queue] = QueueClient.from_connection_string(
                    connection, message.queue
                )
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
            try:
                client.send_message(message.text)
            except Exception:  # refused at send: not an input the app ever saw
                refused.append(message)
    finally:
        for client in clients.values():
            client.close()
    return refused


def account(
    messages: list[Sent],
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    events: list[dict[str, Any]],
    events_before: set[str],
) -> tuple[Counter[str], list[str]]:
    by_job = events_by_job(events)
    failed_event = {
        job
        for job, evs in by_job.items()
        if any(e["type"] == EVENT_TYPE(EventType.FAILED) for e in evs)
    }
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    for message in messages:
        if message.expect == "dropped-duplicate":
            assert message.job_id is not None
            old, new = before.get(message.job_id), after.get(message.job_id)
            fresh = [e for e in by_job.get(message.job_id, []) if e["id"] not in events_before]
            same = (
                old
                and new
                and (old["State"], old["Run"], old["Step"])
                == (new["State"], new["Run"], new["Step"])
            )
            if same and not fresh:
                outcomes["dropped as a duplicate of a step the job took"] += 1
            else:
                problems.append(
                    f"{message.category} on {message.queue} changed job {message.job_id}"
                )
            continue
        found = [
            job
            for job in candidates(message.text)
            if job in after
            and after[job].get("State") == "Failed"
            and job in failed_event
            and (message.job_id is None or job != message.job_id)
        ]
        if found:
            outcomes["failed (placeholder) job with its event"] += 1
            continue
        seen = [
            f"{job} {after[job].get('State')}"
            + (" with failed event" if job in failed_event else " without failed event")
            for job in candidates(message.text)
            if job in after
        ]
        problems.append(
            f"{message.category} on {message.queue}: no failed job with an event "
            f"(jobs named: {seen or 'none'}; text {message.text[:60]!r})"
        )
    return outcomes, problems


def run(options: BadInputOptions) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(options.seed)
    with (
        drill_stack(hosts=options.hosts, workdir=options.workdir, seed=options.seed) as stack,
        EventCollector(stack.storage_connection) as collector,
    ):
        world = seed_world(stack.arm_endpoint, policy_vms=2, manual_vms=3, seeded_per_vm=1)
        api = Api(stack)
        request_seeded(api, world)
        api.sweep()
        done, jobs = wait_all_terminal(api, 180, minimum=7, sweep_every=10)
        if not done:
            raise RuntimeError(f"the real copies did not finish: {[j['state'] for j in jobs]}")
        copies = [j["targetRestorePointId"] for j in jobs if j.get("targetRestorePointId")]
        secrets = stack.secrets()
        gen = Gen(
            rng,
            restore_points=[rp for c in world.seeded for rp in world.seeded[c]] + copies,
            collections=world.policy_collections + world.manual_collections,
            secrets=[secrets["function key"], secrets["emulator token"]],
        )
        hosts = Hosts(stack)
        tally = Tally()
        key = {"x-functions-key": stack.options.function_key}
        json_type = {"content-type": "application/json"}

        for _ in range(options.n(options.http_bodies)):
            category, body, ctype = gen.copy_body()
            headers = {**key, **({"content-type": ctype} if ctype else {})}
            tally.add(
                "POST /api/copies",
                category,
                hosts.send("POST", "/api/copies", content=body, headers=headers),
            )
        for _ in range(options.n(options.queries)):
            category, query = gen.query()
            tally.add(
                "GET /api/copies?", category, hosts.send("GET", f"/api/copies?{query}", headers=key)
            )
        # The routes of one job: read, cancel (with a bad deleteCopy now and then), retry, runs.
        job_routes = [
            ("GET", "", "GET /api/copies/{id}"),
            ("DELETE", "", "DELETE /api/copies/{id}"),
            ("POST", "/retry", "POST /api/copies/{id}/retry"),
            ("GET", "/runs", "GET /api/copies/{id}/runs"),
        ]
        for index in range(options.n(options.ids)):
            method, suffix, way = job_routes[index % len(job_routes)]
            path = "/api/copies/" + httpx.URL(gen.job_id()).raw_path.decode() + suffix
            if method == "DELETE" and index % 8 == 1:
                path += f"?deleteCopy={quote(gen.text(), safe='')}"
            tally.add(way, "bad ids", hosts.send(method, path, headers=key))
        for index in range(options.n(options.headers)):
            category, extra = gen.headers()
            if index % 2:
                body = json.dumps(
                    {"sourceRestorePointId": gen.mutated_id(), "targetRegion": "westus"}
                )
                status = hosts.send(
                    "POST", "/api/copies", content=body, headers={**key, **json_type, **extra}
                )
            else:
                status = hosts.send("GET", "/api/copies?pageSize=5", headers={**key, **extra})
            tally.add("headers", category, status)
        raw = raw_http_requests(stack.options.function_key)
        for index in range(options.n(options.raw_http)):
            category, data = raw[index % len(raw)]
            port = stack.hosts[index % len(stack.hosts)].port
            try:
                status: int | str = send_raw(port, data)
            except OSError as exc:
                status = f"socket error {type(exc).__name__}"
            hosts.check()
            tally.add("raw HTTP", category, status)

        webhook = "/runtime/webhooks/eventgrid?functionName=restore_point_created&code="
        webhook += stack.options.eventgrid_key
        for _ in range(options.n(options.eventgrid)):
            category, body, headers = gen.delivery()
            tally.add(
                "Event Grid", category, hosts.send("POST", webhook, content=body, headers=headers)
            )

        time.sleep(2)
        rows_before = ledger_rows(stack.storage_connection)
        events_before = {e["id"] for e in collector.drain_now(quiet=1.0)}
        messages = queue_inputs(gen, rng, rows_before, options.n(options.queue))
        refused = send_queue_messages(stack.storage_connection, messages)
        messages = [m for m in messages if m not in refused]
        tally.count += len(messages)
        # The sweep drains the -poison-poison queues into failed jobs; nothing else reads them.
        drained, depths, waited = wait_queues_drained(
            stack.storage_connection, timeout=300, sweep=api.sweep, sweep_every=10
        )
        # Copies that well-formed events asked for run to their end too.
        wait_all_terminal(api, 180, sweep_every=15)
        events = collector.drain_now(quiet=2.0)
        rows_after = ledger_rows(stack.storage_connection)
        hosts.check()
        outcomes, unaccounted = account(messages, rows_before, rows_after, events, events_before)
        leaks = secret_log_lines(stack.workdir, secrets)

        verdict = Verdict()
        verdict.merge(check_queues(drained, depths, waited))
        verdict.add("no 5xx answer", tally.server_errors + host_5xx_lines(stack.workdir))
        verdict.add("no host crash", hosts.crashes)
        verdict.add("no unaccounted queue message", unaccounted)
        verdict.add(
            "no secret-looking log line", [f"{x['file']}:{x['line']}: {x['what']}" for x in leaks]
        )
        verdict.add(
            "the real jobs are as they were",
            [
                f"{j['id']} was {j['state']}, now {rows_after.get(j['id'], {}).get('State')}"
                for j in jobs
                if rows_after.get(j["id"], {}).get("State") != j["state"]
            ],
        )
        verdict.figures.update(
            {
                "options": {k: v for k, v in asdict(options).items() if k != "workdir"},
                "inputs": tally.count,
                "inputsByWay": _by_way(tally, len(messages)),
                "answersByCategory": {k: dict(v) for k, v in sorted(tally.by_category.items())},
                "connectionErrors": tally.connection_errors[:20],
                "notSentClientRefused": tally.unsent,
                "queueMessages": {
                    "sent": len(messages),
                    "byCategory": dict(Counter(m.category for m in messages)),
                    "outcomes": dict(outcomes),
                    "refusedAtSend": len(refused),
                },
                "failedPlaceholderJobs": sum(
                    1 for r in rows_after.values() if r.get("SourceRestorePointId") == "unknown"
                ),
                "jobsAfter": dict(Counter(r.get("State") for r in rows_after.values())),
                "hostLogs": host_log_counts(stack.workdir),
                "secretLogLines": len(leaks),
            }
        )
        api.close()
    result = verdict.to_json()
    result["wallSeconds"] = round(time.monotonic() - started, 1)
    return result


def _by_way(tally: Tally, queue_messages: int) -> dict[str, int]:
    out: Counter[str] = Counter()
    for key, counts in tally.by_category.items():
        out[key.split(": ", 1)[0]] += sum(counts.values())
    out["queue messages"] = queue_messages
    return dict(out)


def render(result: dict[str, Any], record: dict[str, Any]) -> str:
    what = (
        f"{result['inputs']} generated inputs (seed {result['options']['seed']}) on a stack with "
        "two local hosts; see `drills/bad_input.py`, `drills/generators.py` and docs/drills.md."
    )
    lines = report.header("Bad-input drill", {**record, **result}, what)
    lines += report.verdict_lines(result)
    lines += ["", *report.table(["way in", "inputs"], result["inputsByWay"].items()), ""]
    lines += ["Answers by category (status: count):", ""]
    answers = [
        (k, ", ".join(f"{s}: {n}" for s, n in sorted(v.items())))
        for k, v in result["answersByCategory"].items()
    ]
    lines += report.table(["way in: category", "answers"], answers)
    queue = result["queueMessages"]
    lines += ["", "Queue messages by category:", ""]
    lines += report.table(["category", "sent"], sorted(queue["byCategory"].items()))
    lines += ["", "What became of them:", ""]
    lines += report.table(["outcome", "messages"], sorted(queue["outcomes"].items()))
    lines += [
        "",
        f"Failed placeholder jobs: {result['failedPlaceholderJobs']}; jobs in the ledger after: "
        f"{result['jobsAfter']}; host logs: {result['hostLogs']}; secret-looking log lines: "
        f"{result['secretLogLines']}.",
        "",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drills bad-input",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: about 2,400 inputs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    options = BadInputOptions(scale=args.scale, seed=args.seed, workdir=args.workdir)
    record = report.started_record("python -m drills bad-input")
    with interrupt_on_signals():
        result = {**record, **run(options)}
    markdown = render(result, record)
    paths = report.record("bad-input", result, markdown)
    print(markdown)
    print("results:", *paths)
    return 0 if result["ok"] else 1
