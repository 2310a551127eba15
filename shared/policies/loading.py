"""Loading the policy file: JSON with positions, pydantic validation, and every error mapped
back to its line, column and field."""

from __future__ import annotations

import json
import math
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ValidationError,
)

from shared.errors import PolicyError
from shared.policies.model import PolicyFile, PolicyProblem
from shared.policies.resolution import PolicySet
from shared.policies.tags import TagNames

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------
# Loading: JSON with positions, pydantic validation, errors mapped back to line and column


def load_policy_file(
    path: str | os.PathLike[str],
    *,
    extra_regions: frozenset[str] = frozenset(),
    tag_names: TagNames = TagNames(),
) -> PolicySet:
    """Read and validate the whole file: the complete PolicySet, or PolicyError."""
    source_name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        problem = f"cannot read the policy file: {exc.strerror or exc}"
        raise PolicyError(
            source_name, [PolicyProblem(source_name, None, None, None, problem)]
        ) from None
    try:
        # utf-8-sig: editors on Windows like to prepend a byte order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 text (bad byte at offset {exc.start})"
        raise PolicyError(
            source_name, [PolicyProblem(source_name, None, None, None, problem)]
        ) from None
    return parse_policy_text(
        text, source_name=source_name, extra_regions=extra_regions, tag_names=tag_names
    )


def parse_policy_text(
    text: str,
    *,
    source_name: str,
    extra_regions: frozenset[str] = frozenset(),
    tag_names: TagNames = TagNames(),
) -> PolicySet:
    """Validate a policy file's text; `source_name` (the file's path) prefixes every problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = PolicyProblem(
            source_name, exc.lineno, exc.colno, None, f"invalid JSON: {exc.msg}"
        )
        raise PolicyError(source_name, [problem]) from None
    except RecursionError:
        problem = PolicyProblem(source_name, None, None, None, "invalid JSON: nested too deeply")
        raise PolicyError(source_name, [problem]) from None

    try:
        located = _Locator(text)
    except RecursionError:  # json.loads managed; the walk adds a few frames per level
        problem = PolicyProblem(source_name, None, None, None, "invalid JSON: nested too deeply")
        raise PolicyError(source_name, [problem]) from None
    problems: list[tuple[int, PolicyProblem]] = []

    def add(offset: int, path: Path_, message: str) -> None:
        line, column = _line_column(text, offset)
        problems.append(
            (offset, PolicyProblem(source_name, line, column, _format_path(path), message))
        )

    for path in located.duplicate_keys:
        add(located.keys[path][-1], path, "duplicate key; JSON keeps only the last one")
    for path in located.non_finite:
        add(located.value_at(path), path, "NaN and Infinity are not valid JSON numbers")

    model: PolicyFile | None = None
    try:
        model = PolicyFile.model_validate(data, context={"extra_regions": extra_regions})
    except ValidationError as exc:
        for error in exc.errors():
            path, offset, message = _explain(error, located)
            add(offset, path, message)
    for offset_path, message in _cross_checks(data):
        add(located.value_at(offset_path), offset_path, message)

    if problems or model is None:
        problems.sort(key=lambda item: (item[0], item[1].path or ""))
        unique = list(dict.fromkeys(problem for _, problem in problems))
        raise PolicyError(source_name, unique)
    return PolicySet(model.policies, extra_regions, tag_names)


def _cross_checks(data: object) -> list[tuple[Path_, str]]:
    """Checks across list items, run on the raw data so they are reported even when another
    part of the file fails validation."""
    found: list[tuple[Path_, str]] = []
    policies = data.get("policies") if isinstance(data, dict) else None
    if not isinstance(policies, list):
        return found
    names: dict[str, int] = {}
    for index, policy in enumerate(policies):
        if not isinstance(policy, dict):
            continue
        name = policy.get("name")
        if isinstance(name, str):
            if name.lower() in names:
                found.append(
                    (
                        ("policies", index, "name"),
                        f"duplicate policy name {name!r} (also policies[{names[name.lower()]}]"
                        ".name; names are case-insensitive)",
                    )
                )
            else:
                names[name.lower()] = index
        targets = policy.get("targets")
        regions: dict[str, int] = {}
        for t_index, target in enumerate(targets if isinstance(targets, list) else []):
            region = target.get("region") if isinstance(target, dict) else None
            if not isinstance(region, str):
                continue
            key = region.strip().lower()
            if key in regions:
                found.append(
                    (
                        ("policies", index, "targets", t_index, "region"),
                        f"duplicate target region {key!r} (also targets[{regions[key]}]); "
                        "a policy copies to each region once",
                    )
                )
            else:
                regions[key] = t_index
        match = policy.get("match")
        ids = match.get("collectionIds") if isinstance(match, dict) else None
        seen_ids: dict[str, int] = {}
        for i_index, cid in enumerate(ids if isinstance(ids, list) else []):
            if not isinstance(cid, str):
                continue
            key = cid.rstrip("/").lower()  # ARM ids are case-insensitive
            if key in seen_ids:
                found.append(
                    (
                        ("policies", index, "match", "collectionIds", i_index),
                        f"duplicate collection id (also collectionIds[{seen_ids[key]}])",
                    )
                )
            else:
                seen_ids[key] = i_index
    return found


_TYPE_NAMES = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _explain(error: Mapping[str, Any], located: _Locator) -> tuple[Path_, int, str]:
    """A pydantic error as (field path, offset in the text, message for a person)."""
    loc: Path_ = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "policy":
        if ctx.get("field"):
            loc = (*loc, ctx["field"])
        return loc, located.value_at(loc), str(ctx["message"])
    if kind == "missing":
        return loc, located.value_at(loc), "required field is missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_fields(loc[:-1]))
        return loc, located.key_at(loc), f"unknown field (allowed here: {allowed})"
    if kind in _TYPE_NAMES:
        message = f"must be {_TYPE_NAMES[kind]}, not {_describe_json(value)}"
    elif kind == "greater_than_equal":
        message = f"must be at least {ctx['ge']:g}, not {_describe_json(value)}"
    elif kind == "greater_than":
        message = f"must be greater than {ctx['gt']:g}, not {_describe_json(value)}"
    elif kind == "finite_number":
        message = "must be a finite number"
    else:  # pragma: no cover - every constraint the models use is listed above
        message = str(error["msg"])
    return loc, located.value_at(loc), message


def _describe_json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "a list"
    return "an object"


def _allowed_fields(loc: Path_) -> list[str]:
    """camelCase field names of the model at `loc` (for 'unknown field' messages)."""
    current: Any = PolicyFile
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if args else Any
        elif isinstance(current, type) and issubclass(current, BaseModel):
            by_alias = {info.alias or name: info for name, info in current.model_fields.items()}
            current = by_alias[part].annotation if part in by_alias else Any
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip `X | None` and Annotated[...] down to X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or isinstance(annotation, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = members[0]
        else:
            return annotation


def _format_path(path: Path_) -> str:
    if not path:
        return "(top level)"
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _line_column(text: str, offset: int) -> tuple[int, int]:
    # Same convention as json.JSONDecodeError: 1-based line and character column.
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return line, column


class _Locator:
    """Start offset of every value (and object key) in a JSON text, by path.

    json.loads has already accepted the text, so this walk can assume it is well formed; it
    only records where things are, using the json module's own scanners for strings/scalars.
    """

    _WHITESPACE = " \t\n\r"

    def __init__(self, text: str) -> None:
        self._text = text
        self._decoder = json.JSONDecoder()
        self.values: dict[Path_, int] = {}
        self.keys: dict[Path_, list[int]] = {}
        self.duplicate_keys: list[Path_] = []
        self.non_finite: list[Path_] = []
        self._walk(0, ())

    def value_at(self, path: Path_) -> int:
        """Offset of the value at `path`, or of its nearest ancestor that exists in the file
        (a missing field points at the object that lacks it)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return 0

    def key_at(self, path: Path_) -> int:
        offsets = self.keys.get(path)
        return offsets[0] if offsets else self.value_at(path)

    def _skip(self, index: int) -> int:
        while index < len(self._text) and self._text[index] in self._WHITESPACE:
            index += 1
        return index

    def _walk(self, index: int, path: Path_) -> int:
        text = self._text
        index = self._skip(index)
        self.values[path] = index
        if text[index] == "{":
            index = self._skip(index + 1)
            if text[index] == "}":
                return index + 1
            while True:
                index = self._skip(index)
                key_start = index
                key, index = json.decoder.scanstring(text, index + 1)
                child = (*path, key)
                self.keys.setdefault(child, []).append(key_start)
                if len(self.keys[child]) == 2:
                    self.duplicate_keys.append(child)
                index = self._skip(index) + 1  # past ':'
                index = self._skip(self._walk(index, child))
                if text[index] == "}":
                    return index + 1
                index += 1  # past ','
        if text[index] == "[":
            index = self._skip(index + 1)
            if text[index] == "]":
                return index + 1
            position = 0
            while True:
                index = self._skip(self._walk(index, (*path, position)))
                position += 1
                if text[index] == "]":
                    return index + 1
                index += 1  # past ','
        value, end = self._decoder.raw_decode(text, index)
        if isinstance(value, float) and not math.isfinite(value):
            self.non_finite.append(path)
        return end
