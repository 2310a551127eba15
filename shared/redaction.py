"""A logging filter that scrubs secrets from every record, whoever logged them.

Tokens, storage keys, SAS signatures and function keys must never reach the logs, including
through a library's debug output or an exception message that quotes a URL.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"(?i)(AccountKey=)[^;\s]+"), r"\1***"),
    (re.compile(r"(?i)(SharedAccessSignature=)[^;\s]+"), r"\1***"),
    # SAS query parameters and function keys in URLs.
    (
        re.compile(r"(?i)([?&](?:sig|code|se|sv|sp|skoid|sktid|st|spr|srt|ss|sr)=)[^&\s\"']+"),
        r"\1***",
    ),
    (re.compile(r"(?i)(x-functions-key['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+"), r"\1***"),
    (re.compile(r"(?i)(\"?access_?token\"?\s*[:=]\s*\"?)[^\"\s,}]+"), r"\1***"),
    # A disk restore point's read SAS (beginGetAccess): the whole URL is the secret.
    (
        re.compile(
            r"(?i)(\"?(?:access|securityData|securityMetadata)SAS\"?\s*[:=]\s*\"?)[^\"\s,}]+"
        ),
        r"\1***",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not a secret
            message = None
        if message is not None:
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        # A traceback quotes exception messages (and URLs in them); formatters reuse exc_text.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install() -> None:
    """Attach the filter to the root logger's handlers and to records of every logger."""
    root = logging.getLogger()
    flt = RedactingFilter()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(flt)
    # Library loggers that would print request URLs or headers at DEBUG stay at WARNING.
    for name in ("azure.core.pipeline.policies.http_logging_policy", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
