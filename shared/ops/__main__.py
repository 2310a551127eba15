"""`python -m shared.ops`: the preflight from a shell, with the app's settings from the
environment (the function app's SSH console in Azure, or a laptop with `az login`).
Prints one line per check and exits 1 if any failed."""

from __future__ import annotations

import asyncio
import sys

from shared.ops.preflight import preflight
from shared.services import Services
from shared.settings import Settings


async def main() -> int:
    services = Services.create(Settings.from_env())
    try:
        checks = await preflight(services)
    finally:
        await services.close()
    for check in checks:
        mark = "PASS" if check.passed else "FAIL"
        where = f" [{check.scope}]" if check.scope else ""
        print(f"{mark}  {check.name}{where}: {check.detail}")
        if not check.passed and check.fix:
            print(f"      fix: {check.fix}")
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
