"""The packaged JSON Schema: shipped in the wheel, in step with the fast path, mapped to codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.descriptors import schema

ROOT = Path(__file__).parents[2]
# Codes only reachable through the mapping of jsonschema errors, tested here without YAML.
SCHEMA_UNIT_CODES = {"R018"}


def test_schema_is_valid_2020_12_and_rejects_unknown_fields() -> None:
    document = schema.load_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"].endswith("2020-12/schema")

    def closed(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, node
            for value in node.values():
                closed(value)

    closed(document)


def _source_copy(target: Path) -> Path:
    """A private copy of what the wheel is built from, so the build leaves the tree alone."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "reconciler", target / "reconciler", symlinks=True, ignore=skip)
    shutil.copytree(ROOT / "schemas", target / "schemas", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", target)
    readme = ROOT / "README.md"
    (target / "README.md").write_text(readme.read_text() if readme.exists() else "routes\n")
    return target


def test_installed_wheel_ships_the_schema(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    source = _source_copy(tmp_path / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    env = tmp_path / "venv"
    venv.create(env, system_site_packages=True, with_pip=False)
    python = env / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         str(next(wheels.glob("*.whl")))],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    probe = (
        "import reconciler, reconciler.descriptors.schema as s; "
        "print(reconciler.__file__); print(s.load_schema()['title']); "
        "print(s.validator().is_valid({'host': 'a.org', 'routes': []}))"
    )
    out = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout.splitlines()
    assert out[0].startswith(str(env)), out[0]  # the wheel's copy, not the source tree
    assert out[1:] == ["Route descriptor", "False"]


def test_unmapped_keyword_falls_back_to_r018() -> None:
    error = jsonschema.ValidationError("'x' is not one of ['a']", validator="enum", path=["host"])
    (problem,) = schema._explain(error)
    assert (problem.code, problem.path) == ("R018", ("host",))
    assert "`host`" in problem.message


VALID = {
    "host": "a.acme.org",
    "tls": {"clientValidationCa": {"name": "ca"}, "serverCertificate": {"name": "cert"}},
    "validation": {
        "clientCertificate": {"subjectMatches": [{"exact": "x"}, {"regex": "y"}]},
        "httpBasic": {"realm": "r", "passwordHashes": {"u": "sha256:x"}},
    },
    "corsPolicy": {"allowOrigins": ["https://a.org"], "allowMethods": ["GET"]},
    "routes": [{"prefix": "/", "route": {"service": "s"}, "name": "n", "enableWebsockets": True}],
}
ODD_VALUES = st.sampled_from(
    [None, "", "x", "/x", 0, True, False, [], [{}], {}, {"name": ""}, {"name": "n"}, {"exact": "a"},
     {"exact": "a", "regex": "b"}, {"service": "s"}, {"unknown": 1}, ["GET"], [""]]
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(document: Any, path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    head, rest = path[0], path[1:]
    if drop and not rest:
        del copy[head]
    else:
        copy[head] = _mutate(copy[head], rest, value, drop)
    return copy


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fast_path_agrees_with_jsonschema(data: st.DataObject) -> None:
    document: Any = VALID
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(document) if isinstance(document, dict | list) else [()]
        path = data.draw(st.sampled_from(paths))
        drop = bool(path) and data.draw(st.booleans())
        extra = data.draw(st.sampled_from(["", "typo"]))
        value = data.draw(ODD_VALUES)
        document = _mutate(document, path, value, drop)
        if extra and isinstance(document, dict):
            document = {**document, extra: 1}
    assert schema.conforms(document) == schema.validator().is_valid(document)


def test_valid_reference_document_passes_both() -> None:
    assert schema.conforms(VALID) and schema.validator().is_valid(VALID)
    assert schema.check(VALID) == []


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"host": "a", "routes": [{"prefix": "x", "route": {"service": "s"}}]}, "R012"),
        ({"host": "a", "routes": [{"prefix": "/", "route": {}}]}, "R014"),
        ({"host": 1, "routes": [{"prefix": "/", "route": {"service": "s"}}]}, "R015"),
    ],
)
def test_check_maps_errors_to_codes(document: dict[str, Any], code: str) -> None:
    assert [p.code for p in schema.check(document)] == [code]
