"""What each backend needs to know, as typed values (README, "Backends" and "Configuration").

``config.py`` builds one ``BackendOptions`` from ``Settings`` with the readers below, and
``open_backend`` hands each factory its own part: no backend sees ``Settings`` or imports
the config. Relative paths are made absolute here, against the config file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError

DEFAULT_UPSTREAM = "*"


@dataclass(frozen=True)
class LocalOptions:
    """For ``local:PATH``: the folder a relative PATH resolves against (the config's)."""

    root: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class HttpOptions:
    """For ``http(s)://``: the bearer token (ROUTES_TOKEN) and an absolute CA bundle file
    (ROUTES_CA_BUNDLE) trusted in place of the system's CAs."""

    token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None


@dataclass(frozen=True)
class CaddyOptions:
    """The ``caddy:`` section of ``.routes.yaml``, with secret files made absolute."""

    server: str = "routes"
    listen: tuple[str, ...] = (":8080",)
    tls_server: str = "routes-tls"
    tls_listen: tuple[str, ...] = (":8443",)
    upstreams: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> (cert, key)

    def upstream(self, service: str) -> str | None:
        return self.upstreams.get(service) or self.upstreams.get(DEFAULT_UPSTREAM)


@dataclass(frozen=True)
class AkkaOptions:
    """The ``akka:`` section of ``.routes.yaml`` (None: not set); the backend URL's query
    overrides each of them."""

    project: str | None = None
    region: str | None = None
    owner: str | None = None
    timeout: float | None = None  # seconds
    executable: str | None = None
    regional: tuple[str, ...] = ()  # route name globs created with --region <region>


@dataclass(frozen=True)
class BackendOptions:
    """The options of every backend; ``open_backend`` passes each factory its own."""

    local: LocalOptions = field(default_factory=LocalOptions)
    http: HttpOptions = field(default_factory=HttpOptions)
    caddy: CaddyOptions = field(default_factory=CaddyOptions)
    akka: AkkaOptions = field(default_factory=AkkaOptions)


CADDY_KEYS = frozenset(f.name for f in fields(CaddyOptions))
AKKA_KEYS = tuple(f.name for f in fields(AkkaOptions))


def seconds(value: object) -> float | None:
    """A positive number of seconds from ``30``, ``"30"`` or ``"30s"``; None if not one."""
    try:
        parsed = float(str(value).strip().removesuffix("s"))
    except ValueError:
        return None
    return parsed if parsed > 0 else None


def read_akka(raw: Mapping[str, Any]) -> AkkaOptions:
    """The ``akka:`` section as ``AkkaOptions``; ``ConfigError`` for what it cannot hold."""
    unknown = sorted(set(raw) - set(AKKA_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown `akka:` setting(s): {', '.join(unknown)}",
            hint=f"known: {', '.join(AKKA_KEYS)}",
        )
    timeout = raw.get("timeout")
    if timeout is not None and seconds(timeout) is None:
        raise ConfigError(
            f"`akka:` timeout {timeout!r} is not a positive number of seconds",
            hint="write e.g. timeout: 30",
        )

    def text(key: str) -> str | None:
        value = raw.get(key)
        return str(value) if value not in (None, "") else None

    regional = raw.get("regional") or ()
    if isinstance(regional, str):
        regional = (regional,)
    if not all(isinstance(glob, str) and glob for glob in regional):
        raise ConfigError(
            "`akka:` regional must be a route name glob or a list of them",
            hint='write e.g. regional: ["eu-*"]',
        )
    return AkkaOptions(
        project=text("project"),
        region=text("region"),
        owner=text("owner"),
        timeout=None if timeout is None else seconds(timeout),
        executable=text("executable"),
        regional=tuple(regional),
    )


def read_caddy(raw: Mapping[str, Any], root: Path, where: str = "caddy") -> CaddyOptions:
    """The ``caddy:`` section as ``CaddyOptions``; secret files resolve against ``root``.

    ``where`` names the section in errors (``FILE: caddy``).
    """
    unknown = sorted(set(raw) - CADDY_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s): {', '.join(unknown)}",
            hint=f"known caddy settings: {', '.join(sorted(CADDY_KEYS))}",
        )
    defaults = CaddyOptions()
    return CaddyOptions(
        server=_text(raw, "server", defaults.server, where),
        listen=_addresses(raw, "listen", defaults.listen, where),
        tls_server=_text(raw, "tls_server", defaults.tls_server, where),
        tls_listen=_addresses(raw, "tls_listen", defaults.tls_listen, where),
        upstreams=_upstreams(raw.get("upstreams") or {}, where),
        secrets=_secrets(raw.get("secrets") or {}, root, where),
    )


def _text(raw: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key} must be a non-empty string (got {value!r})")
    return value


def _addresses(
    raw: Mapping[str, Any], key: str, default: tuple[str, ...], where: str
) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}.{key} must be a list of listen addresses, e.g. [":8080"]')
    return tuple(value)


def _upstreams(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v for v in raw.values()):
        raise ConfigError(
            f"{where}.upstreams must map service names to dial addresses",
            hint="e.g. upstreams: {shopping-cart: 127.0.0.1:9001}",
        )
    return {str(k): v for k, v in raw.items()}


def _secrets(raw: Any, root: Path, where: str) -> dict[str, tuple[str, str]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.secrets must map secret names to PEM files")
    out: dict[str, tuple[str, str]] = {}
    for secret, value in raw.items():
        if isinstance(value, str):
            path = str((root / value).resolve())
            out[str(secret)] = (path, path)  # one PEM holding certificate (and key)
        elif isinstance(value, dict) and isinstance(value.get("cert"), str):
            cert = str((root / value["cert"]).resolve())
            key = str((root / str(value.get("key") or value["cert"])).resolve())
            out[str(secret)] = (cert, key)
        else:
            raise ConfigError(
                f"{where}.secrets.{secret} must be a PEM file or {{cert: FILE, key: FILE}}"
            )
    return out
