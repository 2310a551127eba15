"""Reading the start of a disk restore point through its read SAS (a blob URL, not ARM).

The SAS URL's host is a storage account, never the ARM endpoint, so this is a separate plain
HTTP client with no credentials at all: the ARM token can never reach the blob host. The URL is
a secret (the signature grants read access to a customer's disk): it is never logged, stored or
put in an error message; errors name only the scheme and host.

What "the read checks out" means, also against real Azure: the answer is the requested range
(206, or 200 for a blob no longer than it), exactly min(length, blob size) bytes, and the blob is
at least as large as the source disk (an exported disk is its bytes plus a VHD footer). The
digest of the bytes is recorded so a test can compare it with what the emulator served.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from shared.errors import ArmError

GIB = 1024**3
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
# Plain http only to a loopback host (the emulator); a real SAS is https.
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class SasRead:
    bytes_read: int
    sha256: str
    blob_size: int | None


class SasReadFailed(ArmError):
    """The SAS read did not give what a restorable disk restore point must give."""


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def check_sas_url(url: str) -> None:
    parts = urlsplit(url)
    loopback = (parts.hostname or "") in _LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise SasReadFailed(
            f"refused to read a SAS over {parts.scheme or 'no scheme'} ({_where(url)}): "
            "only https (http for a loopback emulator)",
            code="SasUrlRefused",
        )


async def read_start(
    url: str,
    length: int,
    *,
    min_blob_bytes: int | None = None,
    timeout_seconds: float = 60.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SasRead:
    """Read bytes [0, length) of the blob behind `url` and check them (see the module doc)."""
    check_sas_url(url)
    where = _where(url)
    # No auth, no cookies, no redirects: the SAS is the only credential, and only for its host.
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        follow_redirects=False,
        transport=transport,
    ) as client:
        try:
            response = await client.get(
                url, headers={"Range": f"bytes=0-{length - 1}", "x-ms-version": "2021-08-06"}
            )
        except httpx.HTTPError as exc:
            raise SasReadFailed(
                f"the SAS read from {where} failed to connect ({type(exc).__name__})",
                code="SasReadConnectionError",
                transient=True,
            ) from None
    if response.status_code not in (200, 206):
        raise SasReadFailed(
            f"the SAS read from {where} answered {response.status_code}",
            code="SasReadFailed",
            status=response.status_code,
            transient=response.status_code in (408, 429, 500, 502, 503, 504),
        )
    data = response.content
    blob_size: int | None = None
    match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
    if response.status_code == 206 and match is not None:
        if int(match.group(1)) != 0:
            raise SasReadFailed(
                f"the SAS read from {where} answered another range", code="SasBadRange"
            )
        blob_size = int(match.group(3)) if match.group(3) != "*" else None
    elif response.status_code == 200:
        blob_size = len(data)
    expected = length if blob_size is None else min(length, blob_size)
    if len(data) != expected:
        raise SasReadFailed(
            f"the SAS read from {where} gave {len(data)} bytes, not {expected}",
            code="SasShortRead",
        )
    if min_blob_bytes is not None and blob_size is not None and blob_size < min_blob_bytes:
        raise SasReadFailed(
            f"the exported disk is {blob_size} bytes, smaller than the source disk "
            f"({min_blob_bytes} bytes)",
            code="SasBlobTooSmall",
        )
    return SasRead(len(data), hashlib.sha256(data).hexdigest(), blob_size)
