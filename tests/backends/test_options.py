"""Typed backend options: built from ``Settings`` by config, handed to each backend factory
by ``open_backend`` (no backend sees ``Settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.backends import open_backend
from reconciler.backends.akka.backend import AkkaBackend, AkkaTarget
from reconciler.backends.akka.surface import KALIX
from reconciler.backends.caddy.backend import CaddyBackend
from reconciler.backends.http.client import HttpBackend
from reconciler.backends.local import LocalBackend
from reconciler.backends.options import (
    AkkaOptions,
    BackendOptions,
    CaddyOptions,
    HttpOptions,
    LocalOptions,
    read_akka,
    read_caddy,
    seconds,
)
from reconciler.config import Settings, load_settings
from reconciler.errors import ConfigError, UsageError

TOKEN = "s3cret-token-value"


def test_settings_without_backend_config_give_the_defaults(tmp_path: Path) -> None:
    assert Settings(root=tmp_path).backend_options() == BackendOptions(
        local=LocalOptions(tmp_path),
        http=HttpOptions(),
        caddy=CaddyOptions(),
        akka=AkkaOptions(),
    )


def test_the_config_file_and_environment_become_typed_options(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".routes.yaml").write_text(
        "caddy:\n"
        "  server: edge\n"
        "  listen: ':9090'\n"
        "  upstreams: {cart: '127.0.0.1:9001'}\n"
        "  secrets: {ca: certs/ca.pem, site: {cert: c.pem, key: k.pem}}\n"
        "akka:\n"
        "  project: shop\n"
        "  timeout: 45s\n",
        encoding="utf-8",
    )
    environ = {"ROUTES_TOKEN": TOKEN, "ROUTES_CA_BUNDLE": "ca/bundle.pem"}
    options = load_settings(cwd=tmp_path / "sub", environ=environ).backend_options()
    assert options.local == LocalOptions(tmp_path)  # the config's folder, not the cwd
    assert options.http == HttpOptions(token=TOKEN, ca_bundle=str(tmp_path / "ca/bundle.pem"))
    assert options.caddy == CaddyOptions(
        server="edge",
        listen=(":9090",),
        upstreams={"cart": "127.0.0.1:9001"},
        secrets={
            "ca": (str(tmp_path / "certs/ca.pem"),) * 2,
            "site": (str(tmp_path / "c.pem"), str(tmp_path / "k.pem")),
        },
    )
    assert options.akka == AkkaOptions(project="shop", timeout=45.0)
    assert TOKEN not in repr(options)


@pytest.mark.parametrize(
    ("raw", "options"),
    [
        ({}, AkkaOptions()),
        ({"timeout": "45s"}, AkkaOptions(timeout=45.0)),
        ({"timeout": 30}, AkkaOptions(timeout=30.0)),
        ({"timeout": " 2.5 s "}, AkkaOptions(timeout=2.5)),
        ({"project": "", "region": None}, AkkaOptions()),
        ({"executable": "kalix", "owner": "acme"}, AkkaOptions(owner="acme", executable="kalix")),
    ],
)
def test_the_akka_section_reads_as(raw: dict[str, Any], options: AkkaOptions) -> None:
    assert read_akka(raw) == options


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"token": "x"}, "unknown `akka:` setting(s): token"),
        ({"timeout": "soon"}, "`akka:` timeout 'soon' is not a positive number of seconds"),
        ({"timeout": 0}, "`akka:` timeout 0 is not a positive number of seconds"),
    ],
)
def test_an_akka_section_it_cannot_hold_is_a_config_error(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        read_akka(raw)
    assert caught.value.message == message and caught.value.hint


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"colour": "red"}, "ci/.routes.yaml: caddy: unknown setting(s): colour"),
        ({"server": ""}, "ci/.routes.yaml: caddy.server must be a non-empty string (got '')"),
        ({"listen": []}, "ci/.routes.yaml: caddy.listen must be a list of listen addresses"),
        ({"upstreams": {"cart": 1}}, "ci/.routes.yaml: caddy.upstreams must map service names"),
        ({"secrets": {"ca": 1}}, "ci/.routes.yaml: caddy.secrets.ca must be a PEM file"),
    ],
)
def test_a_caddy_section_it_cannot_hold_names_the_file(
    tmp_path: Path, raw: dict[str, Any], message: str
) -> None:
    settings = Settings(root=tmp_path, config_file=Path("ci/.routes.yaml"), caddy=raw)
    with pytest.raises(ConfigError) as caught:
        settings.backend_options()
    assert caught.value.message.startswith(message)
    with pytest.raises(ConfigError, match=r"^caddy"):
        read_caddy(raw, tmp_path)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (30, 30.0),
        ("30", 30.0),
        ("30s", 30.0),
        (" 1.5 ", 1.5),
        (0, None),
        ("-1", None),
        ("soon", None),
        ("", None),
        ("nan", None),
    ],
)
def test_seconds(value: object, parsed: float | None) -> None:
    assert seconds(value) == parsed


# -- open_backend hands each factory its own options ---------------------------------------


def test_the_local_backend_resolves_against_its_root(tmp_path: Path) -> None:
    backend = open_backend("local:db/x.db", BackendOptions(local=LocalOptions(tmp_path)))
    assert isinstance(backend.inner, LocalBackend)
    assert backend.inner.store.path == tmp_path / "db" / "x.db"


def test_the_http_backend_gets_the_token_and_ca_bundle(tmp_path: Path) -> None:
    options = BackendOptions(http=HttpOptions(token=TOKEN))
    backend = open_backend("https://control.test", options)
    assert isinstance(backend.inner, HttpBackend)
    assert backend.inner._headers["Authorization"] == f"Bearer {TOKEN}"
    backend.close()
    missing = BackendOptions(http=HttpOptions(ca_bundle=str(tmp_path / "missing-ca.pem")))
    with pytest.raises(ConfigError, match=r"missing-ca\.pem"):
        open_backend("https://control.test", missing)


def test_the_caddy_backend_gets_the_caddy_options() -> None:
    caddy = CaddyOptions(server="edge", upstreams={"cart": "127.0.0.1:9001"})
    backend = open_backend("caddy+http://127.0.0.1:2019", BackendOptions(caddy=caddy))
    assert isinstance(backend.inner, CaddyBackend) and backend.inner.options == caddy
    backend.close()


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("akka:", AkkaTarget("akka", "shop", "eu", None, 45.0)),
        ("kalix:?project=p1&timeout=5", AkkaTarget("kalix", "p1", "eu", None, 5.0, KALIX)),
        ("akka:?region=&executable=/opt/akka", AkkaTarget("/opt/akka", "shop", None, None, 45.0)),
    ],
)
def test_the_akka_backend_gets_the_akka_options_and_the_url_overrides_them(
    url: str, target: AkkaTarget
) -> None:
    options = BackendOptions(akka=AkkaOptions(project="shop", region="eu", timeout=45.0))
    backend = open_backend(url, options)
    assert isinstance(backend.inner, AkkaBackend) and backend.inner.target == target


def test_a_bad_url_timeout_is_still_a_usage_error() -> None:
    with pytest.raises(UsageError, match="timeout 'soon' for 'akka:\\?timeout=soon'"):
        open_backend("akka:?timeout=soon", BackendOptions(akka=AkkaOptions(timeout=45.0)))
