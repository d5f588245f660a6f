"""``.routes.yaml`` + environment + flags -> ``Settings``.

The file is checked against the packaged JSON Schema ``routes-config.schema.json`` (which
editors can use too). As for descriptors, ``conforms`` checks exactly what the schema says
(a test holds the two in agreement), so a valid file never pays for importing jsonschema;
a file it rejects gets every problem, located and in file order, in one ``ConfigError``.

Precedence: flag > environment > config file > default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.backends import options
from reconciler.descriptors import schema
from reconciler.descriptors.yaml_nodes import Document, locate, parse_documents, position
from reconciler.errors import ConfigError
from reconciler.regular_files import read_regular

CONFIG_NAME = ".routes.yaml"
CONFIG_SCHEMA = "routes-config.schema.json"
DEFAULT_BACKEND = "local:.routes/state.db"
WORDING = schema.Wording(document="the config", noun="setting", spell_values=True)
_HINT = (
    f"fix the config file as shown; every setting, its type and its default are described "
    f"in the JSON Schema schemas/{CONFIG_SCHEMA}"
)


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
    descriptor_cache: bool = True  # off with --no-cache or ROUTES_NO_CACHE=1

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolve(self, path: str | Path) -> Path:
        """A path from the config or a flag, made absolute against ``root``."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def state_dir(self) -> Path:
        return self.root / ".routes"

    def backend_options(self) -> options.BackendOptions:
        """What the backends need of these settings, typed; ``ConfigError`` if it cannot be."""
        ca_bundle = str(self.resolve(self.ca_bundle)) if self.ca_bundle else None
        caddy_where = f"{self.config_file}: caddy" if self.config_file else "caddy"
        return options.BackendOptions(
            local=options.LocalOptions(self.root),
            http=options.HttpOptions(token=self.token, ca_bundle=ca_bundle),
            caddy=options.read_caddy(self.caddy, self.root, caddy_where),
            akka=options.read_akka(self.akka),
        )


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
        if not config_path.exists():
            raise ConfigError(
                f"config file {explicit} not found",
                hint="pass an existing file to --config / ROUTES_CONFIG, or remove the setting",
            )
    else:
        config_path = find_config(here)
    raw = _read_config(config_path, _display(config_path, here)) if config_path else {}
    root = config_path.parent if config_path else here
    settings = Settings(
        root=root,
        config_file=config_path,
        backend=raw.get("backend") or DEFAULT_BACKEND,
        descriptors=_strings(raw.get("descriptors")),
        owner=raw.get("owner") or None,
        prune=bool(raw.get("prune")),
        protected=_strings(raw.get("protected")),
        scope=_strings(raw.get("scope")),
        parallelism=int(raw.get("parallelism", 10)),
        max_deletes=int(raw.get("max_deletes", 10)),
        caddy=raw.get("caddy") or {},
        akka=raw.get("akka") or {},
    )
    if raw.get("journal"):
        settings = replace(settings, journal_dir=settings.resolve(raw["journal"]))
    return settings.with_overrides(
        backend=backend_flag or env.get("ROUTES_BACKEND") or None,
        token=env.get("ROUTES_TOKEN") or None,
        ca_bundle=env.get("ROUTES_CA_BUNDLE") or None,
    )


def _read_config(path: Path, display: str) -> dict[str, Any]:
    """The settings in ``path``, valid against the schema; ``display`` names it in errors."""
    try:
        text = read_regular(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read config file: {exc.strerror}") from exc
    documents, problem = parse_documents(text)
    if problem is not None:
        message = problem.message
        if problem.code == "R003":
            message = "the config file nests too deeply to be a config"
        where = f"{display}:{problem.line}:{problem.column}"
        raise ConfigError(f"{where}: {message}", hint="fix the syntax of the config file")
    if len(documents) > 1:
        raise ConfigError(
            f"{display}:{documents[1].line}:1: a second YAML document: the config file holds "
            "one mapping of settings",
            hint="remove the `---` and what follows it, or merge the two",
        )
    if not documents or documents[0].value is None:
        return {}
    document = documents[0]
    if not isinstance(document.value, dict):
        line, column = position(document.root)
        raise ConfigError(
            f"{display}:{line}:{column}: the config file must be a mapping of settings",
            hint="write one `setting: value` per line, e.g. `backend: local`",
        )
    if not conforms(document.value):
        problems = _problems(document, display)
        if problems:
            raise _invalid(display, problems)
    return document.value


def _problems(document: Document, display: str) -> list[str]:
    """Every schema violation as ``FILE:LINE:COL: message``, in file order."""
    located = sorted(
        (locate(document.root, problem.path, key=problem.at_key), problem.message)
        for problem in schema.violations(document.value, CONFIG_SCHEMA, WORDING)
    )
    return [f"{display}:{line}:{column}: {message}" for (line, column), message in located]


def _invalid(display: str, problems: list[str]) -> ConfigError:
    if len(problems) == 1:
        return ConfigError(problems[0], hint=_HINT)
    listed = "\n".join(f"  {problem}" for problem in problems)
    return ConfigError(f"{display} has {len(problems)} problems:\n{listed}", hint=_HINT)


def _display(path: Path, here: Path) -> str:
    """The config file as the user knows it: relative to the current folder when inside."""
    try:
        return path.relative_to(here).as_posix()
    except ValueError:
        return str(path)


def _strings(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


# ------------------------------------------------------- the fast path: the schema, as code

_OWNER = re.compile(r"^[^\s/\x00-\x1f\x7f-\x9f]+(/[^\s/\x00-\x1f\x7f-\x9f]+)*(?![\s\S])")
_TIMEOUT = re.compile(r"^\s*([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)\s*s?\s*$")


def conforms(raw: Any) -> bool:
    """True exactly when ``raw`` is valid against the config schema."""
    return type(raw) is dict and _all_ok(raw, _SETTINGS)


def _all_ok(mapping: dict[Any, Any], checks: Mapping[str, Callable[[Any], bool]]) -> bool:
    return all(key in checks and checks[key](value) for key, value in mapping.items())


def _text(value: Any) -> bool:
    return value is None or type(value) is str


def _name(value: Any) -> bool:
    return type(value) is str and bool(value)


def _texts(value: Any) -> bool:
    return _text(value) or (type(value) is list and all(type(v) is str for v in value))


def _addresses(value: Any) -> bool:
    return type(value) is str or (type(value) is list and bool(value) and _texts(value))


def _whole(minimum: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        integral = type(value) is int or (type(value) is float and value.is_integer())
        return integral and value >= minimum

    return check


def _owner(value: Any) -> bool:
    return value is None or (type(value) is str and _OWNER.search(value) is not None)


def _timeout(value: Any) -> bool:
    if type(value) is str:
        return _TIMEOUT.search(value) is not None
    return type(value) in (int, float) and not value <= 0


def _upstreams(value: Any) -> bool:
    return value is None or (type(value) is dict and all(map(_name, value.values())))


def _secret(value: Any) -> bool:
    if type(value) is str:
        return True
    if type(value) is not dict or "cert" not in value or not value.keys() <= {"cert", "key"}:
        return False
    return type(value["cert"]) is str and _text(value.get("key"))


def _secrets(value: Any) -> bool:
    return value is None or (type(value) is dict and all(map(_secret, value.values())))


def _block(checks: Mapping[str, Callable[[Any], bool]]) -> Callable[[Any], bool]:
    return lambda value: value is None or (type(value) is dict and _all_ok(value, checks))


_CADDY = {
    "server": _name,
    "listen": _addresses,
    "tls_server": _name,
    "tls_listen": _addresses,
    "upstreams": _upstreams,
    "secrets": _secrets,
}
_AKKA = {
    "project": _text,
    "region": _text,
    "owner": _text,
    "timeout": _timeout,
    "executable": _text,
}
_SETTINGS: dict[str, Callable[[Any], bool]] = {
    "backend": _text,
    "descriptors": _texts,
    "owner": _owner,
    "prune": lambda value: value is None or type(value) is bool,
    "protected": _texts,
    "scope": _texts,
    "parallelism": _whole(1),
    "max_deletes": _whole(0),
    "journal": _text,
    "caddy": _block(_CADDY),
    "akka": _block(_AKKA),
}
