"""``.routes.yaml``: its JSON Schema, located errors with suggestions, and good files loading
as they always did (with flag > environment > config file > default)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import config
from reconciler.backends import options as backend_options
from reconciler.backends.akka import backend as akka
from reconciler.config import CONFIG_SCHEMA, DEFAULT_BACKEND, load_settings
from reconciler.descriptors import schema
from reconciler.errors import ConfigError

ROOT = Path(__file__).parent.parent


def _load(folder: Path, text: str, environ: dict[str, str] | None = None) -> config.Settings:
    (folder / ".routes.yaml").write_text(text, encoding="utf-8")
    return load_settings(cwd=folder, environ=environ or {})


def _refused(folder: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(folder, text)
    return caught.value


# (config text, where the error points, fragments the message must hold)
BAD = {
    "prune-quoted": ('descriptors: [routes]\nprune: "false"\n', ".routes.yaml:2:8:",
                     ['`prune` must be true or false (got the string "false")',
                      "remove the quotes"]),
    "owner-number": ("owner: 123\n", ".routes.yaml:1:8:",
                     ["`owner` must be a string (got the number 123)", "quote it"]),
    "owner-with-spaces": ("owner: acme shop\n", ".routes.yaml:1:8:",
                          ["`owner` must be `owner/repo` or a single name, without spaces"]),
    "unknown-near-miss": ("backend: local\nprnue: true\n", ".routes.yaml:2:1:",
                          ["unknown setting `prnue` (did you mean `prune`?)"]),
    "unknown-truncated": ("descriptors: [routes]\n\nprun: true\n", ".routes.yaml:3:1:",
                          ["unknown setting `prun` (did you mean `prune`?)"]),
    "unknown-far-off": ("colour: red\n", ".routes.yaml:1:1:",
                        ["unknown setting `colour`: remove it (allowed: akka, backend, caddy"]),
    "unknown-in-caddy": ('caddy:\n  server: routes\n  lisen: [":8080"]\n', ".routes.yaml:3:3:",
                         ["unknown setting `lisen` in `caddy` (did you mean `listen`?)"]),
    "caddy-listen-empty": ("caddy: {listen: []}\n", ".routes.yaml:1:17:", ["must not be empty"]),
    "secret-without-cert": ("caddy:\n  secrets:\n    ca: {key: ca.key}\n", ".routes.yaml:3:9:",
                            ["caddy.secrets.ca is missing `cert`: add it"]),
    "parallelism-zero": ("parallelism: 0\n", ".routes.yaml:1:14:",
                         ["`parallelism` must be at least 1 (got the number 0)"]),
    "akka-wrong-type": ("akka:\n  project: [shop]\n", ".routes.yaml:2:12:",
                        ["`akka.project` must be a string (got a list)"]),
    "akka-timeout-zero": ("akka: {timeout: 0}\n", ".routes.yaml:1:17:",
                          ["`akka.timeout` must be more than 0 (got the number 0)"]),
    "yaml-syntax": ("backend: [local\n", ".routes.yaml:2:1:", ["YAML syntax error"]),
    "not-a-mapping": ("- local\n", ".routes.yaml:1:1:", ["must be a mapping of settings"]),
}  # fmt: skip


@pytest.mark.parametrize(("text", "where", "fragments"), BAD.values(), ids=BAD.keys())
def test_a_bad_config_is_a_located_error_that_says_what_to_do(
    tmp_path: Path, text: str, where: str, fragments: list[str]
) -> None:
    error = _refused(tmp_path, text)
    assert error.message.startswith(where), error.message
    for fragment in fragments:
        assert fragment in error.message
    assert error.hint


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    error = _refused(
        tmp_path,
        'owner: 123\nprune: "false"\ncaddy:\n  lisen: x\nparallelism: 0\nakka: {region: 1}\n',
    )
    first, *rest = error.message.splitlines()
    assert first == ".routes.yaml has 5 problems:"
    assert [line.split(": ", 1)[0].strip() for line in rest] == [
        ".routes.yaml:1:8",
        ".routes.yaml:2:8",
        ".routes.yaml:4:3",
        ".routes.yaml:5:14",
        ".routes.yaml:6:16",
    ]
    assert CONFIG_SCHEMA in (error.hint or "")


def test_the_error_names_the_file_as_given(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "routes.yaml").write_text("prnue: true\n")
    with pytest.raises(ConfigError, match=r"^ci/routes\.yaml:1:1: unknown setting"):
        load_settings("ci/routes.yaml", cwd=tmp_path, environ={})


# (config text, the settings it must load as)
GOOD: dict[str, tuple[str, dict[str, Any]]] = {
    "no-settings": ("", {"backend": DEFAULT_BACKEND, "descriptors": (), "prune": False}),
    "comments-only": ("# nothing yet\n", {"backend": DEFAULT_BACKEND, "parallelism": 10}),
    "design-example": (
        "backend: local\ndescriptors: [routes]\nowner: acme/gitops\nprune: false\n"
        'protected: ["prod-*"]\nscope: ["shop-*"]\nparallelism: 10\n',
        {"backend": "local", "descriptors": ("routes",), "owner": "acme/gitops", "prune": False,
         "protected": ("prod-*",), "scope": ("shop-*",), "parallelism": 10}),
    "strings-for-lists": (
        "descriptors: routes\nprotected: prod-*\nscope: shop-*\nprune: true\nmax_deletes: 0\n",
        {"descriptors": ("routes",), "protected": ("prod-*",), "scope": ("shop-*",),
         "prune": True, "max_deletes": 0}),
    "empty-values-take-defaults": (
        "backend:\nowner:\nprune:\nprotected:\ncaddy:\nakka:\njournal:\n",
        {"backend": DEFAULT_BACKEND, "owner": None, "prune": False, "caddy": {}, "akka": {}}),
    "folder-name-owner": ("owner: gitops\n", {"owner": "gitops"}),
    "backend-blocks": (
        "backend: caddy+http://127.0.0.1:2019\ncaddy:\n  listen: ':8080'\n"
        "  upstreams: {cart: 127.0.0.1:9001}\n  secrets: {ca: ca.pem, tls: {cert: a.crt}}\n"
        "akka: {project: shop, timeout: 30s}\n",
        {"caddy": {"listen": ":8080", "upstreams": {"cart": "127.0.0.1:9001"},
                   "secrets": {"ca": "ca.pem", "tls": {"cert": "a.crt"}}},
         "akka": {"project": "shop", "timeout": "30s"}}),
}  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), GOOD.values(), ids=GOOD.keys())
def test_a_good_config_loads_as_before(tmp_path: Path, text: str, expected: dict[str, Any]) -> None:
    loaded = _load(tmp_path, text)
    assert {key: getattr(loaded, key) for key in expected} == expected
    assert loaded.root == tmp_path.resolve()


def test_journal_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".routes.yaml").write_text("journal: logs/journal\n")
    loaded = load_settings(cwd=tmp_path / "sub", environ={})
    assert loaded.journal_dir == tmp_path.resolve() / "logs" / "journal"


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    text = "backend: local:file.db\n"
    env = {"ROUTES_BACKEND": "local:env.db", "ROUTES_TOKEN": "t"}
    assert _load(tmp_path, text).backend == "local:file.db"
    assert _load(tmp_path, text, env).backend == "local:env.db"
    assert _load(tmp_path, text, env).token == "t"
    flagged = load_settings(cwd=tmp_path, environ=env, backend_flag="local:flag.db")
    assert flagged.backend == "local:flag.db"
    (tmp_path / "other.yaml").write_text("owner: acme/other\n")
    chosen = load_settings(cwd=tmp_path, environ={"ROUTES_CONFIG": "other.yaml"})
    assert chosen.owner == "acme/other"


_UNTRUSTED = {config.UNTRUSTED_ENV: "1"}


def test_in_the_action_the_config_cannot_choose_the_backend(tmp_path: Path) -> None:
    text = "backend: http://127.0.0.1:38111\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=_write(tmp_path, text), environ=_UNTRUSTED, backend_flag="local")
    assert caught.value.message.startswith('.routes.yaml: `backend: "http://127.0.0.1:38111"`')
    assert "from its `backend` input only" in caught.value.message
    # Without a backend given, the config's is not used either (validate needs none).
    assert _load(tmp_path, text, _UNTRUSTED).backend == DEFAULT_BACKEND
    same = load_settings(cwd=tmp_path, environ=_UNTRUSTED, backend_flag="http://127.0.0.1:38111/")
    assert same.backend == "http://127.0.0.1:38111/"
    assert _load(tmp_path, text).backend == "http://127.0.0.1:38111"  # outside the Action


def test_in_the_action_the_config_cannot_name_a_program(tmp_path: Path) -> None:
    text = "akka: {executable: ./tools/akka, project: shop}\n"
    with pytest.raises(ConfigError, match=r"`akka\.executable` names a program to run"):
        _load(tmp_path, text, _UNTRUSTED)
    assert _load(tmp_path, text).akka["executable"] == "./tools/akka"  # outside the Action


def _write(folder: Path, text: str) -> Path:
    (folder / ".routes.yaml").write_text(text, encoding="utf-8")
    return folder


def test_cli_reports_a_bad_config_with_the_config_error_exit_code(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text('descriptors: [routes]\nprnue: "false"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTES_")}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "--config", "bad.yaml", "plan"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "NO_COLOR": "1"},
        timeout=60,
    )
    assert proc.returncode == ConfigError.exit_code
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(
        "Error: bad.yaml:2:1: unknown setting `prnue` (did you mean `prune`?)\nHint: "
    ), proc.stderr


@pytest.mark.timeout(20)
def test_a_fifo_or_folder_as_the_config_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    for name, kind in (("fifo.yaml", "a FIFO"), (".", "a folder")):
        with pytest.raises(ConfigError, match=f"cannot read config file: {kind}, not a file"):
            load_settings(config=str(tmp_path / name), environ={})


def test_a_good_config_never_imports_jsonschema(tmp_path: Path) -> None:
    (tmp_path / ".routes.yaml").write_text(
        "backend: caddy+http://127.0.0.1:2019\nowner: acme/shop\ncaddy: {upstreams: {a: b:1}}\n"
        "akka: {timeout: 30}\nparallelism: 4\n"
    )
    probe = (
        "import sys; from reconciler.config import load_settings; "
        "load_settings(environ={}); print('jsonschema' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"  # the fast path: ~50 ms saved on every command


# ---------------------------------------------------------------------------- the schema


def test_schema_is_2020_12_closed_described_and_shipped() -> None:
    document = schema.load_schema(CONFIG_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"].endswith("2020-12/schema") and document["$id"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, node
                for prop in node["properties"].values():
                    assert "description" in prop or "$ref" in prop, prop
            for value in node.values():
                walk(value)

    walk(document)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert any(
        fnmatch(f"schemas/{CONFIG_SCHEMA}", g) for g in package_data["package-data"]["reconciler"]
    )


def test_schema_has_exactly_the_keys_the_code_reads() -> None:
    document = schema.load_schema(CONFIG_SCHEMA)
    blocks = document["$defs"]
    assert set(document["properties"]) == set(config._SETTINGS)
    assert set(blocks["caddy"]["properties"]) == backend_options.CADDY_KEYS == set(config._CADDY)
    assert set(blocks["akka"]["properties"]) == set(akka.TARGET_KEYS) == set(config._AKKA)
    assert document["properties"]["owner"]["pattern"] == config._OWNER.pattern
    assert blocks["akka"]["properties"]["timeout"]["pattern"] == config._TIMEOUT.pattern


VALID: dict[str, Any] = {
    "backend": "local",
    "descriptors": ["routes"],
    "owner": "acme/shop",
    "prune": False,
    "protected": ["prod-*"],
    "scope": "shop-*",
    "parallelism": 10,
    "max_deletes": 0,
    "journal": ".routes/journal",
    "caddy": {
        "server": "routes",
        "listen": [":8080"],
        "tls_server": "routes-tls",
        "tls_listen": ":8443",
        "upstreams": {"cart": "127.0.0.1:9001"},
        "secrets": {"ca": "ca.pem", "tls": {"cert": "a.crt", "key": "a.key"}},
    },
    "akka": {"project": "p", "region": "r", "owner": "o", "timeout": "30s", "executable": "akka"},
}
ODD_VALUES = st.sampled_from(
    [None, "", "x", "a b", "a/b", "/a", "a\n", "30", "0s", " 1.5 s", 0, 1, -1, 2.0, 0.5,
     float("nan"), float("inf"), True, False, [], [""], ["x", 1], {}, {"cert": "c"},
     {"key": "k"}, {"cert": 1}, {"cert": "c", "x": 1}, {"lisen": 1}]
)  # fmt: skip


def _mutated(document: Any, path: list[str], value: Any, drop: bool) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else {}
    head, *rest = path
    if drop and not rest:
        copy.pop(head, None)
    else:
        copy[head] = _mutated(copy.get(head, {}), rest, value, drop)
    return copy


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    out = [list(prefix)]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    return out


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fast_path_agrees_with_the_schema(data: st.DataObject) -> None:
    document: Any = VALID
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [*_paths(document), ["typo"], ["caddy", "typo"]]
        path = data.draw(st.sampled_from(paths))
        drop = bool(path) and data.draw(st.booleans())
        document = _mutated(document, path, data.draw(ODD_VALUES), drop)
    valid = schema.validator(CONFIG_SCHEMA).is_valid(document)
    assert config.conforms(document) == valid
