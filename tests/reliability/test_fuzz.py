"""Hostile input: the descriptor loader under random trees and bytes, the API under
schemathesis and hand-made abuse (oversized bodies, odd names, malformed JSON)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.descriptors.loader import load_blobs
from tests.http_server import running_server
from tests.pg_cluster import STORE_KINDS, store_location
from tests.reliability.support import ROOT, record, routes_env, serve

TOKEN = "fuzz-token-77c0"
SEVERITIES = {"error", "warning", "info"}
FILE = "routes/fuzzed.yaml"
CASES = 300

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=25,
)
# Trees shaped like descriptors reach past the schema into the semantic checks.
FIELDS = ["host", "routes", "tls", "validation", "corsPolicy", "prefix", "route", "service"]
descriptor_like = st.dictionaries(st.sampled_from(FIELDS), trees, max_size=5)
rules = st.fixed_dictionaries(
    {"prefix": st.sampled_from(["/", "/a", "/a/", "a", ""]) | st.text(max_size=8)},
    optional={"route": st.fixed_dictionaries({"service": st.text(max_size=8)})},
)
routes_like = st.fixed_dictionaries(
    {"host": st.sampled_from(["a.acme.org", "A.ACME.ORG.", "bücher.de", "", "x"])},
    optional={"routes": st.lists(rules, max_size=3), "corsPolicy": trees, "tls": trees},
)


def _loads_cleanly(content: bytes) -> int:
    """Load one file: never an exception, only well-formed diagnostics about that file."""
    result = load_blobs([(FILE, content)])
    for found in result.diagnostics:
        assert found.code and found.message, found
        assert found.severity in SEVERITIES, found
        assert found.file in (FILE, None), found
    return len(result.diagnostics)


class _Count:
    cases = 0


# The three properties run from one test, so the count of cases they ran is recorded by the
# test that ran them, whatever the order or the worker.
@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees | descriptor_like | routes_like)
def _random_yaml_trees(tree: Any) -> None:
    _Count.cases += 1
    _loads_cleanly(yaml.safe_dump(tree, allow_unicode=True).encode("utf-8"))


@settings(max_examples=CASES, deadline=None)
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def _random_bytes(content: bytes) -> None:
    _Count.cases += 1
    _loads_cleanly(content)


@settings(max_examples=CASES, deadline=None)
@given(
    documents=st.lists(trees | routes_like, min_size=1, max_size=3),
    envelope=st.booleans(),
    name=st.text(max_size=70),
)
def _random_project_documents(documents: list[Any], envelope: bool, name: str) -> None:
    _Count.cases += 1
    if envelope:
        documents = [
            {"resource": "Route", "resourceVersion": "v1", "metadata": {"name": name}, "spec": d}
            for d in documents
        ]
    _loads_cleanly(yaml.safe_dump_all(documents, allow_unicode=True).encode("utf-8"))


def test_random_input_gives_diagnostics_never_exceptions() -> None:
    before = _Count.cases
    for prop in (_random_yaml_trees, _random_bytes, _random_project_documents):
        prop()
    cases = _Count.cases - before
    assert cases >= CASES  # each property ran its examples
    record("loader-fuzz", fuzz_cases=cases, exceptions=0)


@pytest.mark.parametrize(
    "content", [b"[" * 60_000, b"- " * 60_000 + b"x"], ids=["flow-60k", "block-60k"]
)
def test_deep_nesting_is_a_diagnostic_not_a_crash(content: bytes, tmp_path: Path) -> None:
    """libyaml's composer overflows the C stack past ~20,000 levels; the loader refuses first."""
    (tmp_path / "deep.yaml").write_bytes(content)
    code = (
        "import sys; from pathlib import Path; "
        "from reconciler.descriptors.loader import load_blobs; "
        "r = load_blobs([('deep.yaml', Path(sys.argv[1]).read_bytes())]); "
        "print(' '.join(d.code for d in r.diagnostics))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "deep.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"the loader crashed (exit {done.returncode})"
    assert "R003" in done.stdout


# -- the API ------------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        running_server(tmp_path / "state.db", token=TOKEN) as server,
        httpx.Client(base_url=server.url, headers=auth) as client,
    ):
        yield client


SPEC = {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "cart"}}]}


def _clear_error(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10


@pytest.mark.parametrize(
    "raw_name",
    [
        "%2E%2E",
        "caf%C3%A9",
        "%E2%80%AEevil",
        "a" * 64,
        "Shop",
        "shop_1",
        "-shop",
        "shop-",
        "%00",
        "%20shop",
    ],
)
def test_odd_route_names_get_a_400_that_says_what_a_name_may_be(
    api: httpx.Client, raw_name: str
) -> None:
    for answer in (
        api.get(f"/v1/routes/{raw_name}"),
        api.put(f"/v1/routes/{raw_name}", json={"spec": SPEC}),
        api.delete(f"/v1/routes/{raw_name}"),
    ):
        _clear_error(answer, 400, "invalid_route_name")
        assert "1-63 characters" in answer.json()["error"]["message"]


def test_a_63_character_name_is_fine_and_a_traversal_never_reaches_the_store(
    api: httpx.Client,
) -> None:
    assert api.put(f"/v1/routes/{'a' * 63}", json={"spec": SPEC}).status_code == 201
    # A literal "../" is resolved by the URL before it is sent; an encoded one is a path
    # with slashes, which names no endpoint. Neither reaches the store.
    assert api.get("/v1/routes/../../etc/passwd").status_code == 404
    for method in ("GET", "PUT", "DELETE"):
        answer = api.request(method, "/v1/routes/..%2F..%2Fetc%2Fpasswd", json={"spec": SPEC})
        _clear_error(answer, 404, "not_found")
    assert api.get("/v1/routes").json()["items"][0]["name"] == "a" * 63


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "malformed_json"),
        (b'{"spec": }', "malformed_json"),
        (b'{"spec": NaN}', "malformed_json"),
        (b'{"spec": 1, "spec": 2}', "malformed_json"),
        (b"\xff\xfe{}", "malformed_json"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "malformed_json", id="nested-100k"),
        (b"", "malformed_json"),
        (b"[]", "invalid_request"),
        (b'{"spec": "shop"}', "invalid_spec"),
        (b'{"spec": {}, "extra": 1}', "invalid_request"),
    ],
)
def test_malformed_bodies_get_a_4xx_with_a_clear_body(
    api: httpx.Client, body: bytes, code: str
) -> None:
    answer = api.put("/v1/routes/shop", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500
    _clear_error(answer, answer.status_code, code)


def test_oversized_bodies_get_a_413_declared_or_chunked(api: httpx.Client) -> None:
    big = b'{"spec": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = api.put("/v1/routes/shop", content=big, headers={"Content-Type": "application/json"})
    _clear_error(declared, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    chunked = api.put(
        "/v1/routes/shop", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _clear_error(chunked, 413, "payload_too_large")


def test_a_body_that_is_not_json_gets_a_415(api: httpx.Client) -> None:
    answer = api.put("/v1/routes/shop", content=b"host: a", headers={"Content-Type": "text/yaml"})
    _clear_error(answer, 415, "unsupported_media_type")


# -- schemathesis ---------------------------------------------------------------------------------


@pytest.fixture(params=STORE_KINDS)
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_location(request, tmp_path)


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    tmp_path: Path, store_at: str
) -> None:
    """Every check but ``positive_data_acceptance``: the document cannot say that a
    pageToken must be one the server issued, that If-Match and If-None-Match exclude each
    other, or that a hostname must be a DNS name after IDNA, so schema-valid requests the
    server rightly refuses would read as failures."""
    st_cli = shutil.which("schemathesis") or shutil.which("st")
    if st_cli is None:
        pytest.fail("schemathesis is missing: pip install -e '.[test]'")
    with serve(store_at, TOKEN, "--no-access-log") as (_, url):
        done = subprocess.run(
            [
                st_cli,
                "run",
                str(ROOT / "schemas" / "openapi.yaml"),
                "--url",
                url,
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                os.environ.get("ROUTES_SCHEMATHESIS_EXAMPLES", "40"),
                "--seed",
                "1",
                "--workers",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=routes_env(),
            cwd=tmp_path,  # schemathesis leaves a .schemathesis/ folder where it runs
            check=False,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated, output[-2000:]
    kind = "" if store_at.endswith(".db") else "-postgresql"
    record(f"schemathesis{kind}", fuzz_cases=int(generated[1]), server_errors=0)
