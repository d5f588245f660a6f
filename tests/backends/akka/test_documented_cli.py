"""The akka: backend against the documented CLI (issue 15): the `--remove-…` booleans, region,
the documented `route get` text form, JSON names and the `-o json` fallback.

Where the reference is silent the emulator offers both readings (see the ASSUMED list at
the top of tests/akka_emulator/emulator.py) and these tests run the backend against each.
Runs external processes (the emulated `akka` executable).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.akka.backend import AkkaBackend, open_akka
from reconciler.backends.akka.parse import (
    conditions_from_get,
    json_output_unsupported,
    names_from_list,
    region_from_get,
)
from reconciler.errors import BackendError
from reconciler.model import RouteSpec
from tests.akka_emulator import EMULATOR, OWNER, PROJECT, REGION, Emulator, install

URL = f"akka:?project={PROJECT}&region={REGION}&owner={OWNER}&timeout=20"
FILE_MODES = ("merge", "deep", "replace")
HASH_A = "sha256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
HASH_B = "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols="


def spec(**extra: Any) -> dict[str, Any]:
    return {
        "host": "shop.example.com",
        "routes": [{"prefix": "/carts", "route": {"service": "shopping-cart"}}],
        **extra,
    }


def basic(*users: str, realm: str = "Shop") -> dict[str, Any]:
    hashes = {"alice": HASH_A, "bob": HASH_B}
    return {"httpBasic": {"realm": realm, "passwordHashes": {u: hashes[u] for u in users}}}


def subjects(*values: str) -> dict[str, Any]:
    return {"clientCertificate": {"subjectMatches": [{"exact": v} for v in values]}}


def backend_for(emulator: Emulator, url: str = URL, **env: str) -> AkkaBackend:
    opened = open_akka(url)
    return AkkaBackend(opened.url, opened.target, env=emulator.env(**env))


def updates(emulator: Emulator) -> list[list[str]]:
    return [call for call in emulator.calls() if call[2] == "update"]


def failing_cli(emulator: Emulator, when: str) -> None:
    """Make `akka` fail (exit 1, as a platform error) on the update call `when` matches:
    `remove` for the removal call, `second-file` for the second `update -f`."""
    run = f'AKKA_EMULATOR_PROG=akka "{sys.executable}" "{EMULATOR}"'
    count = emulator.bin_dir / "file-updates"
    (emulator.bin_dir / "akka").write_text(
        "#!/bin/sh\n"
        'case " $* " in\n'
        '  *" update "*" -f "*)\n'
        f'    n=$(cat "{count}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{count}"\n'
        f'    if [ "{when}" = second-file ] && [ $n -ge 2 ]; then\n'
        '      echo "Error: rpc error: code = Internal desc = backend failure" >&2; exit 1\n'
        "    fi ;;\n"
        '  *" --remove-"*)\n'
        f'    if [ "{when}" = remove ]; then\n'
        '      echo "Error: rpc error: code = Internal desc = backend failure" >&2; exit 1\n'
        "    fi ;;\n"
        "esac\n"
        f'{run} "$@"\n'
    )


# -- the documented removal booleans ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (
            ["--remove-http-basic-credentials", "alice"],
            "Error: unknown flag: --remove-http-basic-credentials\n",
        ),
        (["--remove-http-basic", "alice"], "Error: accepts 1 arg(s), received 2\n"),
        (["--remove-client-certificate-subject", "x"], "Error: accepts 1 arg(s), received 2\n"),
        (["--organization", "acme"], "Error: unknown flag: --organization\n"),
    ],
)
def test_emulator_refuses_undocumented_flags_and_values_for_booleans(
    tmp_path: Path, args: list[str], stderr: str
) -> None:
    emulator = install(tmp_path)
    emulator.seed({"shop": spec(validation=basic("alice"))})
    done = emulator.cli("routes", "update", "shop", *args)
    assert (done.returncode, done.stderr) == (1, stderr)
    assert emulator.state()["projects"][PROJECT]["routes"]["shop"]["spec"]["validation"]


def test_emulator_accepts_every_documented_update_flag(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    emulator.seed(
        {"shop": spec(validation=basic("alice"), tls={"clientValidationCa": {"name": "ca"}})}
    )
    done = emulator.cli(
        "routes", "update", "shop", "--remove-http-basic", "--remove-client-certificate-subject",
        "--remove-client-ca-secret", "--remove-server-certificate-secret", "--http-basic-realm",
        "R", "--http-basic-credentials", "carol=pw", "--page-mode", "buffered", "-h=false",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stored = emulator.state()["projects"][PROJECT]["routes"]["shop"]["spec"]
    assert stored["validation"]["httpBasic"]["realm"] == "R"
    assert list(stored["validation"]["httpBasic"]["passwordHashes"]) == ["carol"]
    assert "tls" not in stored


@pytest.mark.parametrize("mode", FILE_MODES)
def test_dropping_basic_auth_uses_remove_http_basic_after_the_file(
    tmp_path: Path, mode: str
) -> None:
    emulator = install(tmp_path)
    backend = backend_for(emulator, AKKA_EMULATOR_FILE_UPDATE=mode)
    created = backend.create_route(
        "shop", RouteSpec.from_dict(spec(validation={**basic("alice"), **subjects("a")})), {}, {}
    )
    plain = RouteSpec.from_dict(spec(routes=[{"prefix": "/v2", "route": {"service": "v2"}}]))
    assert backend.replace_route("shop", plain, {}, {}, created.version).spec == plain
    calls = updates(emulator)
    assert "-f" in calls[0]  # the whole descriptor first: a failure leaves it as it was
    if mode != "replace":
        removal = calls[1]
        assert removal.count("--remove-http-basic") == 1
        assert "--remove-client-certificate-subject" in removal
        assert "--remove-path" in removal and "-f" not in removal
    assert not any("--remove-http-basic-credentials" in call for call in calls)


@pytest.mark.parametrize("mode", FILE_MODES)
def test_dropping_one_of_two_users_keeps_the_other(tmp_path: Path, mode: str) -> None:
    emulator = install(tmp_path)
    backend = backend_for(emulator, AKKA_EMULATOR_FILE_UPDATE=mode)
    both = RouteSpec.from_dict(spec(validation={**basic("alice", "bob"), **subjects("a", "b")}))
    created = backend.create_route("shop", both, {}, {})
    one = RouteSpec.from_dict(spec(validation={**basic("alice"), **subjects("a")}))
    live = backend.replace_route("shop", one, {}, {}, created.version)
    assert live.spec == one
    assert live.spec.validation and live.spec.validation.http_basic
    assert dict(live.spec.validation.http_basic.password_hashes) == {"alice": HASH_A}
    calls = updates(emulator)
    if mode == "deep":  # a CLI that merges users: reset the set, then the file again
        assert ["-f" in c for c in calls] == [True, False, True]
        assert {"--remove-http-basic", "--remove-client-certificate-subject"} <= set(calls[1])
    else:  # the file replaces the section: nothing is ever reset
        assert calls and all("-f" in c for c in calls)


def test_a_failed_removal_is_reported_as_a_partial_apply_still_protected(
    tmp_path: Path,
) -> None:
    emulator = install(tmp_path)
    failing_cli(emulator, "remove")
    backend = backend_for(emulator)
    created = backend.create_route(
        "shop", RouteSpec.from_dict(spec(validation=basic("alice"))), {}, {}
    )
    plain = RouteSpec.from_dict(spec(routes=[{"prefix": "/v2", "route": {"service": "v2"}}]))
    with pytest.raises(BackendError) as caught:
        backend.replace_route("shop", plain, {}, {}, created.version)
    message = caught.value.message
    assert "partially applied" in message and "`update -f` wrote" in message
    assert "all HTTP basic credentials" in message and "path /carts" in message
    assert "at least as protected" in (caught.value.hint or "")
    stored = emulator.state()["projects"][PROJECT]["routes"]["shop"]["spec"]
    assert stored["validation"]["httpBasic"]["passwordHashes"] == {"alice": HASH_A}


def test_a_failed_re_add_after_a_reset_says_the_route_has_none(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    failing_cli(emulator, "second-file")
    backend = backend_for(emulator, AKKA_EMULATOR_FILE_UPDATE="deep")
    created = backend.create_route(
        "shop", RouteSpec.from_dict(spec(validation=basic("alice", "bob"))), {}, {}
    )
    (emulator.bin_dir / "file-updates").write_text("0")  # count the update's calls only
    with pytest.raises(BackendError) as caught:
        backend.replace_route(
            "shop", RouteSpec.from_dict(spec(validation=basic("alice"))), {}, {}, created.version
        )
    message = caught.value.message
    assert "partially applied" in message and "all HTTP basic credentials" in message
    assert "The route has none of them now" in message
    assert "routes edit shop" in (caught.value.hint or "")


# -- region ----------------------------------------------------------------------------


def test_create_is_global_even_with_a_region_configured(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    backend_for(emulator).create_route("shop", RouteSpec.from_dict(spec()), {}, {})
    assert "region" not in emulator.state()["projects"][PROJECT]["routes"]["shop"]
    assert not any("--region" in call for call in emulator.calls())


@pytest.mark.parametrize("names", ["name", "metadata"])
@pytest.mark.parametrize("required", ["1", "0"])
def test_a_regional_route_is_updated_and_deleted_with_its_region(
    tmp_path: Path, names: str, required: str
) -> None:
    emulator = install(tmp_path)
    made = emulator.cli(
        "routes", "create", "shop", "--hostname", "shop.example.com", "--path",
        "/carts=shopping-cart", "--region", REGION,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {"AKKA_EMULATOR_JSON_NAMES": names, "AKKA_EMULATOR_REGION_REQUIRED": required}
    backend = backend_for(emulator, f"akka:?project={PROJECT}", **env)  # no region configured
    live = backend.get_route("shop")
    assert live is not None
    wanted = RouteSpec.from_dict(spec(host="v2.example.com"))
    backend.replace_route("shop", wanted, {}, {}, live.version)
    backend.delete_route("shop", None)
    writes = [call for call in emulator.calls()[1:] if call[2] in ("update", "delete")]
    assert [call[2] for call in writes] == ["update", "delete"]
    for call in writes:
        assert call[call.index("--region") + 1] == REGION
    reads = [call for call in emulator.calls()[1:] if call[2] in ("list", "get", "export")]
    assert reads and not any("--region" in call for call in reads)


def test_a_fresh_backend_learns_the_region_before_it_writes(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    emulator.cli(
        "routes", "create", "shop", "--hostname", "shop.example.com", "--path", "/c=c",
        "--region", REGION,
    )  # fmt: skip
    backend_for(emulator).delete_route("shop", None)
    assert emulator.state()["projects"][PROJECT]["routes"] == {}


def test_without_json_a_regional_route_fails_loudly_where_the_region_is_required(
    tmp_path: Path,
) -> None:
    emulator = install(tmp_path)
    emulator.cli(
        "routes", "create", "shop", "--hostname", "shop.example.com", "--path", "/c=c",
        "--region", REGION,
    )  # fmt: skip
    backend = backend_for(emulator, AKKA_EMULATOR_JSON="0")
    with pytest.raises(BackendError) as caught:
        backend.delete_route("shop", None)
    assert "the --region flag needs to be passed" in caught.value.message
    relaxed = backend_for(emulator, AKKA_EMULATOR_JSON="0", AKKA_EMULATOR_REGION_REQUIRED="0")
    relaxed.delete_route("shop", None)


def test_region_on_an_update_of_a_global_route_is_refused_by_the_emulator(
    tmp_path: Path,
) -> None:
    """Why `--region` may not go on every call: it would ask to move a global route."""
    emulator = install(tmp_path)
    emulator.seed({"shop": spec()})
    done = emulator.cli("routes", "update", "shop", "--path", "/x=y", "--region", REGION)
    assert done.returncode == 1 and "use --force-regional" in done.stderr
    moved = emulator.cli(
        "routes", "update", "shop", "--path", "/x=y", "--region", REGION, "--force-regional"
    )
    assert moved.returncode == 0, moved.stderr
    assert emulator.state()["projects"][PROJECT]["routes"]["shop"]["region"] == REGION


# -- output: documented text, JSON names, the -o json fallback -------------------------

DOCUMENTED_GET = (
    "Route: \tacme-ecommerce\n"
    "Host: \tecommerce.acme.org\n"
    "\n"
    "Paths:\n"
    "         /carts                            shopping-cart\n"
    "         /product                          product-info\n"
    "\n"
    "Status:\n"
    "\tHostValidation: False\n"
    "\t\tLast Transition: \tTue Nov  9 16:45:53 2021\n"
    "\t\tReason: \tDnsNotVerified\n"
    "\t\tMessage: \tHost ecommerce.acme.org did not resolve to a CNAME record. It must be "
    "configured to be a CNAME record to us-east1.akka.app\n"
    "\tReady: False\n"
    "\t\tLast Transition: \tTue Nov  9 16:45:53 2021\n"
    "\t\tReason: \tValidating\n"
    "\t\tMessage: \tValidating hostname\n"
)


def test_the_documented_get_text_is_parsed() -> None:
    host, ready = conditions_from_get(DOCUMENTED_GET, False)
    assert (host.type, host.status, host.reason) == ("HostValidation", "False", "DnsNotVerified")
    assert host.message.endswith("CNAME record to us-east1.akka.app")
    assert host.last_transition_time == "Tue Nov  9 16:45:53 2021"
    assert (ready.type, ready.status, ready.reason, ready.message) == (
        "Ready",
        "False",
        "Validating",
        "Validating hostname",
    )
    spaced = DOCUMENTED_GET.replace("\t", "    ")  # spaces instead of TABs read the same
    assert conditions_from_get(spaced, False) == (host, ready)
    with pytest.raises(BackendError):
        conditions_from_get("Status:\n\tgarbled line here\n", False)


def test_the_emulator_prints_the_documented_get_form(tmp_path: Path) -> None:
    emulator = install(tmp_path, hostnames={"shop.example.com": "unverified"})
    emulator.seed({"shop": spec()})
    text = emulator.cli("routes", "get", "shop").stdout
    assert text.startswith("Route: \tshop\nHost: \tshop.example.com\n\nPaths:\n")
    assert (
        "\nStatus:\n\tHostValidation: False\n\t\tLast Transition: \tTue Jan  2 03:04:05 2024\n"
        in text
    )
    assert [c.reason for c in conditions_from_get(text, False)] == ["DnsNotVerified", "Validating"]
    listed = emulator.cli("routes", "list").stdout.splitlines()
    assert listed[0].split() == ["NAME", "HOSTNAME", "PATHS", "CORS", "ENABLED", "STATUS"]
    assert listed[1].split() == ["shop", "shop.example.com", "/carts", "false", "DnsNotVerified"]


def test_json_shapes_both_ways() -> None:
    by_name = '[{"name": "b"}, {"name": "a"}]'
    by_metadata = '{"items": [{"metadata": {"name": "b"}}, {"metadata": {"name": "a"}}]}'
    assert names_from_list(by_name, True) == names_from_list(by_metadata, True) == ["a", "b"]
    with pytest.raises(BackendError) as caught:
        names_from_list('[{"hostname": "h"}]', True)
    assert "without name" in caught.value.message
    assert names_from_list("[]", True) == []
    got = '{"status": {"conditions": [{"type": "Ready", "status": true}]}}'
    assert conditions_from_get(got, True)[0].status == "True"
    assert region_from_get('{"metadata": {"region": "r1"}}', True) == "r1"
    assert region_from_get('{"regional": true}', True, default="r2") == "r2"
    assert region_from_get('{"name": "x"}', True, default="r2") is None


def test_a_metadata_name_cli_lists_its_routes(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    emulator.seed({"alpha": spec(), "beta": spec()})
    backend = backend_for(emulator, AKKA_EMULATOR_JSON_NAMES="metadata")
    assert [r.name for r in backend.list_routes()] == ["alpha", "beta"]


@pytest.mark.parametrize(
    ("message", "unsupported"),
    [
        ("Error: unknown shorthand flag: 'o' in -o", True),
        ("Error: unknown flag: --output", True),
        ('Error: invalid argument "json" for "-o, --output" flag: unknown format', True),
        ("Error: route 'feature-flags' failed: internal error", False),
        ("Error: flag parsing of feature-flags failed on the server", False),
    ],
)
def test_only_cobras_output_flag_errors_mean_no_json(message: str, unsupported: bool) -> None:
    assert json_output_unsupported(message) is unsupported


def test_an_error_about_feature_flags_is_not_taken_for_no_json(tmp_path: Path) -> None:
    emulator = install(tmp_path)
    emulator.seed({"feature-flags": spec()})
    run = f'AKKA_EMULATOR_PROG=akka "{sys.executable}" "{EMULATOR}"'
    (emulator.bin_dir / "akka").write_text(
        "#!/bin/sh\n"
        'if [ "$2" = get ]; then\n'
        "  echo \"Error: reading route 'feature-flags' failed: flag store broken\" >&2\n"
        "  exit 1\n"
        "fi\n"
        f'{run} "$@"\n'
    )
    backend = backend_for(emulator)
    with pytest.raises(BackendError) as caught:
        backend.get_route("feature-flags")
    assert "-o json" in caught.value.message
    gets = [call for call in emulator.calls() if call[2] == "get"]
    assert all("-o" in call for call in gets)  # never retried as text
