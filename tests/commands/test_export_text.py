"""``routes export`` writes each descriptor byte for byte as it always did (PyYAML's own
emitter, unicode as itself), in both forms, whatever the live specs hold: hostile names
and realms, unicode, words YAML would read as booleans, numbers or dates, long text."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.backends.memory import MemoryBackend
from reconciler.commands.export import export_routes
from reconciler.config import Settings
from reconciler.descriptors.spec_check import spec_errors
from reconciler.model import RouteSpec
from tests.strategies import descriptors, hashes
from tests.test_descriptor_yaml import EDGE_STRINGS

# Valid service names that YAML reads as something else when plain.
_services = st.one_of(
    st.sampled_from(["yes", "no", "on", "off", "y", "n", "null", "true", "1", "0", "1e3"]),
    st.sampled_from(["2001-12-14", "0o17", "12", "1-0", "nan", "inf", "cart"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True),
)
_words = st.one_of(
    st.sampled_from([s for s in EDGE_STRINGS if s.strip()]),
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=120),
    st.text(st.sampled_from("a é日😀\U0001d518:#'\"-"), min_size=1, max_size=120),
)


@st.composite
def hostile_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A descriptor routes validate accepts, with drawn text wherever the schema allows it."""
    spec = draw(descriptors())
    for rule in spec["routes"]:
        rule["route"]["service"] = draw(_services)
        if draw(st.booleans()):
            rule["name"] = draw(_words)
    if draw(st.booleans()):
        spec["validation"] = {
            "clientCertificate": {"subjectMatches": [{"regex": draw(_words)}]},
            "httpBasic": {"realm": draw(_words), "passwordHashes": {draw(_words): draw(hashes)}},
        }
        spec["tls"] = {"clientValidationCa": {"name": draw(_services)}}
    return spec


def _reference(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_specs(), min_size=1, max_size=4))
def test_exported_files_read_as_pyyaml_wrote_them(
    tmp_path_factory: pytest.TempPathFactory, specs: list[dict[str, Any]]
) -> None:
    backend = MemoryBackend("memory:")
    expected: dict[str, RouteSpec] = {}
    for index, descriptor in enumerate(specs):
        spec = RouteSpec.from_dict(descriptor)
        if spec_errors(spec.to_dict()):
            continue  # export refuses those (tested elsewhere); only writable ones here
        backend.create_route(f"route-{index}", spec, {}, {})
        expected[f"route-{index}"] = spec
    for form in ("bare", "project"):
        out = tmp_path_factory.mktemp(form)
        export_routes(Settings(root=out), backend, [], out, form, include_unmanaged=True)
        for name, spec in expected.items():
            document = spec.to_dict()
            if form == "project":
                document = {
                    "resource": "Route",
                    "resourceVersion": "v1",
                    "metadata": {"name": name},
                    "spec": document,
                }
            written = (out / f"{name}.yaml").read_bytes()
            assert written == _reference(document).encode("utf-8")
