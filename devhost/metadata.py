"""Load `function_app.py` and turn its binding metadata into checked function specs.

The real worker indexes the same `app.get_functions()` data; we reject what it would reject
(parameters not matching bindings, two FunctionApp objects) and what devhost cannot serve.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.errors import StartupError
from devhost.settings import resolve_expression

HTTP_TRIGGER = "httpTrigger"
QUEUE_TRIGGER = "queueTrigger"
TIMER_TRIGGER = "timerTrigger"
EVENTGRID_TRIGGER = "eventGridTrigger"
SUPPORTED_TRIGGERS = (HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER, EVENTGRID_TRIGGER)
SUPPORTED_OUTPUTS = ("http", "queue")
RETURN = "$return"
CONTEXT_PARAM = "context"

# Keys that name things rather than hold values: never %-resolved.
_NOT_EXPRESSIONS = {"name", "type", "direction", "connection"}
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")


@dataclass(frozen=True)
class BindingSpec:
    """One binding as function.json would hold it, with `%SETTING%` values resolved."""

    name: str
    type: str
    direction: str
    raw: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


@dataclass
class FunctionSpec:
    name: str
    trigger: BindingSpec
    outputs: list[BindingSpec]
    user_function: Callable[..., Any]
    is_async: bool
    wants_context: bool
    disabled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @property
    def return_binding(self) -> BindingSpec | None:
        return next((b for b in self.outputs if b.name == RETURN), None)

    @property
    def named_outputs(self) -> list[BindingSpec]:
        return [b for b in self.outputs if b.name != RETURN]


def import_function_app(
    app_dir: Path, script_file: str = "function_app.py"
) -> func.FunctionRegister:
    """Import the app module from DIR and return its single FunctionApp instance."""
    module_name = Path(script_file).stem
    if not (app_dir / script_file).exists():
        raise StartupError(f"{app_dir / script_file} not found")
    sys.path.insert(0, str(app_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import error in user code is a startup failure
        raise StartupError(f"importing {script_file} failed: {type(exc).__name__}: {exc}") from exc
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if not apps:
        raise StartupError(f"{script_file} defines no func.FunctionApp instance")
    if len(apps) > 1:
        raise StartupError(f"{script_file} defines more than one func.FunctionApp instance")
    return apps[0]


def _resolve_values(raw: dict[str, Any], settings: Mapping[str, str], where: str) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in _NOT_EXPRESSIONS:
            value = resolve_expression(value, settings, where=f"{where}, '{key}'")
        resolved[key] = value
    return resolved


def _binding_specs(
    function: func.Function, name: str, settings: Mapping[str, str]
) -> list[BindingSpec]:
    specs = []
    # get_raw_bindings() is the JSON the worker sends to the host: enums already stringified.
    for text in function.get_raw_bindings():
        raw = json.loads(text)
        where = f"function '{name}', binding '{raw.get('name')}' ({raw.get('type')})"
        raw = _resolve_values(raw, settings, where)
        direction = str(raw.get("direction", "")).upper()
        # BindingDirection serialises as 0/1/2 or IN/OUT/INOUT depending on the library.
        direction = {"0": "IN", "1": "OUT", "2": "INOUT"}.get(direction, direction)
        specs.append(BindingSpec(str(raw["name"]), str(raw["type"]), direction, raw))
    return specs


def _check_queue_name(function: str, binding: BindingSpec) -> None:
    queue = str(binding.get("queueName") or "")
    if "{" in queue:
        raise StartupError(
            f"function '{function}': binding expression in queue name {queue!r} is not "
            "supported by devhost; use a fixed name or %SETTING%"
        )
    if not _QUEUE_NAME.match(queue):
        raise StartupError(
            f"function '{function}': invalid queue name {queue!r} (3-63 lowercase letters, "
            "digits and single hyphens)"
        )


def _check_parameters(spec: FunctionSpec, bindings: list[BindingSpec]) -> None:
    """The worker refuses a function whose parameters and bindings differ."""
    params = inspect.signature(spec.user_function).parameters
    declared = {b.name for b in bindings if b.name != RETURN}
    python = {p for p in params if p != CONTEXT_PARAM or p in declared}
    if python - declared:
        raise StartupError(
            f"function '{spec.name}': parameters {sorted(python - declared)} are declared in "
            "Python but not as bindings"
        )
    if declared - python:
        raise StartupError(
            f"function '{spec.name}': bindings {sorted(declared - python)} have no matching "
            "Python parameter"
        )


def build_spec(function: func.Function, settings: Mapping[str, str]) -> FunctionSpec:
    name = function.get_function_name() or function.get_user_function().__name__
    bindings = _binding_specs(function, name, settings)
    triggers = [b for b in bindings if b.type.endswith("Trigger")]
    if len(triggers) != 1:
        raise StartupError(f"function '{name}' must have exactly one trigger binding")
    trigger = triggers[0]
    if trigger.type not in SUPPORTED_TRIGGERS:
        raise StartupError(
            f"function '{name}': trigger type '{trigger.type}' is not supported by devhost "
            f"(supported: {', '.join(SUPPORTED_TRIGGERS)})"
        )
    outputs: list[BindingSpec] = []
    for binding in bindings:
        if binding is trigger:
            continue
        if binding.direction != "OUT" or binding.type not in SUPPORTED_OUTPUTS:
            raise StartupError(
                f"function '{name}': {binding.direction.lower()} binding '{binding.name}' of type "
                f"'{binding.type}' is not supported by devhost (supported outputs: "
                f"{', '.join(SUPPORTED_OUTPUTS)})"
            )
        if binding.type == "http" and trigger.type != HTTP_TRIGGER:
            raise StartupError(f"function '{name}': an http output needs an httpTrigger")
        outputs.append(binding)
    for binding in [trigger, *outputs]:
        if binding.type in (QUEUE_TRIGGER, "queue"):
            _check_queue_name(name, binding)
    user_function = function.get_user_function()
    params = inspect.signature(user_function).parameters
    spec = FunctionSpec(
        name=name,
        trigger=trigger,
        outputs=outputs,
        user_function=user_function,
        is_async=inspect.iscoroutinefunction(user_function),
        wants_context=CONTEXT_PARAM in params and CONTEXT_PARAM not in {b.name for b in bindings},
        # The real host's switch to turn one function off: AzureWebJobs.<name>.Disabled.
        disabled=str(settings.get(f"AzureWebJobs.{name}.Disabled", "")).lower() in ("1", "true"),
    )
    _check_parameters(spec, bindings)
    return spec


def load_functions(app_dir: Path, settings: Mapping[str, str]) -> list[FunctionSpec]:
    script = settings.get("PYTHON_SCRIPTFILE_NAME") or "function_app.py"
    app = import_function_app(app_dir, script)
    try:
        functions = app.get_functions()
    except Exception as exc:  # duplicate names and similar indexing errors
        raise StartupError(f"indexing {script} failed: {exc}") from exc
    if not functions:
        raise StartupError(f"{script} registers no functions")
    return [build_spec(f, settings) for f in functions]
