"""The akka: / kalix: backend against the CLI emulator on PATH (tests/akka_emulator).

These tests run external processes (the emulated `akka` / `kalix` executables).
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.backends.akka.backend import AkkaBackend, AkkaTarget, open_akka
from reconciler.backends.akka.surface import KALIX
from reconciler.backends.base import Backend
from reconciler.config import Settings
from reconciler.errors import (
    AuthError,
    BackendError,
    ConfigError,
    ConflictError,
    NotFoundError,
    TransientBackendError,
    UsageError,
)
from reconciler.model import RouteSpec
from tests.akka_emulator import EMULATOR, OWNER, PROJECT, REGION, Emulator, install
from tests.backends.contract import ANNOTATIONS, FULL_FEATURES, LABELS, BackendContract, simple_spec

URL = f"akka:?project={PROJECT}&region={REGION}&owner={OWNER}&timeout=20"

WITHOUT_REGEX = json.loads(json.dumps(FULL_FEATURES))
WITHOUT_REGEX["validation"]["clientCertificate"]["subjectMatches"].pop()


def spec_of(**overrides: Any) -> RouteSpec:
    raw: dict[str, Any] = {
        "host": "shop.example.com",
        "routes": [
            {"prefix": "/carts", "route": {"service": "shopping-cart"}},
            {"prefix": "/products", "route": {"service": "product-info"}},
        ],
    }
    raw.update(overrides)
    return RouteSpec.from_dict(raw)


@pytest.fixture
def emulator(tmp_path: Path) -> Emulator:
    return install(tmp_path, hostnames=None)


def backend_for(emulator: Emulator, url: str = URL, **env: str) -> AkkaBackend:
    backend = open_akka(url)
    return AkkaBackend(backend.url, backend.target, env=emulator.env(**env))


@pytest.fixture
def akka(emulator: Emulator) -> AkkaBackend:
    return backend_for(emulator)


class TestAkkaContract(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        backend = backend_for(install(tmp_path))
        yield backend
        backend.close()

    def test_versions_are_never_reused(self, backend: Backend) -> None:
        # The CLI has no versions: the version is the spec's fingerprint, so the same spec
        # always has the same version (that is what makes the check best-effort).
        first = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        second = backend.replace_route("shop", simple_spec(service="v2"), {}, {}, first.version)
        assert first.version == simple_spec().fingerprint()
        assert second.version == simple_spec(service="v2").fingerprint() != first.version


class TestAkkaContractMetadataNames(TestAkkaContract):
    """The same contract when `-o json` names items under `metadata.name` (ASSUMED 1)."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        backend = backend_for(install(tmp_path), AKKA_EMULATOR_JSON_NAMES="metadata")
        yield backend
        backend.close()


class TestKalixContract(TestAkkaContract):
    """kalix: against its own profile, where `update -f` replaces (with a merging one the
    Kalix form cannot remove sections: see test_kalix.py)."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        emulator = install(tmp_path)
        backend = backend_for(
            emulator, f"kalix:?project={PROJECT}", AKKA_EMULATOR_FILE_UPDATE="replace"
        )
        yield backend
        backend.close()


# -- configuration ---------------------------------------------------------------------


def test_url_options_and_config_make_the_common_flags(emulator: Emulator) -> None:
    settings = Settings(root=emulator.bin_dir, akka={"project": "from-config", "timeout": "45s"})
    backend = open_akka("akka:?project=p1&region=r1&owner=o1", settings.backend_options().akka)
    assert backend.target == AkkaTarget("akka", "p1", "r1", "o1", 45.0)
    kalix = open_akka("kalix:?project=p1", settings.backend_options().akka)
    assert kalix.target == AkkaTarget("kalix", "p1", None, None, 45.0, KALIX)
    caps = backend.capabilities
    assert (caps.labels, caps.conditional_writes) == (False, False)
    assert open_akka("akka:", None).target == AkkaTarget("akka")


@pytest.mark.parametrize(
    ("url", "config", "error"),
    [
        ("akka:?projekt=x", {}, UsageError),
        ("akka:?timeout=soon", {}, UsageError),
        ("akka:?timeout=0", {}, UsageError),
        ("akka:my-project", {}, UsageError),
        ("akka:", {"token": "x"}, ConfigError),
        ("kalix:?owner=acme", {}, UsageError),  # the Kalix form documents no --owner
        ("kalix:?regional=eu-*&region=eu", {}, UsageError),  # nor --region
        ("akka:?regional=eu-*", {}, UsageError),  # regional routes need a region
        ("akka:", {"regional": [""]}, ConfigError),
    ],
)
def test_bad_backend_settings_are_refused(url: str, config: dict[str, str], error: type) -> None:
    with pytest.raises(error) as caught:
        open_akka(url, Settings(root=Path("."), akka=config).backend_options().akka)
    assert caught.value.hint


def test_every_call_carries_disable_prompt_project_owner_timeout_and_no_region(
    emulator: Emulator, akka: AkkaBackend
) -> None:
    # Was: `--region` on every call. The reference: routes are global unless *created* with
    # `--region`, so a global route's calls carry none, even with `region` configured.
    created = akka.create_route("shop", spec_of(), {}, {})
    akka.list_routes()
    akka.replace_route("shop", spec_of(host="v2.example.com"), {}, {}, created.version)
    akka.delete_route("shop", None)
    calls = emulator.calls()
    assert {call[2] for call in calls} >= {"create", "list", "export", "get", "update", "delete"}
    for call in calls:
        assert call[:2] == ["akka", "routes"]
        assert "--disable-prompt" in call and "--region" not in call
        flags = dict(itertools.pairwise(call))
        assert flags["--project"] == PROJECT
        assert flags["--owner"] == OWNER and flags["--timeout"] == "20s"


def test_kalix_scheme_drives_the_kalix_executable(emulator: Emulator) -> None:
    kalix = backend_for(emulator, f"kalix:?project={PROJECT}")
    kalix.create_route("shop", spec_of(), {}, {})
    assert [r.name for r in kalix.list_routes()] == ["shop"]
    assert {call[0] for call in emulator.calls()} == {"kalix"}


# -- reads -----------------------------------------------------------------------------


def test_status_conditions_come_from_routes_get(tmp_path: Path) -> None:
    emulator = install(tmp_path, hostnames={"new.example.com": "unverified"})
    backend = backend_for(emulator)
    backend.create_route("shop", spec_of(host="new.example.com"), {}, {})
    route = backend.get_route("shop")
    assert route is not None and not route.ready
    host = route.condition("HostValidation")
    assert host is not None and (host.status, host.reason) == ("False", "DnsNotVerified")
    assert "new.example.com" in host.message
    assert route.labels == {} and route.annotations == {}


def test_text_output_is_read_when_json_does_not_parse(tmp_path: Path) -> None:
    emulator = install(
        tmp_path, hostnames={"a.example.com": "unverified", "b.example.com": "verified"}
    )
    emulator.seed(
        {
            "alpha": spec_of(host="a.example.com").to_dict(),
            "beta": spec_of(host="b.example.com").to_dict(),
        }
    )
    writer = backend_for(emulator)
    reader = backend_for(emulator, AKKA_EMULATOR_JSON="0")
    routes = reader.list_routes()
    assert [r.name for r in routes] == ["alpha", "beta"]
    alpha_host = routes[0].condition("HostValidation")
    assert alpha_host is not None and alpha_host.reason == "DnsNotVerified"
    # The documented message (invoke-service.adoc), from the documented `Status:` blocks.
    assert alpha_host.message == (
        "Host a.example.com did not resolve to a CNAME record. "
        "It must be configured to be a CNAME record to us-east1.akka.app"
    )
    alpha_ready = routes[0].condition("Ready")
    assert alpha_ready is not None and (alpha_ready.status, alpha_ready.reason) == (
        "False",
        "Validating",
    )
    assert routes[1].ready
    assert [(r.spec, r.version) for r in routes] == [
        (r.spec, r.version) for r in writer.list_routes()
    ]


def test_many_routes_are_listed_with_their_specs(emulator: Emulator, akka: AkkaBackend) -> None:
    emulator.seed({f"r{i:02d}": spec_of(host=f"h{i}.example.com").to_dict() for i in range(12)})
    routes = akka.list_routes()
    assert [r.name for r in routes] == [f"r{i:02d}" for i in range(12)]
    assert routes[7].spec.host == "h7.example.com"


# -- writes ----------------------------------------------------------------------------


def test_a_full_file_update_alone_would_keep_a_removed_prefix(emulator: Emulator) -> None:
    """The hazard the backend guards against: the platform's `update -f` merges path rules."""
    emulator.cli(
        "routes",
        "create",
        "shop",
        "--hostname",
        "s.example.com",
        "--path",
        "/a=x",
        "--path",
        "/b=y",
    )
    descriptor = emulator.bin_dir / "shop.yaml"
    descriptor.write_text(yaml.safe_dump(spec_of(host="s.example.com").to_dict()))
    done = emulator.cli("routes", "update", "shop", "-f", str(descriptor))
    assert done.returncode == 0, done.stderr
    exported = yaml.safe_load(emulator.cli("routes", "export", "shop").stdout)
    assert "/a" in [rule["prefix"] for rule in exported["routes"]]


def test_removed_prefix_and_sections_are_removed_with_flags(
    emulator: Emulator, akka: AkkaBackend
) -> None:
    full = RouteSpec.from_dict(WITHOUT_REGEX)
    created = akka.create_route("shop", full, {}, {})
    plain = RouteSpec.from_dict(
        {"host": FULL_FEATURES["host"], "routes": FULL_FEATURES["routes"][1:]}
    )
    replaced = akka.replace_route("shop", plain, {}, {}, created.version)
    assert replaced.spec == plain
    live = akka.get_route("shop")
    assert live is not None and live.spec == plain and live.spec.cors is None
    update_calls = [call for call in emulator.calls() if call[2] == "update"]
    assert "-f" in update_calls[0]
    removal = update_calls[1]
    for flag in (
        "--remove-path",
        "--remove-cors-origin",
        "--remove-client-ca-secret",
        "--remove-server-certificate-secret",
        "--remove-http-basic",
        "--remove-client-certificate-subject",
    ):
        assert flag in removal
    assert removal[removal.index("--remove-path") + 1] == "/carts"
    # The documented booleans take no value (was: `--remove-http-basic-credentials USER`).
    for boolean in ("--remove-http-basic", "--remove-client-certificate-subject"):
        following = removal[removal.index(boolean) + 1]
        assert following.startswith("--"), following


def test_a_regex_subject_is_removed_with_the_documented_boolean(
    emulator: Emulator, akka: AkkaBackend
) -> None:
    # Was: refused before any write, because the invented per-subject removal flag could not
    # spell a regex. `--remove-client-certificate-subject` removes all subjects, any kind.
    created = akka.create_route("shop", RouteSpec.from_dict(FULL_FEATURES), {}, {})
    plain = spec_of(host="secure.example.com")
    assert akka.replace_route("shop", plain, {}, {}, created.version).spec == plain
    removal = [call for call in emulator.calls() if call[2] == "update"][-1]
    assert "--remove-client-certificate-subject" in removal


def test_path_only_changes_use_granular_flags(emulator: Emulator, akka: AkkaBackend) -> None:
    created = akka.create_route("shop", spec_of(), {}, {})
    wanted = RouteSpec.from_dict(
        {
            "host": "shop.example.com",
            "routes": [
                {"prefix": "/carts", "route": {"service": "carts-v2"}},
                {"prefix": "/inventory", "route": {"service": "inventory"}},
            ],
        }
    )
    akka.replace_route("shop", wanted, {}, {}, created.version)
    update = [call for call in emulator.calls() if call[2] == "update"]
    assert len(update) == 1 and "-f" not in update[0]
    assert update[0][3:9] == [
        "shop",
        "--path",
        "/carts=carts-v2",
        "--path",
        "/inventory=inventory",
        "--remove-path",
    ]
    live = akka.get_route("shop")
    assert live is not None and live.spec == wanted


def test_stale_version_conflicts_before_any_write(emulator: Emulator, akka: AkkaBackend) -> None:
    created = akka.create_route("shop", spec_of(), {}, {})
    emulator.cli("routes", "update", "shop", "--path", "/hand=edited")
    with pytest.raises(ConflictError):
        akka.replace_route("shop", spec_of(host="other.example.com"), {}, {}, created.version)
    with pytest.raises(ConflictError):
        akka.delete_route("shop", created.version)
    writes = [call for call in emulator.calls() if call[2] in ("update", "delete")]
    assert len(writes) == 1  # only the hand edit
    assert akka.get_route("shop") is not None


def test_read_back_mismatch_names_the_fields(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    # A CLI that lets another writer slip in right after every update (a lost race).
    run = f'AKKA_EMULATOR_PROG=akka "{sys.executable}" "{EMULATOR}"'
    (emulator.bin_dir / "akka").write_text(
        f'#!/bin/sh\n{run} "$@" || exit $?\n'
        'if [ "$2" = update ]; then\n'
        f'  {run} routes update "$3" --path /intruder=evil --disable-prompt >/dev/null\n'
        "fi\n"
    )
    backend = backend_for(emulator)
    created = backend.create_route("shop", spec_of(), {}, {})
    with pytest.raises(BackendError) as caught:
        backend.replace_route("shop", spec_of(host="v2.example.com"), {}, {}, created.version)
    assert "routes[/intruder]" in caught.value.message
    assert "shop" in caught.value.message and "host" not in caught.value.message.split(":")[-1]


def test_password_hashes_never_reach_the_command_line(
    emulator: Emulator, akka: AkkaBackend
) -> None:
    akka.create_route("shop", RouteSpec.from_dict(FULL_FEATURES), {}, {})
    calls = emulator.calls()
    assert not any("sha256:" in arg or "sha512:" in arg for call in calls for arg in call)
    descriptor = next(c[c.index("-f") + 1] for c in calls if c[2] == "create")
    assert not Path(descriptor).exists()


def test_plain_writes_and_missing_routes(akka: AkkaBackend) -> None:
    with pytest.raises(NotFoundError):
        akka.delete_route("ghost", None)
    akka.create_route("shop", spec_of(), {}, {})
    with pytest.raises(ConflictError):
        akka.create_route("shop", spec_of(), {}, {})
    assert akka.get_route("ghost") is None


# -- errors ----------------------------------------------------------------------------


def test_missing_cli_says_how_to_install_it(tmp_path: Path) -> None:
    backend = AkkaBackend("akka:", AkkaTarget(), env={"PATH": str(tmp_path)})
    with pytest.raises(BackendError) as caught:
        backend.list_routes()
    assert "`akka` was not found on PATH" in caught.value.message
    assert "docs/akka.md" in (caught.value.hint or "")


def test_not_logged_in_shows_command_exit_code_and_stderr(emulator: Emulator) -> None:
    backend = backend_for(emulator, AKKA_EMULATOR_LOGGED_OUT="1")
    with pytest.raises(AuthError) as caught:
        backend.list_routes()
    message = caught.value.message
    assert message.startswith("`akka routes list -o json --disable-prompt")
    assert "exit code 1" in message and "you are not logged in" in message
    assert "AKKA_TOKEN" in (caught.value.hint or "")


def test_unknown_project_is_a_clear_error(emulator: Emulator) -> None:
    backend = backend_for(emulator, "akka:?project=nope")
    with pytest.raises(BackendError) as caught:
        backend.list_routes()
    assert type(caught.value) is BackendError
    assert "--project nope" in caught.value.message
    assert "project 'nope' not found" in caught.value.message


def test_cli_timeout_is_transient(emulator: Emulator) -> None:
    backend = backend_for(emulator, "akka:?timeout=0.2", AKKA_EMULATOR_DELAY="5")
    with pytest.raises(TransientBackendError) as caught:
        backend.get_route("shop")
    assert "deadline exceeded" in caught.value.message


def test_emulator_rejects_unknown_flags(emulator: Emulator) -> None:
    done = emulator.cli("routes", "list", "--labels", "x")
    assert done.returncode == 1 and done.stderr == "Error: unknown flag: --labels\n"
    state = emulator.state()
    assert json.dumps(state["projects"][PROJECT]["routes"]) == "{}"


def test_empty_project_in_text_form_lists_nothing(emulator: Emulator) -> None:
    backend = backend_for(emulator, AKKA_EMULATOR_JSON="0")
    assert backend.list_routes() == []
    assert emulator.cli("routes", "list").stdout == "No routes found.\n"
