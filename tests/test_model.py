"""Canonical form (DESIGN §3): specs the platform treats the same compare equal."""

from __future__ import annotations

import copy
from typing import Any

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import PlanError
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


@settings(max_examples=200)
@given(descriptors(), descriptors())
def test_specs_are_equal_exactly_when_their_canonical_texts_are(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    a, b = RouteSpec.from_dict(one), RouteSpec.from_dict(other)
    fields = (a.host, a.paths, a.cors, a.tls, a.validation)
    same = fields == (b.host, b.paths, b.cors, b.tls, b.validation)
    assert (a == b) is same
    assert (a.canonical_json() == b.canonical_json()) is same  # texts made: compared as text
    assert (a == b) is same and (hash(a) == hash(b) or not same)


@given(descriptors())
def test_a_spec_read_back_from_its_canonical_text_is_the_same_spec(
    descriptor: dict[str, Any],
) -> None:
    spec = RouteSpec.from_dict(descriptor)
    back = RouteSpec.from_canonical_json(spec.canonical_json(), spec.host)
    assert back == spec and hash(back) == hash(spec)
    assert back.fingerprint() == spec.fingerprint()
    assert (back.paths, back.cors, back.tls, back.validation) == (
        spec.paths,
        spec.cors,
        spec.tls,
        spec.validation,
    )
    assert back.to_dict() == spec.to_dict() and repr(back) == repr(spec)


@pytest.mark.parametrize(
    "edit",
    [
        lambda text, host: (text.replace('"routes"', ' "routes"', 1), host),  # not canonical
        lambda text, host: (text, "other.acme.org"),  # another host than the text's
        lambda text, host: (text.replace("/carts", "/", 1), host),  # two rules for "/"
    ],
)
def test_a_text_that_is_not_what_it_says_never_stands_for_a_spec(edit: Any) -> None:
    spec = RouteSpec.from_dict(
        {
            "host": "shop.acme.org",
            "routes": [
                {"prefix": "/", "route": {"service": "front"}},
                {"prefix": "/carts", "route": {"service": "cart"}},
            ],
        }
    )
    text, host = edit(spec.canonical_json(), spec.host)
    back = RouteSpec.from_canonical_json(text, host)
    with pytest.raises(PlanError, match="not what that text says") as caught:
        _ = back.paths
    assert "--no-cache" in (caught.value.hint or "")
