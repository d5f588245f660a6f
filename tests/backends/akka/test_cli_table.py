"""docs/akka.md's table of CLI flags is the truth: the emulator accepts exactly what it lists,
and the backend sends nothing it does not mark as sent (issue 15).

Runs external processes (the emulated `akka` / `kalix` executables).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.akka.backend import AkkaBackend, open_akka
from reconciler.model import RouteSpec
from tests.akka_emulator import PROJECT, REGION, Emulator, install
from tests.akka_emulator.surface import ACCEPTED, EVERY, GROUPS, HOSTNAMES, SHORT
from tests.backends.contract import FULL_FEATURES

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "akka.md"
BACKEND_MODULES = ("backend.py", "flags.py", "parse.py", "partial.py", "surface.py", "target.py")
FLAG = re.compile(r"-{1,2}[a-z][a-z-]*")
HASH_A = "sha256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
HASH_B = "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols="

Row = tuple[str, str, str]  # (CLI, command, long flag)


def docs_table() -> tuple[dict[Row, str], set[Row], set[tuple[str, str]]]:
    """(flag -> takes, the rows routes sends, every (CLI, command)) from docs/akka.md."""
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- cli-flags:start -->", 1)[1].split("<!-- cli-flags:end -->", 1)[0]
    takes: dict[Row, str] = {}
    sent: set[Row] = set()
    commands: set[tuple[str, str]] = set()
    for line in table.strip().splitlines()[2:]:
        cli, command, flag, kind, sends, _source = (c.strip() for c in line.strip("|").split("|"))
        command = EVERY if command == "every command" else command.strip("`")
        commands.add((cli, command))
        if flag == "(none)":
            continue
        long = [f for f in re.findall(r"`([^`]+)`", flag) if f.startswith("--")]
        assert len(long) == 1, line
        row = (cli, command, long[0])
        assert row not in takes, f"docs/akka.md lists {row} twice"
        takes[row] = kind
        if sends.startswith("yes"):
            sent.add(row)
    return takes, sent, commands


def test_the_emulator_accepts_exactly_the_documented_table() -> None:
    takes, _, commands = docs_table()
    emulated = {
        (cli, command, flag): kind
        for cli, table in ACCEPTED.items()
        for command, flags in table.items()
        for flag, kind in flags.items()
    }
    assert emulated == takes
    assert {(cli, command) for cli, table in ACCEPTED.items() for command in table} == commands


def test_every_flag_the_backend_code_spells_is_listed_as_sent() -> None:
    """Static: a flag literal anywhere in the backend's modules must be a sent row."""
    _, sent, _ = docs_table()
    sent_flags = {flag for _, _, flag in sent} | {"-f", "-o"}  # the short forms listed
    spelled: set[str] = set()
    folder = REPO / "reconciler" / "backends" / "akka"
    for module in BACKEND_MODULES:
        tree = ast.parse((folder / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                spelled |= {node.value} if FLAG.fullmatch(node.value) else set()
    assert spelled and spelled <= sent_flags, sorted(spelled - sent_flags)


def command_line(call: list[str]) -> tuple[str, str, list[str]]:
    """(CLI, the reference's command name, the flags in long form) of one logged argv."""
    prog, words = call[0], call[1:]
    group = GROUPS[prog][words[0]]
    if group in ("routes", "route"):
        command, rest = f"{group} {words[1]}", words[2:]
    else:
        command, rest = f"{group} {HOSTNAMES[prog][words[1]]} {words[2]}", words[3:]
    flags = [SHORT[prog].get(a.split("=")[0], a.split("=")[0]) for a in rest if a[:1] == "-"]
    return prog, command, flags


def spec(**extra: Any) -> RouteSpec:
    raw = {"host": "shop.example.com", "routes": [{"prefix": "/a", "route": {"service": "a"}}]}
    return RouteSpec.from_dict({**raw, **extra})


def backend_for(emulator: Emulator, url: str, **env: str) -> AkkaBackend:
    opened = open_akka(url)
    return AkkaBackend(opened.url, opened.target, env=emulator.env(**env))


def akka_workout(emulator: Emulator) -> None:
    """Every kind of call the akka: backend makes: reads (JSON and text), creates (global
    and regional), file updates with every removal, a reset, path-only updates, deletes."""
    url = f"akka:?project={PROJECT}&owner=acme&region={REGION}&regional=eu-*"
    for env in ({"AKKA_EMULATOR_FILE_UPDATE": "merge"}, {"AKKA_EMULATOR_FILE_UPDATE": "deep"}):
        backend = backend_for(emulator, url, **env)
        full = RouteSpec.from_dict(FULL_FEATURES)
        made = backend.create_route("shop", full, {}, {})
        backend.replace_route("shop", spec(), {}, {}, made.version)
        users = {"realm": "R", "passwordHashes": {"alice": HASH_A, "bob": HASH_B}}
        two = backend.replace_route("shop", spec(validation={"httpBasic": users}), {}, {}, None)
        one = {"realm": "R", "passwordHashes": {"alice": HASH_A}}
        backend.replace_route("shop", spec(validation={"httpBasic": one}), {}, {}, two.version)
        paths = spec(routes=[{"prefix": "/b", "route": {"service": "b"}}])
        backend.replace_route("shop", paths, {}, {}, None)
        regional = backend.create_route("eu-shop", spec(), {}, {})
        backend.replace_route("eu-shop", spec(host="eu.example.com"), {}, {}, regional.version)
        backend.unregistered_hosts({"shop.example.com"})
        backend.list_routes()
        backend.delete_route("eu-shop", None)
        backend.delete_route("shop", None)
    text = backend_for(emulator, url, AKKA_EMULATOR_JSON="0")
    text.create_route("shop", spec(), {}, {})
    text.list_routes()
    text.unregistered_hosts({"x.example.com"})


def kalix_workout(emulator: Emulator) -> None:
    backend = backend_for(emulator, f"kalix:?project={PROJECT}")
    made = backend.create_route("shop", spec(), {}, {})
    paths = spec(routes=[{"prefix": "/b", "route": {"service": "b"}}])
    moved = backend.replace_route("shop", paths, {}, {}, made.version)
    cors = {"allowOrigins": ["https://www.example.com"]}
    backend.replace_route("shop", spec(corsPolicy=cors), {}, {}, moved.version)
    backend.list_routes()
    backend.unregistered_hosts({"shop.example.com"})
    backend.delete_route("shop", None)
    text = backend_for(emulator, f"kalix:?project={PROJECT}", AKKA_EMULATOR_JSON="0")
    text.list_routes()


@pytest.mark.parametrize("workout", [akka_workout, kalix_workout])
def test_every_command_line_the_backend_runs_is_in_the_table(tmp_path: Path, workout: Any) -> None:
    """Dynamic: each argv the emulated CLI received, flag by flag, against the sent rows."""
    _, sent, _ = docs_table()
    emulator = install(tmp_path)
    workout(emulator)
    calls = emulator.calls()
    seen: set[str] = set()
    for call in calls:
        cli, command, flags = command_line(call)
        for flag in flags:
            assert (cli, command, flag) in sent or (cli, EVERY, flag) in sent, (call, flag)
        seen.add(command)
    expected = {"akka": {"routes create", "routes update", "routes delete", "routes list",
                         "routes get", "routes export", "projects hostnames list"},
                "kalix": {"route create", "route update", "route delete", "route list",
                          "route get", "route export", "project hostname list"}}  # fmt: skip
    assert seen == expected[calls[0][0]]
