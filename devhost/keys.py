"""Function, master and Event Grid system keys, checked the way the real host checks them."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

FUNCTION_KEY_SETTING = "DEVHOST_FUNCTION_KEY"
MASTER_KEY_SETTING = "DEVHOST_MASTER_KEY"
EVENTGRID_KEY_SETTING = "DEVHOST_EVENTGRID_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"

ANONYMOUS = "anonymous"
FUNCTION = "function"
ADMIN = "admin"


@dataclass(frozen=True)
class Key:
    value: str
    setting: str
    generated: bool  # generated keys are printed at startup; keys from settings never are


def _key(settings: Mapping[str, str], setting: str) -> Key:
    given = settings.get(setting, "").strip()
    if given:
        return Key(given, setting, generated=False)
    return Key(secrets.token_urlsafe(32), setting, generated=True)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class KeyStore:
    def __init__(self, settings: Mapping[str, str]) -> None:
        self.function = _key(settings, FUNCTION_KEY_SETTING)
        self.master = _key(settings, MASTER_KEY_SETTING)
        self.eventgrid = _key(settings, EVENTGRID_KEY_SETTING)

    def all(self) -> list[Key]:
        return [self.function, self.master, self.eventgrid]

    def secrets(self) -> list[str]:
        return [k.value for k in self.all()]

    def allows(self, auth_level: str, given: str | None) -> bool:
        """ANONYMOUS: anyone. FUNCTION: the function key or the master key. ADMIN: master only."""
        level = auth_level.lower()
        if level == ANONYMOUS:
            return True
        if _same(given, self.master.value):
            return True
        return level == FUNCTION and _same(given, self.function.value)

    def allows_eventgrid(self, given: str | None) -> bool:
        """The webhook takes the `eventgrid_extension` system key (or the master key)."""
        return _same(given, self.eventgrid.value) or _same(given, self.master.value)


def provided_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The real host reads the `x-functions-key` header first, then `?code=`."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY) or None
