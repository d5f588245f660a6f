"""RouteSpec <-> Caddy JSON (docs/caddy.md). Pure: no HTTP, no files.

One descriptor becomes one Caddy route ``{"@id": "routes-NAME", "match": [{"host": [HOST]}]}``
whose first handler is a ``vars`` marker (labels, annotations, and only what Caddy cannot
express: path rule names, and the service of a path whose upstream several services share)
and whose second is a ``subroute`` holding CORS, one websocket guard for the prefixes that
refuse upgrades, and one route per path prefix, longest prefix first. Reading back derives
the spec from the handlers that really serve, so a hand edit of the served config shows up
as drift. Routes written by earlier versions (a full ``routes.spec`` copy in the marker, one
guard per prefix) read back the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.backends.options import CaddyOptions
from reconciler.matching import serving_order
from reconciler.model import CorsPolicy, PathRule, RouteSpec, TlsConfig

ID_PREFIX = "routes-"
MARKER = "routes.labels"
NAMES = "routes.names"  # prefix -> path rule name
SERVICES = "routes.services"  # prefix -> service, where the upstream does not tell
_WS_REFUSED = "websockets are not enabled for this path\n"
_WS_MATCH = {
    "Connection": {"pattern": "(?i)\\bupgrade\\b"},
    "Upgrade": {"pattern": "(?i)^websocket$"},
}
_REGEX_SPECIALS = set("\\.+*?()|[]{}^$")


def route_id(name: str) -> str:
    return ID_PREFIX + name


def policy_id(name: str) -> str:
    return f"{ID_PREFIX}{name}.tls"  # "." cannot occur in a route name, so ids never clash


def cert_tag(name: str) -> str:
    return f"{ID_PREFIX}{name}.cert"


def literal_prefix_pattern(prefixes: list[str]) -> str:
    """A case-sensitive literal prefix regex (Caddy's ``path`` matcher ignores case)."""
    escaped = ["".join("\\" + c if c in _REGEX_SPECIALS else c for c in p) for p in prefixes]
    return "^" + escaped[0] if len(escaped) == 1 else "^(?:" + "|".join(escaped) + ")"


def prefix_of_pattern(pattern: str) -> str | None:
    """The literal prefix a single-prefix pattern matches, or None if it is not one."""
    if not pattern.startswith("^") or pattern.startswith("^(?:"):
        return None
    return _literal(pattern[1:])


def prefixes_of_pattern(pattern: str) -> list[str]:
    """The literal prefixes a ``literal_prefix_pattern`` matches; [] for any other regex."""
    if pattern.startswith("^(?:") and pattern.endswith(")"):
        alternatives, current, escaped = [], [], False
        for char in pattern[4:-1]:
            if escaped or char != "|":
                current.append(char)
                escaped = not escaped and char == "\\"
            else:
                alternatives.append("".join(current))
                current = []
        alternatives.append("".join(current))
        literals = [_literal(alternative) for alternative in alternatives]
        return [p for p in literals if p is not None] if None not in literals else []
    single = prefix_of_pattern(pattern)
    return [single] if single is not None else []


def _literal(escaped_text: str) -> str | None:
    out, escaped = [], False
    for char in escaped_text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _REGEX_SPECIALS:
            return None
        else:
            out.append(char)
    return None if escaped else "".join(out)


def route_to_caddy(
    name: str,
    spec: RouteSpec,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    options: CaddyOptions,
    revision: str,
) -> dict[str, Any]:
    """The Caddy route serving ``spec`` (check_spec must have passed).

    ``revision`` is unique per write, so a route deleted and created again with the same
    spec gets a new version and a stale expected version cannot match it.
    """
    marker: dict[str, Any] = {
        "handler": "vars",
        "routes.revision": revision,
        MARKER: dict(labels),
        "routes.annotations": dict(annotations),
    }
    names = {rule.prefix: rule.name for rule in spec.paths if rule.name}
    if names:
        marker[NAMES] = names
    services = {r.prefix: r.service for r in spec.paths if not _dial_tells(r.service, options)}
    if services:
        marker[SERVICES] = services
    return {
        "@id": route_id(name),
        "match": [{"host": [spec.host]}],
        "handle": [marker, {"handler": "subroute", "routes": _subroutes(spec, options)}],
    }


def _dial_tells(service: str, options: CaddyOptions) -> bool:
    """Whether reading the route back finds ``service`` from its upstream's address alone."""
    dial = options.upstream(service)
    return [s for s, d in options.upstreams.items() if d == dial and s != "*"] == [service]


def _guard(prefixes: list[str]) -> dict[str, Any]:
    """Refuse websocket upgrades on ``prefixes`` (a responder: nothing after it runs)."""
    return {
        "match": [
            {
                "path_regexp": {"pattern": literal_prefix_pattern(prefixes)},
                "header_regexp": _WS_MATCH,
            }
        ],
        "handle": [{"handler": "static_response", "status_code": 403, "body": _WS_REFUSED}],
    }


def _subroutes(spec: RouteSpec, options: CaddyOptions) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
    if spec.cors is not None:
        routes.extend(_cors_routes(spec, spec.cors))
    ordered = serving_order(spec.paths)  # the order routes explain matches in
    open_prefixes = [rule.prefix for rule in spec.paths if rule.websockets]
    # One guard up front serves every refusing prefix that no upgrade-enabled prefix
    # extends: a request it matches has a refusing longest prefix. The others (/a refuses,
    # /a/ws allows) keep a guard of their own right before their proxy route.
    own = {
        rule.prefix
        for rule in ordered
        if not rule.websockets
        and any(p.startswith(rule.prefix) and p != rule.prefix for p in open_prefixes)
    }
    shared = [r.prefix for r in ordered if not r.websockets and r.prefix not in own]
    if shared:
        routes.append(_guard(shared))
    for rule in ordered:
        if rule.prefix in own:
            routes.append(_guard([rule.prefix]))
        # reverse_proxy answers itself, so the routes after it never run (no "terminal")
        routes.append(
            {
                "match": [{"path_regexp": {"pattern": literal_prefix_pattern([rule.prefix])}}],
                "handle": [
                    {
                        "handler": "reverse_proxy",
                        "upstreams": [{"dial": options.upstream(rule.service)}],
                    }
                ],
            }
        )
    return routes


def _cors_routes(spec: RouteSpec, cors: CorsPolicy) -> list[dict[str, Any]]:
    origin_match = {"Origin": list(cors.origins)}
    paths = {"pattern": literal_prefix_pattern([r.prefix for r in spec.paths])}
    # Like the platform's (Envoy's) CORS filter: a preflight from an allowed origin is
    # answered with the allowed methods and the browser enforces them.
    preflight_headers = {"Access-Control-Request-Method": ["*"]}
    allow = {
        "Access-Control-Allow-Origin": ["{http.request.header.Origin}"],
        "Vary": ["Origin"],
    }
    preflight = {
        "match": [
            {
                "method": ["OPTIONS"],
                "path_regexp": paths,
                "header": {**origin_match, **preflight_headers},
            }
        ],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 204,
                "headers": {
                    **allow,
                    "Access-Control-Allow-Methods": [
                        ", ".join(cors.methods)
                        or "{http.request.header.Access-Control-Request-Method}"
                    ],
                    "Access-Control-Allow-Headers": [
                        "{http.request.header.Access-Control-Request-Headers}"
                    ],
                },
            }
        ],
        "terminal": True,
    }
    actual = {
        "match": [{"header": origin_match}],
        "handle": [{"handler": "headers", "response": {"set": allow}}],
    }
    return [preflight, actual]


def written_by_routes(caddy_route: Mapping[str, Any]) -> bool:
    """A route routes wrote: our ``@id`` and our ``vars`` marker as its first handler."""
    handle = caddy_route.get("handle") or []
    return (
        str(caddy_route.get("@id", "")).startswith(ID_PREFIX)
        and bool(handle)
        and isinstance(handle[0], dict)
        and handle[0].get("handler") == "vars"
        and MARKER in handle[0]
    )


def host_of(caddy_route: Mapping[str, Any]) -> str | None:
    for matcher in caddy_route.get("match") or []:
        hosts = matcher.get("host") if isinstance(matcher, dict) else None
        if hosts:
            return str(hosts[0])
    return None


def spec_from_caddy(
    caddy_route: Mapping[str, Any], tls: TlsConfig | None, options: CaddyOptions
) -> RouteSpec:
    """The spec Caddy really serves for ``caddy_route``; unknown shapes read as no paths."""
    names, services = _stored_rules(caddy_route)
    subroutes: list[Any] = []
    for handler in caddy_route.get("handle") or []:
        if isinstance(handler, dict) and handler.get("handler") == "subroute":
            subroutes.extend(handler.get("routes") or [])
    guarded: set[str] = set()
    rules: dict[str, PathRule] = {}
    cors: CorsPolicy | None = None
    for sub in subroutes:
        match = (sub.get("match") or [{}])[0] if isinstance(sub, dict) else {}
        handlers = sub.get("handle") or [] if isinstance(sub, dict) else []
        kinds = [h.get("handler") for h in handlers if isinstance(h, dict)]
        pattern = str((match.get("path_regexp") or {}).get("pattern", ""))
        prefix = prefix_of_pattern(pattern)
        if "OPTIONS" in (match.get("method") or []) and kinds == ["static_response"]:
            cors = _cors_from_preflight(match, handlers[0])
        elif "header_regexp" in match and kinds == ["static_response"]:
            guarded.update(prefixes_of_pattern(pattern))
        elif prefix is not None and kinds == ["reverse_proxy"]:
            dials = [str(u.get("dial", "")) for u in handlers[0].get("upstreams") or []]
            service = _service_for(dials, services.get(prefix), options)
            rules[prefix] = PathRule(prefix, service, names.get(prefix))
    paths = tuple(
        sorted(
            PathRule(r.prefix, r.service, r.name, websockets=r.prefix not in guarded)
            for r in rules.values()
        )
    )
    return RouteSpec(host=host_of(caddy_route) or "", paths=paths, cors=cors, tls=tls)


def _stored_rules(caddy_route: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The path rule names and services the marker keeps, by prefix."""
    handle = caddy_route.get("handle") or []
    marker = handle[0] if handle and isinstance(handle[0], dict) else {}
    stored = marker.get("routes.spec")  # written by routes before the compact marker
    if isinstance(stored, dict):
        spec = RouteSpec.from_dict(stored)
        names = {r.prefix: r.name for r in spec.paths if r.name}
        return names, {r.prefix: r.service for r in spec.paths}
    names, services = marker.get(NAMES) or {}, marker.get(SERVICES) or {}
    return (
        {str(k): str(v) for k, v in names.items()},
        {str(k): str(v) for k, v in services.items()},
    )


def _service_for(dials: list[str], stored: str | None, options: CaddyOptions) -> str:
    if len(dials) != 1:
        return "<upstreams:" + ",".join(dials) + ">"
    if stored is not None and options.upstream(stored) == dials[0]:
        return stored
    services = sorted(s for s, d in options.upstreams.items() if d == dials[0] and s != "*")
    return services[0] if services else f"<dial:{dials[0]}>"


def _cors_from_preflight(match: Mapping[str, Any], handler: Mapping[str, Any]) -> CorsPolicy:
    origins = tuple(sorted(str(o) for o in (match.get("header") or {}).get("Origin") or []))
    allowed = (handler.get("headers") or {}).get("Access-Control-Allow-Methods") or [""]
    methods = tuple(sorted(m.strip() for m in str(allowed[0]).split(",") if m.strip()))
    if any("{" in m for m in methods):
        methods = ()
    return CorsPolicy(origins=origins, methods=methods)


def labels_of(caddy_route: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The ownership labels and provenance annotations kept in the ``vars`` marker."""
    marker = (caddy_route.get("handle") or [{}])[0]
    labels = marker.get(MARKER) or {}
    annotations = marker.get("routes.annotations") or {}
    return (
        {str(k): str(v) for k, v in labels.items()},
        {str(k): str(v) for k, v in annotations.items()},
    )
