"""Where the ARM bearer token comes from: the managed identity (DefaultAzureCredential in
development), or a fixed token for the local emulator only. Tokens are cached until near expiry
and are never logged (their repr hides them)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.settings import ArmSettings


class TokenSource(Protocol):
    async def token(self) -> str: ...

    async def close(self) -> None: ...


@dataclass
class StaticToken:
    """A fixed bearer token, for the local ARM emulator only."""

    value: str = field(repr=False)

    async def token(self) -> str:
        return self.value

    async def close(self) -> None:
        return None


class AzureIdentityToken:
    """Managed identity / DefaultAzureCredential, with the token cached until near expiry."""

    def __init__(self, scope: str, managed_identity_client_id: str | None = None) -> None:
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

        self._scope = scope
        self._credential: Any = (
            ManagedIdentityCredential(client_id=managed_identity_client_id)
            if managed_identity_client_id
            else DefaultAzureCredential()
        )
        self._cached: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._cached is None or time.time() > self._expires_on - 300:
                access = await self._credential.get_token(self._scope)
                self._cached, self._expires_on = access.token, float(access.expires_on)
            return self._cached

    async def close(self) -> None:
        await self._credential.close()


def token_source_for(settings: ArmSettings) -> TokenSource:
    if settings.credential == "static":
        assert settings.static_token, "settings validation guarantees a static token"
        return StaticToken(settings.static_token)
    return AzureIdentityToken(settings.scope, settings.managed_identity_client_id)
