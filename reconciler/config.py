"""``.routes.yaml`` + environment + flags -> ``Settings`` (DESIGN §9).

Precedence: flag > environment > config file > default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import ConfigError

CONFIG_NAME = ".routes.yaml"
DEFAULT_BACKEND = "local:.routes/state.db"
KNOWN_KEYS = {
    "backend",
    "descriptors",
    "owner",
    "prune",
    "protected",
    "scope",
    "parallelism",
    "max_deletes",
    "caddy",
    "akka",
    "journal",
}


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know, resolved. ``root`` is the config file's folder
    (or the current folder without one); relative paths resolve against it."""

    root: Path
    config_file: Path | None = None
    backend: str = DEFAULT_BACKEND
    descriptors: tuple[str, ...] = ()
    owner: str | None = None
    prune: bool = False
    protected: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    parallelism: int = 10
    max_deletes: int = 10
    token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None
    journal_dir: Path | None = None
    caddy: Mapping[str, Any] = field(default_factory=dict)
    akka: Mapping[str, Any] = field(default_factory=dict)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolve(self, path: str | Path) -> Path:
        """A path from the config or a flag, made absolute against ``root``."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def state_dir(self) -> Path:
        return self.root / ".routes"


def find_config(start: Path) -> Path | None:
    """The nearest ``.routes.yaml`` in ``start`` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    config: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    backend_flag: str | None = None,
) -> Settings:
    """Resolve settings from the config file, the environment and the global flags."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()
    config_path: Path | None
    explicit = config or env.get("ROUTES_CONFIG")
    if explicit:
        config_path = (here / explicit).resolve()
        if not config_path.is_file():
            raise ConfigError(
                f"config file {explicit} not found",
                hint="pass an existing file to --config / ROUTES_CONFIG, or remove the setting",
            )
    else:
        config_path = find_config(here)
    raw = _read_config(config_path) if config_path else {}
    root = config_path.parent if config_path else here
    settings = Settings(
        root=root,
        config_file=config_path,
        backend=str(raw.get("backend") or DEFAULT_BACKEND),
        descriptors=_str_tuple(raw, "descriptors", config_path),
        owner=str(raw["owner"]) if raw.get("owner") else None,
        prune=bool(raw.get("prune", False)),
        protected=_str_tuple(raw, "protected", config_path),
        scope=_str_tuple(raw, "scope", config_path),
        parallelism=_positive_int(raw, "parallelism", 10, config_path),
        max_deletes=_positive_int(raw, "max_deletes", 10, config_path, allow_zero=True),
        caddy=_mapping(raw, "caddy", config_path),
        akka=_mapping(raw, "akka", config_path),
    )
    if raw.get("journal"):
        settings = replace(settings, journal_dir=settings.resolve(str(raw["journal"])))
    return settings.with_overrides(
        backend=backend_flag or env.get("ROUTES_BACKEND") or None,
        token=env.get("ROUTES_TOKEN") or None,
        ca_bundle=env.get("ROUTES_CA_BUNDLE") or None,
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(
            f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}",
            hint="fix the syntax of the config file",
        ) from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: the config file nests too deeply to be a config") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1:1: the config file must be a mapping of settings")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s): {', '.join(unknown)}",
            hint=f"known settings: {', '.join(sorted(KNOWN_KEYS))}",
        )
    return raw


def _str_tuple(raw: Mapping[str, Any], key: str, path: Path | None) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{path}: `{key}` must be a string or a list of strings")


def _positive_int(
    raw: Mapping[str, Any], key: str, default: int, path: Path | None, *, allow_zero: bool = False
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise ConfigError(f"{path}: `{key}` must be a positive whole number (got {value!r})")
    return value


def _mapping(raw: Mapping[str, Any], key: str, path: Path | None) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: `{key}` must be a mapping")
    return value
