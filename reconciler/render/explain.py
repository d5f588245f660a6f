"""``routes explain``: a request's match -> a dict (``--format json``) and text. Pure.

The text is rendered from the dict, as plans are, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.matching import Match, clean_path
from reconciler.quoting import clean, quote

__all__ = ["explanation", "render_explain_text"]


def explanation(
    url: str,
    host: str,
    path: str,
    match: Match | None,
    where: Mapping[str, str],
    routes_on: list[str],
) -> dict[str, Any]:
    """What serves one request; ``where`` names each route's source (file:line or backend)."""
    out: dict[str, Any] = {"url": url, "host": host, "path": clean_path(path)}
    if match is None:
        out |= {"status": 404, "route": None, "routes_on_host": routes_on}
        return out
    spec, rule = match.spec, match.rule
    validation = spec.validation
    basic = validation.http_basic if validation else None
    ca = spec.tls.client_validation_ca if spec.tls else None
    out |= {
        "status": 200,
        "route": match.route,
        "source": where.get(match.route),
        "prefix": rule.prefix,
        "rule_name": rule.name,
        "service": rule.service,
        "websockets": rule.websockets,
        "cors": spec.cors.to_dict() if spec.cors else None,
        "mtls": (
            {
                "clientValidationCa": ca,
                "subjectMatches": [
                    {m.kind: m.value} for m in (validation.subject_matches if validation else ())
                ],
            }
            if ca
            else None
        ),
        "basic_auth": (
            {"realm": basic.realm, "users": [user for user, _ in basic.password_hashes]}
            if basic
            else None
        ),
        "also_routed_by": list(match.tied),
        "falls_through_to": [{"route": r, "prefix": p} for r, p in match.shorter],
    }
    return out


def render_explain_text(explained: Sequence[Mapping[str, Any]]) -> str:
    """One block per request: the route, rule and service, then what applies to it."""
    return "\n\n".join(_block(entry) for entry in explained)


def _block(entry: Mapping[str, Any]) -> str:
    lines = [clean(entry["url"])]
    if entry["route"] is None:
        on = entry["routes_on_host"]
        why = (
            f"no prefix of route(s) {', '.join(quote(r) for r in on)} matches path "
            f"{quote(entry['path'])}"
            if on
            else f"no route serves host {quote(entry['host'])}"
        )
        lines.append(f"  404: {why}")
        return "\n".join(lines)
    rule = f"prefix {quote(entry['prefix'])}"
    if entry["rule_name"]:
        rule += f" (name {quote(entry['rule_name'])})"
    source = f" at {clean(entry['source'])}" if entry.get("source") else ""
    lines.append(f"  -> service {clean(entry['service'])}")
    lines.append(f"  route {quote(entry['route'])}{source}, {rule}")
    lines.append(f"  host {quote(entry['host'])}, path {quote(entry['path'])}")
    for fallback in entry["falls_through_to"][:1]:
        lines.append(
            f"  without it: prefix {quote(fallback['prefix'])} of route {quote(fallback['route'])}"
        )
    for other in entry["also_routed_by"]:
        lines.append(
            f"  warning: route {quote(other)} has the same prefix on this host (W101); "
            "which one serves is not defined: keep each host's prefixes in one route"
        )
    lines.append(f"  websockets: {'allowed' if entry['websockets'] else 'refused (403)'}")
    lines.append("  CORS: " + _cors(entry["cors"]))
    lines.append("  mTLS: " + _mtls(entry["mtls"]))
    lines.append("  basic auth: " + _basic(entry["basic_auth"]))
    return "\n".join(lines)


def _cors(cors: Mapping[str, Any] | None) -> str:
    if not cors:
        return "off"
    origins = ", ".join(quote(o) for o in cors["allowOrigins"])
    methods = ", ".join(clean(m) for m in cors.get("allowMethods") or ()) or "any"
    return f"origins {origins}; methods {methods}"


def _mtls(mtls: Mapping[str, Any] | None) -> str:
    if not mtls:
        return "off"
    text = f"client certificate signed by CA {quote(mtls['clientValidationCa'])} required"
    matchers = [f"{clean(k)} {quote(v)}" for m in mtls["subjectMatches"] for k, v in m.items()]
    if matchers:
        text += "; subject must match " + " or ".join(matchers)
    return text


def _basic(basic: Mapping[str, Any] | None) -> str:
    if not basic:
        return "off"
    realm = f"realm {quote(basic['realm'])}, " if basic["realm"] else ""
    users = ", ".join(quote(u) for u in basic["users"])
    return f"required ({realm}users {users})"
