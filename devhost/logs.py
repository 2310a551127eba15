"""Logging to stdout tagged with function name and invocation id, with secrets masked.

The Python worker attaches user `logging` records to the current invocation; a context
variable does that here (it follows asyncio tasks and `contextvars.copy_context().run`
into the thread pool).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

HOST_LOGGER = "devhost"


@dataclass(frozen=True)
class InvocationTag:
    function_name: str
    invocation_id: str


current_invocation: ContextVar[InvocationTag | None] = ContextVar(
    "devhost_invocation", default=None
)

# Any AccountKey / SharedAccessSignature / code= value is masked even if we never saw it.
_GENERIC_SECRETS = re.compile(
    r"(?i)(AccountKey=|SharedAccessSignature=|SharedAccessKey=|sig=|[?&]code=)([^;&\s\"']+)"
)


class _InvocationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        tag = current_invocation.get()
        record.invocation = (
            f"[{tag.function_name} {tag.invocation_id}]" if tag is not None else "[host]"
        )
        return True


class RedactingFormatter(logging.Formatter):
    """Formats, then masks known secret values and anything shaped like a storage key."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._secrets: list[str] = []

    def add_secrets(self, values: Iterable[str]) -> None:
        self._secrets.extend(v for v in values if v and len(v) >= 6)
        self._secrets.sort(key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _GENERIC_SECRETS.sub(r"\1***", text)


_formatter = RedactingFormatter("%(asctime)s %(levelname)-7s %(invocation)s %(name)s: %(message)s")


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_InvocationFilter())
    handler.setFormatter(_formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The SDKs log every request (with URLs) at INFO; keep the output about the app.
    for noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never reach the output (keys, connection strings)."""
    _formatter.add_secrets(values)


def host_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{HOST_LOGGER}.{name}" if name else HOST_LOGGER)
