"""shared/redaction.py: secrets never reach the logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from shared.redaction import RedactingFilter, install, redact

JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ.c2lnbmF0dXJl-_x"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SIG = "lRtU%2BIBNF6f1JKy0Po4EZdzd1RzLPo0V%2FT2UVs2vVCI%3D"
FKEY = "aGVsbG8td29ybGQtZnVuY3Rpb24ta2V5LTEyMzQ1Njc4OTA="

# (text with a secret, the secret that must be gone, what must remain)
_SECRETS = [
    (f"Authorization: Bearer {JWT}", JWT, "Authorization: Bearer ***"),
    (f"authorization: bearer {JWT}", JWT, "bearer ***"),
    (f"{{'Authorization': 'Bearer {JWT}'}}", JWT, "Bearer ***'"),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;"
        f"AccountKey={KEY};EndpointSuffix=core.windows.net",
        KEY,
        "AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net",
    ),
    (f"accountkey={KEY}", KEY, "accountkey=***"),
    (
        f"QueueEndpoint=https://a.queue.core.windows.net/;SharedAccessSignature=sv=2022&sig={SIG}",
        SIG,
        "SharedAccessSignature=***",
    ),
    (
        f"GET https://a.blob.core.windows.net/c/b?sv=2022-11-02&se=2025-01-01&sp=r&sig={SIG} 200",
        SIG,
        "sig=*** 200",
    ),
    (f"https://x.blob.core.windows.net/c?sig={SIG}&foo=bar", SIG, "?sig=***&foo=bar"),
    (f"url='https://h/api/copies?SIG={SIG}'", SIG, "SIG=***'"),
    (f"POST /api/copies?code={FKEY} -> 202", FKEY, "?code=*** -> 202"),
    (f"https://app.azurewebsites.net/api/copies?state=Failed&code={FKEY}", FKEY, "&code=***"),
    (f'{{"x-functions-key": "{FKEY}"}}', FKEY, '"x-functions-key": "***"'),
    (f"x-functions-key: {FKEY}", FKEY, "x-functions-key: ***"),
    (f"{{'X-Functions-Key': '{FKEY}', 'Accept': '*/*'}}", FKEY, "'Accept': '*/*'"),
    (f'{{"access_token": "{JWT}", "expires_in": 3599}}', JWT, '"expires_in": 3599'),
    (f"accessToken={JWT}", JWT, "accessToken=***"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), _SECRETS)
def test_secrets_are_removed(text: str, secret: str, kept: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "***" in cleaned
    assert kept in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "",
        "job 0123456789abcdef0123456789abcdef run 2 queued (eventgrid)",
        "ARM RestorePoints_Get GET -> 200 in 35 ms (request id 6b1c-42)",
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers"
        "/Microsoft.Compute/restorePointCollections/rpc1/restorePoints/rp1",
        "https://management.azure.com/subscriptions/x?api-version=2025-04-01&$expand=instanceView",
        "process exited with code=3",  # not a query parameter
        "copy of 3 disks finished; replication 100% (ReplicationState/succeeded)",
        "keys: AccountName=acct;EndpointSuffix=core.windows.net",
    ],
)
def test_ordinary_text_untouched(text: str) -> None:
    assert redact(text) == text


def test_redact_is_idempotent() -> None:
    once = redact(f"Bearer {JWT} AccountKey={KEY}; ?sig={SIG}")
    assert redact(once) == once


def make_record(msg: str, args: tuple[object, ...] | None = None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)


def test_filter_rewrites_record_with_args() -> None:
    record = make_record(
        "calling %s with %s (attempt %d)", (f"https://h/x?sig={SIG}", f"Bearer {JWT}", 2)
    )
    assert RedactingFilter().filter(record) is True
    assert record.args is None
    assert record.getMessage() == "calling https://h/x?sig=*** with Bearer *** (attempt 2)"


def test_filter_rewrites_record_with_mapping_args() -> None:
    record = make_record("%(header)s", ({"header": f"x-functions-key: {FKEY}"},))
    RedactingFilter().filter(record)
    assert FKEY not in record.getMessage()


def test_filter_leaves_clean_records_alone() -> None:
    args = ("westus", 3)
    record = make_record("copy to %s, %d disks", args)
    assert RedactingFilter().filter(record) is True
    assert record.msg == "copy to %s, %d disks"
    assert record.args == args


def test_filter_keeps_a_broken_format_string() -> None:
    record = make_record("%s %s", ("only one",))
    assert RedactingFilter().filter(record) is True
    assert record.msg == "%s %s"


def test_filter_handles_non_string_messages() -> None:
    record = make_record({"token": f"Bearer {JWT}"})  # type: ignore[arg-type]
    RedactingFilter().filter(record)
    assert JWT not in record.getMessage()


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.unit.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_handler_output_is_clean(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning("GET %s failed", f"https://acct.blob.core.windows.net/c?sv=1&sig={SIG}")
    assert SIG not in stream.getvalue()
    assert "sig=***" in stream.getvalue()


def test_exception_text_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"request to https://acct.queue.core.windows.net/q?sig={SIG} failed")
    except RuntimeError:
        logger.exception("sending failed")
    output = stream.getvalue()
    assert "sending failed" in output
    assert "RuntimeError" in output
    assert SIG not in output
    assert "sig=***" in output


def test_install_is_idempotent() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    before = list(root.filters)
    try:
        install()
        install()
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        assert sum(isinstance(f, RedactingFilter) for f in root.filters) == 1
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.removeHandler(handler)
        for f in list(root.filters):
            if f not in before:
                root.removeFilter(f)


def test_stack_info_is_redacted() -> None:
    record = make_record("where")
    record.stack_info = f'  File "x.py", line 1, in f\n    call("https://h/q?sig={SIG}")'
    RedactingFilter().filter(record)
    assert SIG not in record.stack_info
