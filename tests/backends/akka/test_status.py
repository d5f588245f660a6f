"""Route status on the akka: backend (issue 15): `projects hostnames list` for the plan's
P030, the documented HostValidation / Ready conditions for P030 and `apply --wait`, and the
platform's own words (the CNAME record to create) in what the user reads.

Runs the real `routes` CLI in process against the emulated `akka` / `kalix` executables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reconciler.backends.akka.backend import AkkaBackend, open_akka
from reconciler.backends.akka.parse import hostnames_from_list
from reconciler.errors import BackendError
from tests.akka_emulator import PROJECT, Emulator, install
from tests.in_process import plain_environment, run_routes

CNAME_MESSAGE = (
    "Host shop.example.com did not resolve to a CNAME record. "
    "It must be configured to be a CNAME record to us-east1.akka.app"
)


def repo(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, url: str) -> Path:
    """A descriptor repository planning against the emulated CLI on PATH."""
    plain_environment(monkeypatch)
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    folder = tmp_path / "repo"
    (folder / "routes").mkdir(parents=True)
    (folder / ".routes.yaml").write_text(
        f"backend: '{url}'\ndescriptors: [routes]\nowner: acme/shop\nscope: ['shop*']\n"
    )
    for name, host in (("shop", "shop.example.com"), ("shop-new", "new.example.com")):
        descriptor = {"host": host, "routes": [{"prefix": "/", "route": {"service": "web"}}]}
        (folder / "routes" / f"{name}.yaml").write_text(yaml.safe_dump(descriptor))
    return folder


@pytest.mark.parametrize("cli", ["akka", "kalix"])
def test_plan_warns_about_unregistered_and_unverified_hosts_in_the_platforms_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: str
) -> None:
    emulator = install(tmp_path, hostnames={"shop.example.com": "unverified"})
    old = {"host": "shop.example.com", "routes": [{"prefix": "/", "route": {"service": "old"}}]}
    emulator.seed({"shop": old})
    folder = repo(tmp_path, emulator, monkeypatch, f"{cli}:?project={PROJECT}")
    status, out = run_routes(folder, "plan")
    assert status == 0, out
    assert "P030" in out and "DnsNotVerified" in out and CNAME_MESSAGE in out
    add = "akka projects hostnames add" if cli == "akka" else "kalix project hostname add"
    assert "host new.example.com is not a registered hostname" in out
    assert f"register it with `{add} new.example.com` and create the CNAME record" in out
    listed = [c for c in emulator.calls() if "list" in c and ("hostnames" in c or "hostname" in c)]
    assert len(listed) == 1  # one read for the whole plan


def test_apply_wait_reports_the_cname_the_platform_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = install(
        tmp_path,
        hostnames={"shop.example.com": "unverified", "new.example.com": "verified"},
    )
    folder = repo(tmp_path, emulator, monkeypatch, f"akka:?project={PROJECT}")
    status, out = run_routes(folder, "apply", "--auto-approve", "--wait", "--wait-timeout", "1")
    assert status == 1, out
    assert "not Ready after 1s: Validating: Validating hostname" in out
    assert f"HostValidation is False: DnsNotVerified: {CNAME_MESSAGE}" in out
    state = emulator.state()["projects"][PROJECT]["routes"]
    assert sorted(state) == ["shop", "shop-new"]  # both written; only one is not Ready


def backend_for(emulator: Emulator, url: str, **env: str) -> AkkaBackend:
    opened = open_akka(url)
    return AkkaBackend(opened.url, opened.target, env=emulator.env(**env))


@pytest.mark.parametrize("names", ["name", "metadata"])
@pytest.mark.parametrize("json_output", ["1", "0"])
def test_hostnames_are_read_in_every_form(tmp_path: Path, names: str, json_output: str) -> None:
    emulator = install(tmp_path, hostnames={"a.example.com": "verified", "b.example.com": "x"})
    env = {"AKKA_EMULATOR_JSON_NAMES": names, "AKKA_EMULATOR_JSON": json_output}
    backend = backend_for(emulator, f"akka:?project={PROJECT}", **env)
    assert backend.hostnames() == {
        "a.example.com": "us-east1.akka.app",
        "b.example.com": "us-east1.akka.app",
    }
    assert backend.unregistered_hosts({"a.example.com", "c.example.com"}) == {"c.example.com"}
    call = emulator.calls()[-1]
    assert call[:4] == ["akka", "projects", "hostnames", "list"]


def test_hostname_output_without_names_fails_loudly() -> None:
    with pytest.raises(BackendError) as caught:
        hostnames_from_list(json.dumps([{"region": "us-east1"}]), True)
    assert "without a name" in caught.value.message
    with pytest.raises(BackendError):
        hostnames_from_list("DOMAIN  REGION\nx  y\n", False)
    assert hostnames_from_list("No hostnames found.\n", False) == {}
    generated = (
        "HOSTNAME  GENERATED  REGION  CNAME\nyoung-fire-2481.us-east1.akka.app  true  us-east1\n"
    )
    assert hostnames_from_list(generated, False) == {"young-fire-2481.us-east1.akka.app": None}
