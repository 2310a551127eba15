"""Reading infra/ from tests: the Bicep files (parsed with pycep-parser, the parser checkov
uses), the JSON files the Bicep loads, and the app's own constants they must match."""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    from pycep import BicepParser
except ModuleNotFoundError as exc:  # pragma: no cover - a setup problem, said plainly
    raise ModuleNotFoundError(
        "pycep-parser is not installed in this venv: run `make setup` (requirements-dev.txt "
        "pins it, the same version checkov uses)"
    ) from exc

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def _parser() -> BicepParser:
    return BicepParser()  # builds its grammar once


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    """The pycep AST of one file (dict with parameters, variables, resources, modules...)."""
    return _parser().parse(text=path.read_text())


def load_json(relative: str) -> Any:
    return json.loads((INFRA / relative).read_text())


def first_module(*names: str) -> Any:
    """The first importable module of several (shared/ is being split into layer folders)."""
    errors = []
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            errors.append(str(exc))
    raise ModuleNotFoundError(f"none of {names} imports: {errors}")


def accessor(node: Any) -> str | None:
    """`a.b.c` for a pycep property-accessor node, else None."""
    if not isinstance(node, Mapping) or "operator" not in node:
        return None
    op = node["operator"]
    if op.get("type") != "property_accessor":
        return None
    first, rest = op["operands"]["operand_1"], op["operands"]["operand_2"]
    tail = rest if isinstance(rest, str) else accessor(rest)
    return f"{first}.{tail}" if isinstance(first, str) and tail else None


class Unresolved(ValueError):
    pass


def resolve(node: Any, names: Mapping[str, Any]) -> Any:
    """Evaluate the small subset of Bicep expressions our app settings use, with `names`
    giving the value of each parameter, variable or property path. pycep shows a string
    literal and an identifier the same way, so a bare string is an identifier only if it is
    one of `names`."""
    if isinstance(node, bool | int | float) or node is None:
        return node
    if isinstance(node, str):
        if node in names:
            return names[node]
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(m.group(1), names)), node)
    path = accessor(node)
    if path is not None:
        return _lookup(path, names)
    if isinstance(node, Mapping) and "function" in node:
        fn = node["function"]
        if fn["type"] == "join":
            items = resolve(fn["parameters"]["input_array"], names)
            return fn["parameters"]["delimiter"].join(items)
    raise Unresolved(f"cannot evaluate {node!r}")


def _lookup(path: str, names: Mapping[str, Any]) -> Any:
    if path not in names:
        raise Unresolved(f"no value for {path!r}; add it to the test's names")
    return names[path]


def settings_the_app_reads() -> set[str]:
    """Every app setting shared/settings.py reads: the same discovery as
    tests/unit/test_sample_settings.py (`env, "NAME"` in settings.py)."""
    source = (REPO / "shared" / "settings.py").read_text()
    return set(re.findall(r'env, "([A-Z][A-Z0-9_]+)"', source)) | {"STORAGE_CONNECTION"}
