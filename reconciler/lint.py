"""Semantic checks (DESIGN §4) over schema-valid route documents -> located diagnostics.

Per-document checks see the descriptor as written (duplicates and order intact), so each
finding points at its own node; cross-route checks compare canonical specs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.codes import CODES, diagnostic
from reconciler.model import RouteSpec, canonical_host
from reconciler.plan import Diagnostic

__all__ = ["CODES", "RouteDocument", "lint_document", "lint_route_set", "route_name_problem"]

Path = tuple[str | int, ...]
Locate = Callable[[Path, bool], tuple[int, int]]

ROUTE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[^/:]+)(?::(?P<port>\d{1,5}))?/?")
_HASH = re.compile(r"(sha256|sha384|sha512):([A-Za-z0-9+/]+={0,2})")
_DIGEST_BYTES = {"sha256": 32, "sha384": 48, "sha512": 64}
HTTP_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")


def _nowhere(path: Path, key: bool) -> tuple[int, int]:
    return 1, 1


@dataclass(frozen=True)
class RouteDocument:
    """One route as read: its name, raw descriptor, canonical spec and where it came from."""

    name: str
    descriptor: Mapping[str, Any]
    spec: RouteSpec
    file: str
    line: int = 1
    column: int = 1
    locate: Locate = _nowhere

    def diag(self, code: str, message: str, path: Path = (), *, key: bool = False) -> Diagnostic:
        """A diagnostic located at ``path`` inside this route's descriptor."""
        line, column = self.locate(path, key) if path else (self.line, self.column)
        return diagnostic(code, message, file=self.file, line=line, column=column, route=self.name)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def route_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid route name, or None when it is."""
    if ROUTE_NAME.fullmatch(name):
        return None
    return (
        f"route name `{name}` is invalid: use 1-63 characters of a-z, 0-9 and -, "
        "starting and ending with a letter or digit"
    )


def host_problem(host: str) -> tuple[str, str] | None:
    """(code, message) when ``host`` cannot be a project host name, else None."""
    if "*" in host:
        return "R027", (
            f'host "{host}" is a wildcard: the platform routes concrete host names only, '
            "so write one route per host"
        )
    name = canonical_host(host)
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "R026", (
            f'host "{host}" is not a valid host name: use dot-separated labels of '
            "a-z, 0-9 and - (no scheme, port or path)"
        )
    return None


def lint_document(doc: RouteDocument) -> list[Diagnostic]:
    """Every semantic problem inside one schema-valid route descriptor."""
    return [
        *_check_host(doc),
        *_check_prefixes(doc),
        *_check_cors(doc),
        *_check_validation(doc),
    ]


def _check_host(doc: RouteDocument) -> Iterator[Diagnostic]:
    problem = host_problem(str(doc.descriptor["host"]))
    if problem:
        yield doc.diag(problem[0], problem[1], ("host",))


def _check_prefixes(doc: RouteDocument) -> Iterator[Diagnostic]:
    first: dict[str, int] = {}
    for index, rule in enumerate(doc.descriptor["routes"]):
        prefix = rule["prefix"]
        if prefix in first:
            line, _ = doc.locate(("routes", first[prefix], "prefix"), False)
            yield doc.diag(
                "R020",
                f'prefix "{prefix}" appears twice (first at line {line}): keep one rule per prefix',
                ("routes", index, "prefix"),
            )
        else:
            first[prefix] = index


def _check_cors(doc: RouteDocument) -> Iterator[Diagnostic]:
    cors = doc.descriptor.get("corsPolicy")
    if cors is None:
        return
    origins = cors.get("allowOrigins") or []
    if not origins:
        yield doc.diag(
            "W104",
            "corsPolicy has no allowOrigins, so CORS stays off: add origins or remove corsPolicy",
            ("corsPolicy",),
        )
    for index, origin in enumerate(origins):
        path = ("corsPolicy", "allowOrigins", index)
        if origin.strip() == "*":
            yield doc.diag(
                "W103", "CORS origin `*` lets any web site call this route: list origins", path
            )
        elif not _origin_ok(origin):
            yield doc.diag(
                "R025",
                f'CORS origin "{origin}" is invalid: write scheme://host[:port], '
                'e.g. "https://www.acme.org", or "*"',
                path,
            )
    for index, method in enumerate(cors.get("allowMethods") or []):
        if method.strip().upper() not in HTTP_METHODS:
            yield doc.diag(
                "R024",
                f'"{method}" is not an HTTP method: use one of {", ".join(HTTP_METHODS)}',
                ("corsPolicy", "allowMethods", index),
            )


def _origin_ok(origin: str) -> bool:
    match = _ORIGIN.fullmatch(origin.strip().lower())
    if match is None or host_problem(match["host"]) is not None:
        return False
    return match["port"] is None or 0 < int(match["port"]) < 65536


def _check_validation(doc: RouteDocument) -> Iterator[Diagnostic]:
    validation = doc.descriptor.get("validation") or {}
    client = validation.get("clientCertificate")
    if client is not None:
        tls = doc.descriptor.get("tls") or {}
        if "clientValidationCa" not in tls:
            yield doc.diag(
                "R021",
                "validation.clientCertificate needs tls.clientValidationCa (the CA that "
                "signs client certificates): add it or remove the client certificate check",
                ("validation", "clientCertificate"),
                key=True,
            )
        for index, matcher in enumerate(client["subjectMatches"]):
            pattern = matcher.get("regex")
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                yield doc.diag(
                    "R022",
                    f"subject regex {pattern!r} does not compile ({exc}): fix the expression",
                    ("validation", "clientCertificate", "subjectMatches", index, "regex"),
                )
    basic = validation.get("httpBasic")
    for user, digest in sorted((basic or {}).get("passwordHashes", {}).items()):
        if not _hash_ok(digest):
            # The value is a secret: say what shape it needs, never echo it.
            yield doc.diag(
                "R023",
                f"password hash of user `{user}` must be sha256:, sha384: or sha512: followed "
                "by the base64 of a 32, 48 or 64 byte digest",
                ("validation", "httpBasic", "passwordHashes", user),
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


def lint_route_set(docs: Sequence[RouteDocument]) -> list[Diagnostic]:
    """Problems between routes: duplicate names, shared hosts, shadowed prefixes."""
    found: list[Diagnostic] = []
    by_name: dict[str, RouteDocument] = {}
    for doc in docs:
        other = by_name.setdefault(doc.name, doc)
        if other is not doc:
            found.append(
                doc.diag(
                    "R010",
                    f"route `{doc.name}` is defined twice, at {other.where} and {doc.where}: "
                    "rename or remove one",
                )
            )
    by_host: dict[str, list[RouteDocument]] = defaultdict(list)
    for doc in docs:
        by_host[doc.spec.host].append(doc)
    for host, sharing in by_host.items():
        if len(sharing) > 1:
            found.extend(_check_shared_host(host, sharing))
    return found


def _check_shared_host(host: str, sharing: list[RouteDocument]) -> Iterator[Diagnostic]:
    first = sharing[0]
    for doc in sharing[1:]:
        yield doc.diag(
            "W102",
            f'host "{host}" is also served by route `{first.name}` ({first.where}): '
            "merge them into one route",
            ("host",),
        )
    owners: dict[str, RouteDocument] = {}
    for doc in sharing:
        for rule in doc.spec.paths:
            owners.setdefault(rule.prefix, doc)
    for doc in sharing:
        for index, rule in enumerate(doc.descriptor["routes"]):
            prefix = rule["prefix"]
            for cut in range(1, len(prefix) + 1):
                owner = owners.get(prefix[:cut])
                if owner is not None and owner.name != doc.name:
                    how = "also routed" if cut == len(prefix) else f'shadowed by "{prefix[:cut]}"'
                    yield doc.diag(
                        "W101",
                        f'prefix "{prefix}" is {how} by route `{owner.name}` ({owner.where}) '
                        "on the same host: keep each host's prefixes in one route",
                        ("routes", index, "prefix"),
                    )
                    break
