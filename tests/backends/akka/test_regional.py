"""Region on the akka: backend (issue 15): global by default, `--region` only for the routes
the `regional` setting names, and the plan says which. Runs external processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reconciler.backends.akka.backend import AkkaBackend, open_akka
from reconciler.model import RouteSpec
from tests.akka_emulator import PROJECT, REGION, Emulator, install
from tests.in_process import plain_environment, run_routes

URL = f"akka:?project={PROJECT}&region={REGION}&regional=eu-*"


def spec(host: str = "shop.example.com") -> RouteSpec:
    return RouteSpec.from_dict(
        {"host": host, "routes": [{"prefix": "/", "route": {"service": "w"}}]}
    )


def backend_for(emulator: Emulator, url: str = URL) -> AkkaBackend:
    opened = open_akka(url)
    return AkkaBackend(opened.url, opened.target, env=emulator.env())


def region_flags(call: list[str]) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call) if arg == "--region"]


def test_only_routes_the_config_names_are_created_regional(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    backend = backend_for(emulator)
    backend.create_route("shop", spec(), {}, {})
    eu = backend.create_route("eu-shop", spec("eu.example.com"), {}, {})
    stored = emulator.state()["projects"][PROJECT]["routes"]
    assert "region" not in stored["shop"] and stored["eu-shop"]["region"] == REGION
    backend.replace_route("eu-shop", spec("eu2.example.com"), {}, {}, eu.version)
    fresh = backend_for(emulator)  # learns the placement from `routes get -o json`
    fresh.delete_route("eu-shop", None)
    for call in emulator.calls():
        writes_eu = call[2] in ("create", "update", "delete") and call[3] == "eu-shop"
        assert region_flags(call) == ([REGION] if writes_eu else []), call


def test_the_plan_says_which_routes_are_created_regional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain_environment(monkeypatch)
    emulator = install(tmp_path)
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    folder = tmp_path / "repo"
    (folder / "routes").mkdir(parents=True)
    (folder / ".routes.yaml").write_text(
        f"backend: 'akka:?project={PROJECT}'\ndescriptors: [routes]\nscope: ['*']\n"
        f"akka: {{region: {REGION}, regional: ['eu-*']}}\n"
    )
    for name in ("eu-shop", "us-shop"):
        (folder / "routes" / f"{name}.yaml").write_text(yaml.safe_dump(spec().to_dict()))
    status, out = run_routes(folder, "plan", "--format", "json")
    assert status == 0, out
    notes = [d for d in json.loads(out)["diagnostics"] if d["code"] == "B002"]
    assert [(d["route"], d["severity"], d["file"]) for d in notes] == [
        ("eu-shop", "info", "routes/eu-shop.yaml")
    ]
    assert f"created regional, in region {REGION}" in notes[0]["message"]
    status, out = run_routes(folder, "apply", "--auto-approve")
    assert status == 0, out
    stored = emulator.state()["projects"][PROJECT]["routes"]
    assert stored["eu-shop"]["region"] == REGION and "region" not in stored["us-shop"]
