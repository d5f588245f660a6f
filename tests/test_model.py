"""Canonical form (DESIGN §3): specs the platform treats the same compare equal."""

from __future__ import annotations

import copy
from typing import Any

import idna
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import RouteSpec, digest_of

LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
UNICODE_LABEL = st.text("abcdeüéößçñ", min_size=1, max_size=8)
PREFIX = st.text("abcdefgh/-_.", max_size=12).map(lambda rest: "/" + rest)
SERVICE = st.text("abcdefghij-", min_size=1, max_size=10)
ORIGIN = st.builds(
    lambda scheme, host, port: f"{scheme}://{host}.acme.org{port}",
    st.sampled_from(["http", "https"]),
    LABEL,
    st.sampled_from(["", ":8443"]),
)
METHOD = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
MATCHER = st.tuples(st.sampled_from(["exact", "hasPrefix", "hasSuffix", "regex"]), SERVICE)


@st.composite
def descriptors(draw: st.DrawFn) -> dict[str, Any]:
    """Schema-valid descriptors covering every optional part of DESIGN §2."""
    host = ".".join(draw(st.lists(UNICODE_LABEL | LABEL, min_size=2, max_size=4)))
    prefixes = draw(st.lists(PREFIX, min_size=1, max_size=6, unique=True))
    rules = []
    for prefix in prefixes:
        rule: dict[str, Any] = {"prefix": prefix, "route": {"service": draw(SERVICE)}}
        if draw(st.booleans()):
            rule["name"] = draw(SERVICE)
        if draw(st.booleans()):
            rule["enableWebsockets"] = draw(st.booleans())
        rules.append(rule)
    descriptor: dict[str, Any] = {"host": host, "routes": rules}
    if draw(st.booleans()):
        descriptor["corsPolicy"] = {
            "allowOrigins": draw(st.lists(ORIGIN, max_size=3, unique=True)),
            "allowMethods": draw(st.lists(METHOD, max_size=4, unique=True)),
        }
    if draw(st.booleans()):
        descriptor["tls"] = {"clientValidationCa": {"name": draw(SERVICE)}}
        if draw(st.booleans()):
            descriptor["tls"]["serverCertificate"] = {"name": draw(SERVICE)}
    validation: dict[str, Any] = {}
    matchers = draw(st.lists(MATCHER, max_size=4, unique=True))
    if matchers:
        validation["clientCertificate"] = {"subjectMatches": [{k: v} for k, v in matchers]}
    if draw(st.booleans()):
        users = draw(st.lists(SERVICE, min_size=1, max_size=3, unique=True))
        validation["httpBasic"] = {
            "realm": draw(SERVICE),
            "passwordHashes": {user: f"sha256:{user}=" for user in users},
        }
    if validation:
        descriptor["validation"] = validation
    return descriptor


def _reshuffled(descriptor: dict[str, Any], rnd: Any) -> dict[str, Any]:
    """The same route written differently: order, case, trailing dot, punycode, defaults."""
    out = copy.deepcopy(descriptor)
    host = out["host"]
    forms = [host + ".", idna.encode(host, uts46=True).decode("ascii")]
    if host.upper().lower() == host:  # "ß".upper() is "SS": another host, not another case
        forms.append(host.upper())
    out["host"] = rnd.choice(forms)
    rnd.shuffle(out["routes"])
    for rule in out["routes"]:
        if rule.get("enableWebsockets") is False and rnd.random() < 0.5:
            del rule["enableWebsockets"]
        elif "enableWebsockets" not in rule and rnd.random() < 0.5:
            rule["enableWebsockets"] = False
    cors = out.get("corsPolicy")
    if cors is not None:
        rnd.shuffle(cors["allowOrigins"])
        cors["allowMethods"] = [
            m.lower() if rnd.random() < 0.5 else m for m in cors["allowMethods"]
        ]
        rnd.shuffle(cors["allowMethods"])
    client = out.get("validation", {}).get("clientCertificate")
    if client is not None:
        rnd.shuffle(client["subjectMatches"])
    if "tls" not in out and rnd.random() < 0.5:
        out["tls"] = {}
    if "validation" not in out and rnd.random() < 0.5:
        out["validation"] = {}
    if "corsPolicy" not in out and rnd.random() < 0.5:
        out["corsPolicy"] = {}
    return out


@settings(max_examples=200, deadline=None)
@given(descriptors())
def test_canonicalisation_is_idempotent(descriptor: dict[str, Any]) -> None:
    spec = RouteSpec.from_dict(descriptor)
    assert RouteSpec.from_dict(spec.to_dict()) == spec
    assert RouteSpec.from_dict(spec.to_dict()).fingerprint() == spec.fingerprint()


@settings(max_examples=200, deadline=None)
@given(descriptors(), st.randoms(use_true_random=False))
def test_canonical_form_ignores_what_the_platform_ignores(
    descriptor: dict[str, Any], rnd: Any
) -> None:
    assert RouteSpec.from_dict(_reshuffled(descriptor, rnd)) == RouteSpec.from_dict(descriptor)


def test_host_forms_compare_equal() -> None:
    forms = [
        "bücher.acme.org",
        "BÜCHER.acme.org.",
        "xn--bcher-kva.acme.org",
        "XN--BCHER-KVA.ACME.ORG",
    ]
    specs = {RouteSpec.from_dict({"host": h, "routes": []}) for h in forms}
    assert [spec.host for spec in specs] == ["xn--bcher-kva.acme.org"]


def test_prefixes_compare_literally() -> None:
    rule = {"route": {"service": "cart"}}
    one = RouteSpec.from_dict({"host": "a.org", "routes": [{"prefix": "/carts", **rule}]})
    other = RouteSpec.from_dict({"host": "a.org", "routes": [{"prefix": "/carts/", **rule}]})
    assert one != other


def test_cors_without_origins_is_no_policy() -> None:
    base = {"host": "a.org", "routes": [{"prefix": "/", "route": {"service": "s"}}]}
    empty = RouteSpec.from_dict(
        {**base, "corsPolicy": {"allowOrigins": [], "allowMethods": ["GET"]}}
    )
    assert empty == RouteSpec.from_dict(base)
    assert empty.cors is None


def test_redacted_form_hides_password_hashes() -> None:
    spec = RouteSpec.from_dict(
        {
            "host": "a.org",
            "validation": {"httpBasic": {"realm": "r", "passwordHashes": {"admin": "sha256:x"}}},
            "routes": [{"prefix": "/", "route": {"service": "s"}}],
        }
    )
    assert "sha256:x" not in repr(spec.to_dict(redact=True))
    assert spec.to_dict()["validation"]["httpBasic"]["passwordHashes"] == {"admin": "sha256:x"}


@given(descriptors())
def test_the_fingerprint_is_the_digest_of_the_redacted_spec(descriptor: dict[str, Any]) -> None:
    # Specs without secrets take a cached shortcut; it must give the very same digest.
    spec = RouteSpec.from_dict(descriptor)
    assert spec.fingerprint() == digest_of(spec.to_dict(redact=True))
