"""The canonical route model. Pure: no I/O, no backend, no YAML.

Both sides of a diff become a ``RouteSpec`` before they are compared, so two specs the
platform treats the same compare equal and fingerprint the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from reconciler.canonical import canonical_host, canonical_origin
from reconciler.errors import PlanError
from reconciler.quoting import quote

__all__ = [
    "ANNOTATION_COMMIT",
    "ANNOTATION_DIGEST",
    "ANNOTATION_PATH",
    "LABEL_MANAGED_BY",
    "LABEL_MANAGED_BY_VALUE",
    "LABEL_OWNER",
    "SENSITIVE",
    "Condition",
    "CorsPolicy",
    "DesiredRoute",
    "HttpBasic",
    "LiveRoute",
    "PathRule",
    "RouteSet",
    "RouteSpec",
    "SourceLocation",
    "SubjectMatcher",
    "TlsConfig",
    "Validation",
    "canonical_json_of",
    "digest_of",
]

SENSITIVE = "(sensitive value)"

# Ownership labels and provenance annotations.
LABEL_MANAGED_BY = "managed-by"
LABEL_MANAGED_BY_VALUE = "routes"
LABEL_OWNER = "routes/owner"
ANNOTATION_COMMIT = "routes/source-commit"
ANNOTATION_PATH = "routes/source-path"
ANNOTATION_DIGEST = "routes/spec-digest"


@dataclass(frozen=True, order=True, slots=True)
class PathRule:
    """One path prefix mapped to a service. Prefixes are literal: ``/a`` and ``/a/`` differ."""

    prefix: str
    service: str
    name: str | None = None
    websockets: bool = False

    def options(self) -> dict[str, Any]:
        """The per-path options other than the service, in descriptor field names."""
        opts: dict[str, Any] = {}
        if self.name:
            opts["name"] = self.name
        if self.websockets:
            opts["enableWebsockets"] = True
        return opts

    def to_dict(self) -> dict[str, Any]:
        # Built in place, not from options(): it runs once per path of every route listed.
        out: dict[str, Any] = {"prefix": self.prefix, "route": {"service": self.service}}
        if self.name:
            out["name"] = self.name
        if self.websockets:
            out["enableWebsockets"] = True
        return out


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    origins: tuple[str, ...]
    methods: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"allowOrigins": list(self.origins)}
        if self.methods:
            out["allowMethods"] = list(self.methods)
        return out


@dataclass(frozen=True, slots=True)
class TlsConfig:
    client_validation_ca: str | None = None
    server_certificate: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.client_validation_ca:
            out["clientValidationCa"] = {"name": self.client_validation_ca}
        if self.server_certificate:
            out["serverCertificate"] = {"name": self.server_certificate}
        return out


@dataclass(frozen=True, order=True, slots=True)
class SubjectMatcher:
    kind: str  # exact | hasPrefix | hasSuffix | regex
    value: str


@dataclass(frozen=True, slots=True)
class HttpBasic:
    realm: str | None
    password_hashes: tuple[tuple[str, str], ...]  # sorted (user, "algo:base64")

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.realm:
            out["realm"] = self.realm
        if self.password_hashes:
            out["passwordHashes"] = {
                user: (SENSITIVE if redact else digest) for user, digest in self.password_hashes
            }
        return out


@dataclass(frozen=True, slots=True)
class Validation:
    subject_matches: tuple[SubjectMatcher, ...] = ()
    http_basic: HttpBasic | None = None

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.subject_matches:
            out["clientCertificate"] = {
                "subjectMatches": [{m.kind: m.value} for m in self.subject_matches]
            }
        if self.http_basic is not None:
            out["httpBasic"] = self.http_basic.to_dict(redact=redact)
        return out


@dataclass(frozen=True, slots=True, weakref_slot=True)
class RouteSpec:
    """A route descriptor in canonical form. Build with ``RouteSpec.from_dict``, or with
    ``RouteSpec.from_canonical_json`` from the canonical text a cache or a store holds.

    Two specs are equal exactly when their hosts and canonical JSON texts are, so a spec
    read back from its text is only parsed when a field beside its host is read (10,000
    unchanged routes compare as 10,000 strings).
    """

    host: str
    paths: tuple[PathRule, ...]  # sorted by prefix, unique prefixes
    cors: CorsPolicy | None = None
    tls: TlsConfig | None = None
    validation: Validation | None = None
    # The canonical JSON text, made on first use: a spec is immutable, and an apply of
    # 10,000 routes would otherwise serialise each one three times (plan, verdict, store).
    _json: str | None = field(default=None, init=False, repr=False, compare=False)
    # Its ``fingerprint()``, made on first use: the loader's digest and the plan both ask.
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_dict(cls, descriptor: Mapping[str, Any]) -> RouteSpec:
        """Canonicalise a route descriptor (already schema-valid) (README, "Canonical form")."""
        rules: dict[str, PathRule] = {}
        for rule in descriptor.get("routes") or ():
            prefix = str(rule["prefix"])
            name = rule.get("name")
            # Interned: a few services serve thousands of paths, one string each is enough.
            rules[prefix] = PathRule(
                prefix,
                intern(str((rule.get("route") or {}).get("service", ""))),
                intern(str(name)) if name else None,
                bool(rule.get("enableWebsockets", False)),
            )
        return cls(
            host=canonical_host(str(descriptor.get("host", ""))),
            # Prefixes are unique, so their order is the rules' order (and far cheaper).
            paths=tuple([rules[prefix] for prefix in sorted(rules)]),
            cors=_cors_from(descriptor.get("corsPolicy")),
            tls=_tls_from(descriptor.get("tls")),
            validation=_validation_from(descriptor.get("validation")),
        )

    @classmethod
    def from_canonical_json(cls, text: str, host: str) -> RouteSpec:
        """The spec whose canonical JSON text is ``text`` and whose host is ``host``, parsed
        on first use of another field. The first use checks that ``text`` is canonical and
        names ``host``, and raises ``PlanError`` when it is not: a text that is not the
        canonical form of what it says never stands for a spec (every create and update
        of a plan reads its fields, so none is ever written unchecked)."""
        spec = object.__new__(cls)
        object.__setattr__(spec, "_json", text)
        object.__setattr__(spec, "_fingerprint", None)
        object.__setattr__(spec, "host", host)
        return spec

    def __getattr__(self, name: str) -> Any:
        # Only reached for a field not set yet: a spec made by ``from_canonical_json``.
        if name not in _PARSED_LATER:
            raise AttributeError(name)
        text = self._json
        if text is None:
            raise AttributeError(name)
        try:
            full = RouteSpec.from_dict(json.loads(text))
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
            full = None  # not even a descriptor: as wrong as a text that is not canonical
        if full is None or full.host != self.host or full.canonical_json() != text:
            raise PlanError(
                f"the route spec for host {quote(self.host[:200])} read back from its "
                "canonical text is not what that text says (a cache edited by hand?)",
                hint="delete .routes/cache/ (the next plan writes it anew) or run with --no-cache",
            )
        for field_name in _PARSED_LATER:
            object.__setattr__(self, field_name, getattr(full, field_name))
        return getattr(full, name)

    def __eq__(self, other: object) -> bool:
        # The canonical text decides, made once per spec; the host too, which a spec read
        # back from its text holds beside it (checked against the text on first parse).
        if self is other:
            return True
        if not isinstance(other, RouteSpec):
            return NotImplemented
        return self.host == other.host and self.canonical_json() == other.canonical_json()

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        """The canonical descriptor, with the platform's field names; ``redact`` hides secrets."""
        out: dict[str, Any] = {"host": self.host}
        if self.tls is not None:
            out["tls"] = self.tls.to_dict()
        if self.validation is not None:
            out["validation"] = self.validation.to_dict(redact=redact)
        if self.cors is not None:
            out["corsPolicy"] = self.cors.to_dict()
        out["routes"] = [rule.to_dict() for rule in self.paths]
        return out

    def path(self, prefix: str) -> PathRule | None:
        for rule in self.paths:
            if rule.prefix == prefix:
                return rule
        return None

    def canonical_json(self) -> str:
        """The canonical descriptor as compact JSON with sorted keys, secrets included."""
        text = self._json
        if text is None:
            text = _canonical_json(self.to_dict())
            object.__setattr__(self, "_json", text)
        return text

    def fingerprint(self) -> str:
        """A digest of the canonical spec with its secrets hidden: what plans, journals,
        annotations and versions carry. It cannot test a password guess offline, so two specs
        that differ only in a password hash share it (``private_digest`` tells them apart)."""
        found = self._fingerprint
        if found is None:
            found = self._redacted_digest()
            object.__setattr__(self, "_fingerprint", found)
        return found

    def _redacted_digest(self) -> str:
        text = self._json
        if text is not None and '"httpBasic"' not in text:
            return self.private_digest()  # nothing to hide, and no field parsed to see it
        if self.validation is None or self.validation.http_basic is None:
            return self.private_digest()  # nothing to hide: the same digest, JSON cached
        return digest_of(self.to_dict(redact=True))

    def private_digest(self) -> str:
        """A digest of the whole spec, secrets included: for comparisons in memory only. It
        is never written anywhere (from it, a password guess could be tested offline)."""
        return "sha256:" + hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


# The fields a spec made from its canonical text parses on first use (its host it has).
_PARSED_LATER = frozenset({"paths", "cors", "tls", "validation"})


def canonical_json_of(value: Any) -> str:
    """``value`` as canonical JSON text: compact, keys sorted, UTF-8 as it is. For a
    canonical descriptor it is its spec's ``canonical_json()``."""
    return _canonical_json(value)


def digest_of(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON form of ``value``."""
    return "sha256:" + hashlib.sha256(_canonical_json(value).encode("utf-8")).hexdigest()


def _canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


# json.dumps with these options, made once: it runs for every route loaded or read back.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _cors_from(raw: Mapping[str, Any] | None) -> CorsPolicy | None:
    if not raw:
        return None
    origins = tuple(sorted({canonical_origin(str(o)) for o in raw.get("allowOrigins") or ()}))
    if not origins:
        return None
    methods = tuple(sorted({str(m).strip().upper() for m in raw.get("allowMethods") or ()}))
    return CorsPolicy(origins=origins, methods=methods)


def _tls_from(raw: Mapping[str, Any] | None) -> TlsConfig | None:
    if not raw:
        return None
    ca = (raw.get("clientValidationCa") or {}).get("name") or None
    cert = (raw.get("serverCertificate") or {}).get("name") or None
    if ca is None and cert is None:
        return None
    return TlsConfig(client_validation_ca=ca, server_certificate=cert)


def _validation_from(raw: Mapping[str, Any] | None) -> Validation | None:
    if not raw:
        return None
    client = raw.get("clientCertificate") or {}
    matchers: set[SubjectMatcher] = set()
    for matcher in client.get("subjectMatches") or ():
        for kind, value in matcher.items():
            matchers.add(SubjectMatcher(kind=str(kind), value=str(value)))
    basic_raw = raw.get("httpBasic") or {}
    basic = None
    if basic_raw:
        hashes = tuple(
            sorted((str(u), str(h)) for u, h in (basic_raw.get("passwordHashes") or {}).items())
        )
        realm = basic_raw.get("realm") or None
        if realm or hashes:
            basic = HttpBasic(realm=str(realm) if realm else None, password_hashes=hashes)
    if not matchers and basic is None:
        return None
    return Validation(subject_matches=tuple(sorted(matchers)), http_basic=basic)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a desired route was defined: a repo-relative file and a 1-based line."""

    file: str
    line: int = 1
    column: int = 1


@dataclass(frozen=True, slots=True)
class DesiredRoute:
    name: str
    spec: RouteSpec
    source: SourceLocation


@dataclass(frozen=True, slots=True)
class Condition:
    """A status condition as the platform reports it (types ``HostValidation``, ``Ready``)."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Condition:
        return cls(
            type=str(raw.get("type", "")),
            status=str(raw.get("status", "Unknown")),
            reason=str(raw.get("reason", "") or ""),
            message=str(raw.get("message", "") or ""),
            last_transition_time=str(raw.get("lastTransitionTime", "") or ""),
        )


@dataclass(frozen=True, slots=True)
class LiveRoute:
    """A route as a backend holds it: canonical spec, opaque version, labels and status."""

    name: str
    spec: RouteSpec
    version: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()

    @property
    def ready(self) -> bool:
        return any(c.type == "Ready" and c.status == "True" for c in self.conditions)

    def condition(self, type_: str) -> Condition | None:
        for cond in self.conditions:
            if cond.type == type_:
                return cond
        return None


class RouteSet(Mapping[str, DesiredRoute]):
    """The desired routes by name, each with its source location. Immutable once built."""

    def __init__(self, routes: Mapping[str, DesiredRoute] | None = None) -> None:
        self._routes: dict[str, DesiredRoute] = dict(sorted((routes or {}).items()))

    def __getitem__(self, name: str) -> DesiredRoute:
        return self._routes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def __repr__(self) -> str:
        return f"RouteSet({list(self._routes)!r})"
