"""Two specs -> operations and risks: tiny scenarios, pip-tools style (one row, one change)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import RouteSpec
from reconciler.spec_diff import FieldDifference, compute_operations, field_differences, risks

HASH_A = "sha256:" + "A" * 43 + "="
HASH_B = "sha256:" + "B" * 43 + "="


def spec(*paths: tuple[str, str], **extra: Any) -> RouteSpec:
    rules = [{"prefix": p, "route": {"service": s}} for p, s in paths]
    return RouteSpec.from_dict(
        {"host": extra.pop("host", "shop.acme.org"), "routes": rules, **extra}
    )


BASE = spec(("/", "web"), ("/carts", "cart"))
CORS = {"allowOrigins": ["https://a.org"], "allowMethods": ["GET"]}
BASIC_A = {"httpBasic": {"realm": "R", "passwordHashes": {"admin": HASH_A}}}
BASIC_B = {"httpBasic": {"realm": "R", "passwordHashes": {"admin": HASH_B}}}
CA = {"clientValidationCa": {"name": "root-ca"}}
MTLS = {"clientCertificate": {"subjectMatches": [{"exact": "c.acme.org"}]}}

SCENARIOS: list[tuple[str, RouteSpec, RouteSpec, list[str], list[str]]] = [
    # (label, before, after, operations, risks)
    ("same", BASE, BASE, [], []),
    ("order of rules means nothing", BASE, spec(("/carts", "cart"), ("/", "web")), [], []),
    (
        "add a path",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), ("/inv", "inv")),
        ["add-path /inv"],
        [],
    ),
    ("remove a path", BASE, spec(("/", "web")), ["remove-path /carts"], ["path-removed"]),
    (
        "retarget a path",
        BASE,
        spec(("/", "web"), ("/carts", "cart-v2")),
        ["set-path-service /carts"],
        [],
    ),
    (
        "trailing slash is another prefix",
        BASE,
        spec(("/", "web"), ("/carts/", "cart")),
        ["add-path /carts/", "remove-path /carts"],
        ["path-removed"],
    ),
    (
        "move host",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), host="new.acme.org"),
        ["set-host"],
        ["host-changed"],
    ),
    (
        "host case and dot mean nothing",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), host="Shop.ACME.org."),
        [],
        [],
    ),
    (
        "turn CORS on",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), corsPolicy=CORS),
        ["set-cors"],
        [],
    ),
    (
        "CORS for any origin",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), corsPolicy={"allowOrigins": ["*"]}),
        ["set-cors"],
        ["cors-wildcard"],
    ),
    (
        "websockets on",
        BASE,
        RouteSpec.from_dict(
            {
                "host": "shop.acme.org",
                "routes": [
                    {"prefix": "/", "route": {"service": "web"}},
                    {"prefix": "/carts", "route": {"service": "cart"}, "enableWebsockets": True},
                ],
            }
        ),
        ["set-path-options /carts"],
        [],
    ),
    (
        "websockets false is absent",
        BASE,
        RouteSpec.from_dict(
            {
                "host": "shop.acme.org",
                "routes": [
                    {"prefix": "/", "route": {"service": "web"}},
                    {"prefix": "/carts", "route": {"service": "cart"}, "enableWebsockets": False},
                ],
            }
        ),
        [],
        [],
    ),
    (
        "add basic auth",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), validation=BASIC_A),
        ["set-validation"],
        [],
    ),
    (
        "drop basic auth",
        spec(("/", "web"), ("/carts", "cart"), validation=BASIC_A),
        BASE,
        ["set-validation"],
        ["basic-auth-removed"],
    ),
    (
        "drop mTLS (the client CA)",
        spec(("/", "web"), ("/carts", "cart"), tls=CA, validation=MTLS),
        BASE,
        ["set-tls", "set-validation"],
        ["mtls-removed"],
    ),
    (
        "change a TLS secret",
        spec(("/", "web"), ("/carts", "cart"), tls=CA),
        spec(("/", "web"), ("/carts", "cart"), tls={"clientValidationCa": {"name": "other-ca"}}),
        ["set-tls"],
        [],
    ),
]


def _shown(op: Any) -> str:
    return f"{op.op} {op.prefix}" if op.prefix else op.op


@pytest.mark.parametrize(
    ("label", "before", "after", "operations", "risk"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_operations_and_risks(
    label: str, before: RouteSpec, after: RouteSpec, operations: list[str], risk: list[str]
) -> None:
    assert sorted(_shown(op) for op in compute_operations(before, after)) == sorted(operations)
    assert list(risks(before, after)) == risk


def test_a_changed_password_hash_is_named_but_never_shown() -> None:
    before = spec(("/", "web"), validation=BASIC_A)
    after = spec(("/", "web"), validation=BASIC_B)
    (op,) = compute_operations(before, after)
    assert op.op == "set-validation"
    assert op.changed == ("httpBasic.passwordHashes.admin",)
    assert HASH_A not in str(op.to_dict()) and HASH_B not in str(op.to_dict())


# live, described -> the differences, said as live against described
EVIL_CORS = {"allowOrigins": ["https://a.org", "https://evil.org"], "allowMethods": ["GET"]}
DIFFERENCES: list[tuple[str, RouteSpec, RouteSpec, list[FieldDifference]]] = [
    ("same", BASE, BASE, []),
    (
        "retargeted",
        spec(("/", "web"), ("/carts", "evil")),
        BASE,
        [FieldDifference("path", "evil", "cart", key="/carts")],
    ),
    (
        "added live",
        spec(("/", "web"), ("/carts", "cart"), ("/debug", "dbg")),
        BASE,
        [FieldDifference("path", "dbg", None, key="/debug")],
    ),
    (
        "removed live",
        spec(("/", "web")),
        BASE,
        [FieldDifference("path", None, "cart", key="/carts")],
    ),
    (
        "host",
        spec(("/", "web"), ("/carts", "cart"), host="b.acme.org"),
        BASE,
        [FieldDifference("host", "b.acme.org", "shop.acme.org")],
    ),
    (
        "origin added live",
        spec(("/", "web"), ("/carts", "cart"), corsPolicy=EVIL_CORS),
        spec(("/", "web"), ("/carts", "cart"), corsPolicy=CORS),
        [FieldDifference("corsPolicy.allowOrigins", "https://evil.org", None)],
    ),
    (
        "method added live",
        spec(
            ("/", "web"),
            corsPolicy={"allowOrigins": ["https://a.org"], "allowMethods": ["GET", "PUT"]},
        ),
        spec(("/", "web"), corsPolicy=CORS),
        [FieldDifference("corsPolicy.allowMethods", "PUT", None)],
    ),
    (
        "mTLS removed live",
        BASE,
        spec(("/", "web"), ("/carts", "cart"), tls=CA, validation=MTLS),
        [
            FieldDifference("tls.clientValidationCa.name", None, "root-ca"),
            FieldDifference(
                "validation.clientCertificate.subjectMatches", None, {"exact": "c.acme.org"}
            ),
        ],
    ),
    (
        "websockets on live",
        RouteSpec.from_dict(
            {
                "host": "shop.acme.org",
                "routes": [
                    {"prefix": "/", "route": {"service": "web"}},
                    {"prefix": "/carts", "route": {"service": "cart"}, "enableWebsockets": True},
                ],
            }
        ),
        BASE,
        [FieldDifference("path.enableWebsockets", True, None, key="/carts")],
    ),
]


@pytest.mark.parametrize(
    ("live", "described", "expected"),
    [row[1:] for row in DIFFERENCES],
    ids=[row[0] for row in DIFFERENCES],
)
def test_field_differences(
    live: RouteSpec, described: RouteSpec, expected: list[FieldDifference]
) -> None:
    found = field_differences(live.to_dict(redact=True), described.to_dict(redact=True))
    assert list(found) == expected


def test_a_changed_password_hash_is_a_difference_without_its_value() -> None:
    live = spec(("/", "web"), validation=BASIC_A).to_dict(redact=True)
    described = spec(("/", "web"), validation=BASIC_B).to_dict(redact=True)
    (found,) = field_differences(live, described, ["httpBasic.passwordHashes.admin"])
    assert found == FieldDifference(
        "validation.httpBasic.passwordHashes.admin", "(sensitive value)", "(sensitive value)"
    )
    assert HASH_A not in str(found) and HASH_B not in str(found)


def test_a_route_missing_live_differs_in_every_described_field() -> None:
    found = field_differences(None, BASE.to_dict(redact=True))
    assert [(d.field, d.key, d.live) for d in found] == [
        ("host", None, None),
        ("path", "/", None),
        ("path", "/carts", None),
    ]
