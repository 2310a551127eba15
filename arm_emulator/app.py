"""`create_app(config)`: the emulator as one ASGI app (ARM surface + `/_emulator` control plane)."""

from __future__ import annotations

from typing import Any

from .arm_routes import ArmApp
from .config import EmulatorConfig
from .control_routes import PREFIX, build_control_app
from .engine import Emulator
from .sas import PREFIX as SAS_PREFIX
from .sas import SasApp


class EmulatorApp:
    """Raw ASGI dispatch: `/_emulator/...` to the control plane, `/_sas/...` to the disk restore
    point exports (sas.py), everything else to ARM."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.emulator = Emulator(config)
        self._arm = ArmApp(self.emulator)
        self._control = build_control_app(self.emulator)
        self._sas = SasApp(self.emulator)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            path: str = scope["path"]
            if path == PREFIX or path.startswith(PREFIX + "/"):
                await self._control(scope, receive, send)
            elif path.startswith(SAS_PREFIX):
                await self._sas(scope, receive, send)
            else:
                await self._arm(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.emulator.ensure_background()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.emulator.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    return EmulatorApp(config or EmulatorConfig())
