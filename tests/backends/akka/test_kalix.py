"""kalix: drives `kalix route …` with the seed's flags only, against the emulator's kalix
profile (issue 15). Runs external processes (the emulated `kalix` executable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.akka.backend import AkkaBackend, open_akka
from reconciler.errors import BackendError
from reconciler.model import RouteSpec
from tests.akka_emulator import PROJECT, Emulator, install

URL = f"kalix:?project={PROJECT}&timeout=20"
CORS = {"allowOrigins": ["https://www.example.com"], "allowMethods": ["GET"]}


def spec(**extra: Any) -> RouteSpec:
    raw = {"host": "shop.example.com", "routes": [{"prefix": "/a", "route": {"service": "a"}}]}
    return RouteSpec.from_dict({**raw, **extra})


def backend_for(emulator: Emulator, **env: str) -> AkkaBackend:
    opened = open_akka(URL)
    return AkkaBackend(opened.url, opened.target, env=emulator.env(**env))


@pytest.mark.parametrize(
    "args",
    [
        ["route", "update", "shop", "--remove-http-basic"],
        ["route", "update", "shop", "--remove-cors-origin", "https://www.example.com"],
        ["route", "list", "--disable-prompt"],
        ["route", "get", "shop", "--timeout", "10s"],
        ["route", "delete", "shop", "--region", "us-east1"],
    ],
)
def test_the_kalix_profile_refuses_flags_the_kalix_form_does_not_have(
    tmp_path: Path, args: list[str]
) -> None:
    emulator = install(tmp_path)
    emulator.seed({"shop": spec(corsPolicy=CORS).to_dict()})
    done = emulator.cli(*args, prog="kalix")
    assert done.returncode == 1 and done.stderr.startswith("Error: unknown flag: --")
    assert "shop" in emulator.state()["projects"][PROJECT]["routes"]


def test_kalix_writes_with_the_file_path_flags_and_deletes_without_a_prompt(
    tmp_path: Path,
) -> None:
    emulator = install(tmp_path)
    backend = backend_for(emulator)
    made = backend.create_route("shop", spec(corsPolicy=CORS), {}, {})
    moved = spec(corsPolicy=CORS, routes=[{"prefix": "/b", "route": {"service": "b"}}])
    assert backend.replace_route("shop", moved, {}, {}, made.version).spec == moved
    backend.delete_route("shop", None)
    calls = emulator.calls()
    assert {tuple(call[:2]) for call in calls} == {("kalix", "route")}
    update = next(call for call in calls if call[2] == "update")
    assert update[3:8] == ["shop", "--path", "/b=b", "--remove-path", "/a"]
    assert emulator.state()["projects"][PROJECT]["routes"] == {}


def test_a_removal_the_kalix_form_has_no_flag_for_is_a_partial_apply(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    backend = backend_for(emulator)  # `update -f` merges: the file cannot drop corsPolicy
    made = backend.create_route("shop", spec(corsPolicy=CORS), {}, {})
    with pytest.raises(BackendError) as caught:
        backend.replace_route("shop", spec(), {}, {}, made.version)
    message = caught.value.message
    assert "partially applied" in message and "the kalix CLI kept" in message
    assert "CORS origin https://www.example.com" in message and "CORS method GET" in message
    assert "`kalix route edit shop`" in (caught.value.hint or "")
    assert not any("--remove-cors-origin" in call for call in emulator.calls())


def test_with_a_replacing_file_update_kalix_needs_no_removal_flag(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    backend = backend_for(emulator, AKKA_EMULATOR_FILE_UPDATE="replace")
    made = backend.create_route("shop", spec(corsPolicy=CORS), {}, {})
    assert backend.replace_route("shop", spec(), {}, {}, made.version).spec == spec()
