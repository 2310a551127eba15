"""A faithful local stand-in for Azure Resource Manager's VM restore point API.

What Azurite is for Azure Storage: restore point collections, restore points, cross-region copy
with a time-scaled replication model, disk restore points, fault injection and Event Grid delivery,
all in memory. Start it with `python -m arm_emulator`, or in-process with `app.create_app`.
"""

from __future__ import annotations

__version__ = "1.0.0"

__all__ = ["__version__"]
