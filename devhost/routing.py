"""ASP.NET Core route templates, as the Functions host matches HTTP trigger routes.

Supported: literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults
`{name=value}`, catch-all `{*name}`, several parameters in one segment (`{a}.{b}`) and the
constraints int, long, bool, guid, alpha, double, float, decimal, datetime, minlength(n),
maxlength(n), length(n[,m]), min(n), max(n), range(a,b), regex(expr). Constraints are checked
after the pattern matches, and a failed constraint means "no match" (so 404), as in ASP.NET.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

from devhost.errors import StartupError

T = TypeVar("T")

_PARAM = re.compile(r"\{([^{}]+)\}")
_CONSTRAINT = re.compile(r"^(?P<name>[a-zA-Z]+)(?:\((?P<arg>.*)\))?$")


def _is_int(value: str, bits: int) -> bool:
    if not re.fullmatch(r"[+-]?\d+", value):
        return False
    return -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1)


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value))


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value.strip("{}()")) in (32, 36)


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _number(arg: str, constraint: str) -> int:
    try:
        return int(arg)
    except ValueError as exc:
        raise StartupError(f"route constraint '{constraint}' needs an integer argument") from exc


def build_constraint(text: str) -> Callable[[str], bool]:
    """A predicate for one constraint such as `int`, `minlength(3)` or `regex(^a+$)`."""
    match = _CONSTRAINT.match(text)
    if not match:
        raise StartupError(f"route constraint {text!r} is not valid")
    name, arg = match["name"].lower(), match["arg"]
    simple: dict[str, Callable[[str], bool]] = {
        "int": lambda v: _is_int(v, 32),
        "long": lambda v: _is_int(v, 64),
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _is_guid,
        "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
        "double": _is_float,
        "float": _is_float,
        "decimal": _is_float,
        "datetime": _is_datetime,
    }
    if name in simple and arg is None:
        return simple[name]
    if arg is None:
        raise StartupError(f"route constraint {text!r} is not supported by devhost")
    if name == "regex":
        pattern = re.compile(arg, re.IGNORECASE)
        return lambda v: pattern.search(v) is not None
    if name in ("minlength", "maxlength", "min", "max"):
        n = _number(arg, text)
        return {
            "minlength": lambda v: len(v) >= n,
            "maxlength": lambda v: len(v) <= n,
            "min": lambda v: _is_int(v, 64) and int(v) >= n,
            "max": lambda v: _is_int(v, 64) and int(v) <= n,
        }[name]
    if name in ("length", "range"):
        parts = [_number(p.strip(), text) for p in arg.split(",")]
        if name == "length" and len(parts) == 1:
            return lambda v: len(v) == parts[0]
        if len(parts) != 2:
            raise StartupError(f"route constraint {text!r} needs two arguments")
        low, high = parts
        if name == "length":
            return lambda v: low <= len(v) <= high
        return lambda v: _is_int(v, 64) and low <= int(v) <= high
    raise StartupError(f"route constraint {text!r} is not supported by devhost")


@dataclass
class _Param:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    constraints: list[Callable[[str], bool]] = field(default_factory=list)


def _unescape(text: str) -> str:
    return text.replace("\x00", "{").replace("\x01", "}")


def _parse_param(text: str, template: str) -> _Param:
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    default = None
    if "=" in text:
        text, default = text.split("=", 1)
    optional = text.endswith("?")
    text = text.rstrip("?")
    # Constraints are separated by ':' but regex(...) may contain ':' itself.
    pieces = re.findall(r"(?:[^:(]+(?:\([^)]*\))?)", text)
    name, constraints = pieces[0], pieces[1:]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StartupError(f"route {template!r}: invalid parameter name {name!r}")
    return _Param(name, optional, catch_all, default, [build_constraint(c) for c in constraints])


@dataclass
class RouteTemplate:
    """A compiled template; `match(path)` gives the route params or None."""

    template: str
    regex: re.Pattern[str]
    params: list[_Param]
    precedence: tuple[int, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        text = template.strip().strip("/")
        segments = text.split("/") if text else []
        parts: list[str] = []
        params: list[_Param] = []
        precedence: list[int] = []
        for index, segment in enumerate(segments):
            if not segment:
                raise StartupError(f"route {template!r} has an empty segment")
            # `{{` and `}}` are ASP.NET's escapes for literal braces (e.g. in regex constraints).
            escaped = segment.replace("{{", "\x00").replace("}}", "\x01")
            pieces = [_unescape(p) for p in _PARAM.split(escaped)]  # literal, param, ...
            literals, names = pieces[0::2], pieces[1::2]
            if not names:
                parts.append("/" + re.escape(literals[0]))
                precedence.append(1)
                continue
            last = index == len(segments) - 1
            seg_params = [_parse_param(n, template) for n in names]
            whole = len(seg_params) == 1 and not literals[0] and not literals[1]
            for param in seg_params:
                if (param.catch_all or param.optional or param.default) and not (last and whole):
                    raise StartupError(
                        f"route {template!r}: optional, default and catch-all parameters must "
                        "be a whole last segment"
                    )
            params.extend(seg_params)
            if whole:
                param = seg_params[0]
                body = "(?P<%s>.*)" if param.catch_all else "(?P<%s>[^/]+)"
                piece = "/" + body % param.name
                if param.catch_all or param.optional or param.default is not None:
                    piece = f"(?:{piece})?"
                parts.append(piece)
                precedence.append(
                    5 if param.catch_all else 4 if param.optional else 2 if param.constraints else 3
                )
            else:
                regex = "/"
                for literal, param in zip(literals, [*seg_params, None], strict=True):
                    regex += re.escape(literal)
                    if param is not None:
                        regex += f"(?P<{param.name}>[^/]+?)"
                parts.append(regex)
                precedence.append(2)
        names = [p.name.lower() for p in params]
        if len(set(names)) != len(names):
            raise StartupError(f"route {template!r} repeats a parameter name")
        pattern = re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)
        return cls(template, pattern, params, tuple(precedence))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path if path.startswith("/") else "/" + path)
        if not found:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            raw = found.group(param.name)
            if raw is None or raw == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            value = unquote(raw)
            if not all(check(value) for check in param.constraints):
                return None
            values[param.name] = value
        return values


@dataclass
class Route(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    target: T


class Router(Generic[T]):
    """Routes ordered by ASP.NET-like precedence: literals, then constrained, then loose."""

    def __init__(self, routes: Iterable[Route[T]] = ()) -> None:
        self._routes: list[Route[T]] = []
        for route in routes:
            self.add(route)

    def add(self, route: Route[T]) -> None:
        self._routes.append(route)
        self._routes.sort(key=lambda r: (r.template.precedence, r.template.template))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._routes)

    def match(self, path: str, method: str) -> tuple[Route[T], dict[str, str]] | None:
        """The first route matching path and method. A wrong method is "no route" (404)."""
        for route in self._routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            params = route.template.match(path)
            if params is not None:
                return route, params
        return None


def join_prefix(prefix: str, route: str) -> str:
    """`api` + `copies/{id}` -> `api/copies/{id}`; an empty prefix serves routes at the root."""
    parts = [p.strip("/") for p in (prefix, route) if p and p.strip("/")]
    return "/".join(parts)
