"""Where the app is and its key: `--endpoint` / `--key`, else RPCOPY_ENDPOINT / RPCOPY_KEY, else a
profile (`--profile` or RPCOPY_PROFILE, else the file's `default`) from the profiles file.

The profiles file (`$RPCOPY_CONFIG`, else `$XDG_CONFIG_HOME/rpcopy/profiles.toml`, else
`~/.config/rpcopy/profiles.toml`):

    default = "prod"

    [profiles.prod]
    endpoint = "https://func-rpcopy-prod.azurewebsites.net"
    key = "<function key>"

    [profiles.local]
    endpoint = "http://127.0.0.1:7071"
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class ConfigProblem(Exception):
    """The command line cannot tell where the app is, or refuses how it was told."""


@dataclass(frozen=True)
class Target:
    endpoint: str  # the app's origin, without /api
    key: str | None
    profile: str | None = None


def profiles_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("RPCOPY_CONFIG"):
        return Path(env["RPCOPY_CONFIG"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "rpcopy" / "profiles.toml"


def load_profiles(path: Path) -> tuple[dict[str, dict[str, str]], str | None]:
    """The file's profiles and its default profile's name ({} and None if there is no file)."""
    if not path.is_file():
        return {}, None
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigProblem(f"{path}: not a valid TOML file ({exc})") from None
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigProblem(f"{path}: [profiles.NAME] tables with endpoint and key expected")
    default = document.get("default")
    return profiles, default if isinstance(default, str) else None


def normalize_endpoint(value: str) -> str:
    """The app's origin: `https://host[:port]` (a trailing `/` or `/api` is dropped)."""
    text = value.strip().rstrip("/")
    text = text.removesuffix("/api")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigProblem(
            f"endpoint {value!r} is not an http(s) URL such as https://my-app.azurewebsites.net"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigProblem(f"endpoint {value!r} must be an origin: no query, fragment or login")
    return text


def is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve(
    *,
    endpoint: str | None,
    key: str | None,
    profile: str | None,
    env: Mapping[str, str] | None = None,
) -> Target:
    env = os.environ if env is None else env
    chosen = profile or env.get("RPCOPY_PROFILE") or None
    path = profiles_path(env)
    profiles, default = load_profiles(path)
    name = chosen or default
    values: Mapping[str, str] = {}
    if name is not None:
        if name not in profiles:
            if chosen is not None:
                known = ", ".join(sorted(profiles)) or "none"
                raise ConfigProblem(f"no profile {name!r} in {path} (profiles: {known})")
        else:
            values = profiles[name]
    url = endpoint or env.get("RPCOPY_ENDPOINT") or values.get("endpoint")
    if not url:
        raise ConfigProblem(
            "where is the app? Give --endpoint URL, set RPCOPY_ENDPOINT, or add a profile to "
            f"{path}"
        )
    origin = normalize_endpoint(str(url))
    secret = key or env.get("RPCOPY_KEY") or values.get("key") or None
    if secret and origin.startswith("http://") and not is_loopback(origin):
        # A function key over plain HTTP to another machine would travel in the clear.
        raise ConfigProblem(f"refusing to send the function key to {origin} over plain http")
    return Target(origin, str(secret) if secret else None, name if values else None)
