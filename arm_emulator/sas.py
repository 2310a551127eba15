"""The data plane of a disk restore point export: the SAS URL that `beginGetAccess` hands out.

Azure serves an exported disk restore point as a page blob (a fixed VHD: the disk's bytes plus a
512-byte footer) on a storage host, readable with the SAS alone. The emulator serves it itself,
under `/_sas/{token}/abcd?...&sig=...`, so a client reads it over real HTTP:

- content is deterministic: block i (32 bytes) of a disk restore point is
  sha256(f"{disk restore point id, lower case}:{i}"), so a test can know what a reader must see
  (`expected_digest`, also `GET /_emulator/sas-content`);
- only ranged reads (`Range: bytes=a-b`, 206 + Content-Range) and HEAD; a read without a Range is
  refused (400) rather than streaming gigabytes;
- the SAS stops working when `endGetAccess` revoked it or its duration ran out (403
  AuthenticationFailed, as Blob storage answers);
- a request that carries an `Authorization` header is refused (400): a SAS read needs no token,
  and a client that sends its ARM token to the blob host has leaked it (a test aid, not Azure's
  documented behaviour);
- faults on the operation name `Sas_Read` (`http`, `delay`, `drop`) apply as on ARM routes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any
from urllib.parse import parse_qs

from .arm_routes import _drop
from .engine import Emulator
from .faults import ANSWER_KINDS
from .replication import GIB

PREFIX = "/_sas/"
OPERATION = "Sas_Read"
BLOCK = 32
VHD_FOOTER = 512
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_FAULT_KINDS = frozenset({"http", "delay", "drop"})


def blob_size(size_gb: int) -> int:
    return size_gb * GIB + VHD_FOOTER


def content(drp_id: str, start: int, end: int) -> bytes:
    """Bytes [start, end] (inclusive) of a disk restore point's export."""
    seed = drp_id.lower().encode()
    first, last = start // BLOCK, end // BLOCK
    blocks = b"".join(
        hashlib.sha256(seed + b":" + str(i).encode()).digest() for i in range(first, last + 1)
    )
    offset = start - first * BLOCK
    return blocks[offset : offset + (end - start + 1)]


def expected_digest(drp_id: str, size_gb: int, length: int) -> dict[str, Any]:
    """What a reader of the first `length` bytes must get (sha256, hex) and the blob's size."""
    total = blob_size(size_gb)
    read = min(length, total)
    return {
        "sha256": hashlib.sha256(content(drp_id, 0, read - 1)).hexdigest(),
        "bytes": read,
        "size": total,
    }


class SasApp:
    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        emu = self.emu
        emu.settle()
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status = 0
        fault: str | None = None
        try:
            fired = emu.faults.fire(OPERATION, method, path, _FAULT_KINDS, exclusive=ANSWER_KINDS)
            for rule in fired:
                if rule.kind == "delay":
                    await asyncio.sleep(float(rule.params.get("seconds", 0)))
            for rule in fired:
                if rule.kind == "drop":
                    fault = f"{rule.id}:drop"
                    await _drop(scope)
                    return
                if rule.kind == "http":
                    fault = f"{rule.id}:http"
                    status = int(rule.params.get("status", 500))
                    await _reply(send, status, _error("InjectedFault", "Injected fault."))
                    return
            status, extra, body = self._answer(scope, method, path, headers)
            await _reply(send, status, body, extra, head=method == "HEAD")
        finally:
            # The query (the signature) is never recorded.
            emu.requests.record(
                method=method,
                path=path.split("/abcd")[0],
                query="",
                operation=OPERATION,
                status=status or None,
                sim_time=emu.now(),
                duration_ms=(time.perf_counter() - started) * 1000,
                correlation_id="",
                fault=fault,
            )

    def _answer(
        self, scope: dict[str, Any], method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if "authorization" in headers:
            return 400, {}, _error("AuthorizationNotAllowed", "A SAS read carries no token.")
        if method not in ("GET", "HEAD"):
            return 405, {}, _error("UnsupportedHttpVerb", f"{method} is not supported.")
        token = path[len(PREFIX) :].split("/", 1)[0]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        entry = self.emu.store.sas_tokens.get(token)
        found = self.emu.store.drps.get(entry[0].lower()) if entry else None
        if entry is None or found is None or query.get("sig") != [entry[1]]:
            return 403, {}, _error("AuthenticationFailed", "Signature did not match.")
        _, drp = found
        if (
            drp.access_sas is None
            or f"/_sas/{token}/" not in drp.access_sas
            or drp.access_until is None
            or drp.access_until < self.emu.now()
        ):
            return 403, {}, _error("AuthenticationFailed", "Signature not valid in this period.")
        total = blob_size(drp.size_gb)
        if method == "HEAD":
            return 200, {"content-length": str(total)}, b""
        match = _RANGE.match(headers.get("range", "").strip())
        if match is None:
            return 400, {}, _error("RangeRequired", "The emulator serves ranged reads only.")
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else total - 1, total - 1)
        if start > end:
            return 416, {}, _error("InvalidRange", "The range specified is invalid.")
        return (
            206,
            {"content-range": f"bytes {start}-{end}/{total}"},
            content(drp.id, start, end),
        )


def _error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    ).encode()


async def _reply(
    send: Any, status: int, body: bytes, extra: dict[str, str] | None = None, *, head: bool = False
) -> None:
    headers = [(b"x-ms-blob-type", b"PageBlob")]
    extra = dict(extra or {})
    length = extra.pop("content-length", str(len(body)))
    headers.append((b"content-length", length.encode()))
    content_type = b"application/octet-stream" if status < 300 else b"application/xml"
    headers.append((b"content-type", content_type))
    headers.extend((k.encode(), v.encode()) for k, v in extra.items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
