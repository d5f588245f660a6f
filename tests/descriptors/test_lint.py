"""Schema and semantic checks: every code, its location, and a message that says what to do."""

from __future__ import annotations

import pytest

from reconciler.descriptors.lint import CODES, host_problem, route_name_problem
from reconciler.descriptors.loader import load_blobs, load_paths
from tests.descriptors.test_loader import BAD, BUILT_CODES, FIXTURES, LOAD_CASES, find
from tests.descriptors.test_schema import SCHEMA_UNIT_CODES

# (fixture under tests/fixtures/bad, code, file shown, line, column)
LINT_CASES = [
    ("prefix-without-slash.yaml", "R012", "bad/prefix-without-slash.yaml", 6, 11),
    ("unknown-field.yaml", "R013", "bad/unknown-field.yaml", 2, 1),
    ("missing-host.yaml", "R014", "bad/missing-host.yaml", 1, 1),
    ("wrong-type.yaml", "R015", "bad/wrong-type.yaml", 4, 20),
    ("empty-routes.yaml", "R016", "bad/empty-routes.yaml", 2, 9),
    ("matcher-two-keys.yaml", "R017", "bad/matcher-two-keys.yaml", 7, 7),
    ("dup-name", "R010", "bad/dup-name/shop.yaml", 1, 1),
    ("duplicate-prefix.yaml", "R020", "bad/duplicate-prefix.yaml", 7, 11),
    ("client-cert-without-ca.yaml", "R021", "bad/client-cert-without-ca.yaml", 3, 3),
    ("bad-regex.yaml", "R022", "bad/bad-regex.yaml", 7, 14),
    ("bad-password-hash.yaml", "R023", "bad/bad-password-hash.yaml", 6, 14),
    ("bad-method.yaml", "R024", "bad/bad-method.yaml", 4, 23),
    ("bad-origin.yaml", "R025", "bad/bad-origin.yaml", 4, 5),
    ("bad-host.yaml", "R026", "bad/bad-host.yaml", 1, 7),
    ("wildcard-host.yaml", "R027", "bad/wildcard-host.yaml", 1, 7),
    ("bad-prefix-chars.yaml", "R030", "bad/bad-prefix-chars.yaml", 3, 11),
    ("bad-service.yaml", "R031", "bad/bad-service.yaml", 4, 20),
    ("control-char-rule-name.yaml", "R032", "bad/control-char-rule-name.yaml", 5, 9),
    ("bad-secret-name.yaml", "R033", "bad/bad-secret-name.yaml", 3, 29),
    ("basic-without-realm.yaml", "R034", "bad/basic-without-realm.yaml", 4, 5),
    ("shadowed", "W101", "bad/shadowed/shop-items.yaml", 5, 11),
    ("shadowed", "W102", "bad/shadowed/shop.yaml", 1, 7),
    ("cors-any-origin.yaml", "W103", "bad/cors-any-origin.yaml", 3, 18),
    ("cors-no-origins.yaml", "W104", "bad/cors-no-origins.yaml", 3, 3),
]


@pytest.mark.parametrize(("fixture", "code", "file", "line", "column"), LINT_CASES)
def test_check_reports_its_code_at_the_offending_node(
    fixture: str, code: str, file: str, line: int, column: int
) -> None:
    result = load_paths([BAD / fixture], root=FIXTURES)
    found = find(result.diagnostics, code)
    assert (found.file, found.line, found.column) == (file, line, column)
    assert found.severity == CODES[code][0]
    assert found.route is not None
    if found.severity == "error":
        assert found.route not in result.routes


def test_every_code_is_covered_by_a_located_test() -> None:
    covered = {case[1] for case in LOAD_CASES} | {case[1] for case in LINT_CASES}
    covered |= BUILT_CODES | SCHEMA_UNIT_CODES
    assert covered == {code for code in CODES if code[0] in "RWI"}  # the descriptor codes


def test_codes_are_stable_and_well_formed() -> None:
    for code, (severity, summary) in CODES.items():
        if code[0] in "RWI":
            assert severity == {"R": "error", "W": "warning", "I": "info"}[code[0]]
        assert code[0] in "RWIPBT" and severity in ("error", "warning", "info")
        assert len(code) == 4 and code[1:].isdigit() and summary


def test_prefix_message_is_exact() -> None:
    found = find(load_paths([BAD / "prefix-without-slash.yaml"], root=FIXTURES).diagnostics, "R012")
    assert found.message == 'prefix must start with "/" (got "carts")'
    assert found.route == "prefix-without-slash"


def test_unknown_field_suggests_the_close_name() -> None:
    found = find(load_paths([BAD / "unknown-field.yaml"], root=FIXTURES).diagnostics, "R013")
    assert found.message == "unknown field `corsPolcy` (did you mean `corsPolicy`?)"
    nested = load_blobs(
        [
            (
                "x.yaml",
                b"host: a.org\nroutes:\n- prefix: /\n  route: {service: s}\n  websockets: true\n",
            )
        ]
    )
    assert "did you mean `enableWebsockets`" in find(nested.diagnostics, "R013").message
    far = load_blobs([("x.yaml", b"host: a.org\nzzz: 1\nroutes: []\n")])
    assert (
        "allowed: corsPolicy, host, routes, tls, validation"
        in find(far.diagnostics, "R013").message
    )


def test_duplicate_route_names_name_both_places() -> None:
    result = load_paths([BAD / "dup-name"], root=FIXTURES)
    found = find(result.diagnostics, "R010")
    assert "bad/dup-name/shop.yaml:1" in found.message
    assert "bad/dup-name/more/shop.yml:2" in found.message
    assert "shop" not in result.routes


def test_password_hash_is_never_echoed() -> None:
    found = find(load_paths([BAD / "bad-password-hash.yaml"], root=FIXTURES).diagnostics, "R023")
    assert "AAAA" not in found.message and '"admin"' in found.message


@pytest.mark.parametrize(
    ("digest", "ok"),
    [
        ("sha256:" + "A" * 43 + "=", True),  # 32 bytes
        ("sha384:" + "A" * 64, True),  # 48 bytes
        ("sha512:" + "A" * 86 + "==", True),  # 64 bytes
        ("sha512:" + "A" * 43 + "=", False),  # 32 bytes for sha512
        ("md5:" + "A" * 22 + "==", False),
        ("sha256:not base64!", False),
        ("sha256:" + "A" * 43, False),  # missing padding
    ],
)
def test_password_hash_shapes(digest: str, ok: bool) -> None:
    text = (
        "host: a.acme.org\nvalidation:\n  httpBasic:\n    realm: Shop\n    passwordHashes:\n"
        f'      admin: "{digest}"\nroutes:\n- prefix: /\n  route: {{service: s}}\n'
    )
    codes = [d.code for d in load_blobs([("a.yaml", text.encode())]).diagnostics]
    assert codes == ([] if ok else ["R023"])


@pytest.mark.parametrize(
    ("origin", "code"),
    [
        ("https://www.acme.org", None),
        ("http://localhost:8080", None),
        ("https://www.acme.org/", None),
        ("*", "W103"),
        ("www.acme.org", "R025"),
        ("https://www.acme.org/path", "R025"),
        ("https://www.acme.org:99999", "R025"),
        ("ftp//x", "R025"),
    ],
)
def test_cors_origins(origin: str, code: str | None) -> None:
    text = (
        f'host: a.acme.org\ncorsPolicy:\n  allowOrigins: ["{origin}"]\n'
        "routes:\n- prefix: /\n  route: {service: s}\n"
    )
    codes = [d.code for d in load_blobs([("a.yaml", text.encode())]).diagnostics]
    assert codes == ([code] if code else [])


@pytest.mark.parametrize(
    ("host", "code"),
    [
        ("ecommerce.acme.org", None),
        ("Bücher.acme.org.", None),
        ("*.acme.org", "R027"),
        ("shop.*.org", "R027"),
        ("https://shop.acme.org", "R026"),
        ("-shop.acme.org", "R026"),
        ("shop..acme.org", "R026"),
        ("a" * 64 + ".org", "R026"),
    ],
)
def test_host_names(host: str, code: str | None) -> None:
    problem = host_problem(host)
    assert (problem[0] if problem else None) == code
    if code == "R027":
        assert "concrete host names" in problem[1]  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("shop", True),
        ("a", True),
        ("a-1", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("-a", False),
        ("a-", False),
        ("Shop", False),
        ("a_b", False),
        ("", False),
    ],
)
def test_route_names(name: str, ok: bool) -> None:
    assert (route_name_problem(name) is None) == ok


def test_methods_are_case_insensitive() -> None:
    text = (
        b"host: a.acme.org\ncorsPolicy:\n  allowOrigins: [https://a.org]\n"
        b"  allowMethods: [get, Post]\n"
        b"routes:\n- prefix: /\n  route: {service: s}\n"
    )
    assert load_blobs([("a.yaml", text)]).diagnostics == ()


def test_nested_prefixes_in_one_route_are_fine() -> None:
    text = (
        b"host: a.acme.org\nroutes:\n- prefix: /a\n  route: {service: s}\n"
        b"- prefix: /a/b\n  route: {service: t}\n"
    )
    assert load_blobs([("a.yaml", text)]).diagnostics == ()
