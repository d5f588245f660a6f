"""The platform's rules for each field of a schema-valid route spec (what the JSON Schema
cannot say). ``reconciler.descriptors.spec_check`` runs them; nothing else should."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.canonical import canonical_host
from reconciler.descriptors.schema import SchemaProblem as SpecProblem
from reconciler.quoting import quote, unsafe_char

Path = tuple[str | int, ...]
Refer = Callable[[Path], str]

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SECRET = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
# RFC 3986 path characters: unreserved, sub-delims, ":", "@", "/" and percent-encodings.
_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_ORIGIN = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[^/:]+)(?::(?P<port>[0-9]{1,5}))?/?", re.ASCII
)
_HASH = re.compile(r"(sha256|sha384|sha512):([A-Za-z0-9+/]+={0,2})")
_DIGEST_BYTES = {"sha256": 32, "sha384": 48, "sha512": 64}
HTTP_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
TEXT_LIMIT = 253


def route_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid route name, or None when it is."""
    if _LABEL.fullmatch(name):
        return None
    return (
        f"route name {quote(name[:100])} is invalid: use 1-63 characters of a-z, 0-9 and -, "
        "starting and ending with a letter or digit"
    )


def host_problem(host: str) -> tuple[str, str] | None:
    """(code, message) when ``host`` cannot be a project host name, else None."""
    if "*" in host:
        return "R027", (
            f"host {quote(host)} is a wildcard: the platform routes concrete host names only, "
            "so write one route per host"
        )
    name = canonical_host(host)
    labels = name.split(".")
    if (
        len(name) > 253
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
        or not _punycode_ok(labels)
    ):
        return "R026", (
            f"host {quote(host)} is not a valid host name: use dot-separated labels of "
            "a-z, 0-9 and - ending in a name, not a number (no IP address, scheme, port or path)"
        )
    return None


def _punycode_ok(labels: list[str]) -> bool:
    if not any(label.startswith("xn--") for label in labels):
        return True
    import idna  # imported only for a host that has punycode labels

    try:
        for label in labels:
            if label.startswith("xn--"):
                idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def check_host(descriptor: Mapping[str, Any]) -> Iterator[SpecProblem]:
    problem = host_problem(descriptor["host"])
    if problem:
        yield SpecProblem(problem[0], problem[1], ("host",))


def check_rules(descriptor: Mapping[str, Any], refer: Refer) -> Iterator[SpecProblem]:
    first: dict[str, int] = {}
    for index, rule in enumerate(descriptor["routes"]):
        at: Path = ("routes", index)
        prefix = rule["prefix"]
        if not _PATH.fullmatch(prefix):
            yield SpecProblem(
                "R030",
                f"prefix {quote(prefix)} is not a URL path: use letters, digits and "
                "-._~!$&'()*+,;=:@/ only, percent-encoding anything else (%20 for a space)",
                (*at, "prefix"),
            )
        if prefix in first:
            yield SpecProblem(
                "R020",
                f"prefix {quote(prefix)} appears twice (first at "
                f"{refer(('routes', first[prefix], 'prefix'))}): keep one rule per prefix",
                (*at, "prefix"),
            )
        else:
            first[prefix] = index
        service = rule["route"]["service"]
        if not _LABEL.fullmatch(service):
            yield SpecProblem(
                "R031",
                f"service {quote(service)} is not a service name: use 1-63 characters of "
                "a-z, 0-9 and -, starting and ending with a letter or digit",
                (*at, "route", "service"),
            )
        if "name" in rule:
            yield from _text_problem(rule["name"], "rule name", (*at, "name"))


def _text_problem(value: str, what: str, path: Path, forbidden: str = "") -> Iterator[SpecProblem]:
    bad = unsafe_char(value) or next((c for c in value if c in forbidden), None)
    if bad is not None or len(value) > TEXT_LIMIT:
        why = f"holds {quote(bad)}" if bad is not None else f"is over {TEXT_LIMIT} characters"
        yield SpecProblem(
            "R032",
            f"{what} {quote(value[:80])} {why}: use at most {TEXT_LIMIT} printable characters"
            + (f" without {' or '.join(quote(c) for c in forbidden)}" if forbidden else ""),
            path,
        )


def check_cors(descriptor: Mapping[str, Any]) -> Iterator[SpecProblem]:
    cors = descriptor.get("corsPolicy")
    if cors is None:
        return
    origins = cors.get("allowOrigins") or []
    if not origins:
        yield SpecProblem(
            "W104",
            "corsPolicy has no allowOrigins, so CORS stays off: add origins or remove corsPolicy",
            ("corsPolicy",),
        )
    for index, origin in enumerate(origins):
        path = ("corsPolicy", "allowOrigins", index)
        if origin.strip() == "*":
            yield SpecProblem(
                "W103", "CORS origin `*` lets any web site call this route: list origins", path
            )
        elif not _origin_ok(origin):
            yield SpecProblem(
                "R025",
                f"CORS origin {quote(origin)} is invalid: write scheme://host[:port], "
                'e.g. "https://www.acme.org", or "*"',
                path,
            )
    for index, method in enumerate(cors.get("allowMethods") or []):
        # ASCII first: the long s (U+017F) upper-cases to S, so "po\u017ft" would read as POST.
        if not method.isascii() or method.strip().upper() not in HTTP_METHODS:
            yield SpecProblem(
                "R024",
                f"{quote(method)} is not an HTTP method: use one of {', '.join(HTTP_METHODS)}",
                ("corsPolicy", "allowMethods", index),
            )


def _origin_ok(origin: str) -> bool:
    match = _ORIGIN.fullmatch(origin.strip().lower())
    if match is None or host_problem(match["host"]) is not None:
        return False
    return match["port"] is None or 0 < int(match["port"]) < 65536


def check_tls(descriptor: Mapping[str, Any]) -> Iterator[SpecProblem]:
    for key, ref in sorted((descriptor.get("tls") or {}).items()):
        name = ref["name"]
        if not _SECRET.fullmatch(name):
            yield SpecProblem(
                "R033",
                f"secret name {quote(name)} is invalid: use 1-253 characters of a-z, 0-9, "
                "- and ., starting and ending with a letter or digit",
                ("tls", key, "name"),
            )


def check_validation(descriptor: Mapping[str, Any]) -> Iterator[SpecProblem]:
    validation = descriptor.get("validation") or {}
    client = validation.get("clientCertificate")
    if client is not None:
        if "clientValidationCa" not in (descriptor.get("tls") or {}):
            yield SpecProblem(
                "R021",
                "validation.clientCertificate needs tls.clientValidationCa (the CA that "
                "signs client certificates): add it or remove the client certificate check",
                ("validation", "clientCertificate"),
                True,
            )
        for index, matcher in enumerate(client["subjectMatches"]):
            yield from _check_matcher(matcher, index)
    basic = validation.get("httpBasic")
    if basic is not None:
        yield from _check_basic(basic)


def _check_matcher(matcher: Mapping[str, str], index: int) -> Iterator[SpecProblem]:
    path: Path = ("validation", "clientCertificate", "subjectMatches", index)
    for kind, value in matcher.items():
        yield from _text_problem(value, f"subject matcher {kind}", (*path, kind))
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as exc:
                yield SpecProblem(
                    "R022",
                    f"subject regex {quote(value)} does not compile ({exc}): fix the expression",
                    (*path, "regex"),
                )


def _check_basic(basic: Mapping[str, Any]) -> Iterator[SpecProblem]:
    base: Path = ("validation", "httpBasic")
    if not str(basic.get("realm") or "").strip():
        # route-descriptor.adoc: `realm` is required (it is sent in WWW-Authenticate).
        yield SpecProblem(
            "R034",
            "validation.httpBasic needs a realm (the name the platform sends in the "
            'WWW-Authenticate header): add e.g. realm: "Shop"',
            (*base, "realm") if "realm" in basic else base,
        )
    else:
        yield from _text_problem(basic["realm"], "realm", (*base, "realm"), forbidden='"')
    for user, digest in sorted(basic["passwordHashes"].items()):
        at = (*base, "passwordHashes", user)
        yield from _text_problem(user, "user name", at, forbidden=":")
        if not _hash_ok(digest):
            # The value is a secret: say what shape it needs, never echo it.
            yield SpecProblem(
                "R023",
                f"password hash of user {quote(user)} must be sha256:, sha384: or sha512: "
                "followed by the base64 of a 32, 48 or 64 byte digest",
                at,
            )


def _hash_ok(digest: str) -> bool:
    match = _HASH.fullmatch(digest)
    if match is None:
        return False
    try:
        raw = base64.b64decode(match[2], validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == _DIGEST_BYTES[match[1]]
