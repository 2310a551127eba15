"""devhost: an offline stand-in for `func start` that runs a v2-model `function_app.py`.

It reads the app's own binding metadata (`app.get_functions()`) and `host.json`, and serves
HTTP, Storage queue, timer and Event Grid triggers with the real Functions host's semantics
against Azurite. See docs/devhost.md for what it supports and where it differs.
"""

__all__ = ["StartupError"]

from devhost.errors import StartupError
