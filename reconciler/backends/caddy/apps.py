"""Edits of the Caddy ``apps`` config for one route: its route, TLS policy and certificate.

Pure functions over the JSON tree read from ``GET /config/apps``; the backend writes the
whole tree back conditionally, so a route and its TLS parts change in one atomic reload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.backends.caddy.mapping import (
    cert_tag,
    policy_id,
    route_id,
    spec_from_caddy,
    written_by_routes,
)
from reconciler.backends.options import CaddyOptions
from reconciler.model import RouteSpec, TlsConfig

NOT_FOUND_BODY = "no route matches this host and path\n"


def servers(apps: dict[str, Any]) -> dict[str, Any]:
    http = apps.setdefault("http", {})
    found: dict[str, Any] = http.setdefault("servers", {})
    return found


def caddy_routes(apps: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every (server, index, route) of the http app, in serving order."""
    for server_name, server in sorted(((apps.get("http") or {}).get("servers") or {}).items()):
        for index, route in enumerate(server.get("routes") or []):
            if isinstance(route, dict):
                yield server_name, index, route


def find(apps: dict[str, Any], name: str) -> tuple[str, int, dict[str, Any]] | None:
    """The Caddy route with our ``@id`` for ``name``, owned or hand-made."""
    for server_name, index, route in caddy_routes(apps):
        if route.get("@id") == route_id(name):
            return server_name, index, route
    return None


def ensure_server(apps: dict[str, Any], options: CaddyOptions, *, tls: bool) -> dict[str, Any]:
    """The named server, created (ending in a 404 catch-all) when missing."""
    name = options.tls_server if tls else options.server
    server: dict[str, Any] | None = servers(apps).get(name)
    if server is None:
        server = {
            "listen": list(options.tls_listen if tls else options.listen),
            "automatic_https": {"disable": True},
            "routes": [
                {
                    "handle": [
                        {"handler": "static_response", "status_code": 404, "body": NOT_FOUND_BODY}
                    ]
                }
            ],
        }
        if tls:
            # The catch-all policy keeps the listener on TLS when no route uses it; strict SNI
            # stops a client from reaching an mTLS host through another name's handshake.
            server["tls_connection_policies"] = [{}]
            server["strict_sni_host"] = True
        servers(apps)[name] = server
    return server


def insert_route(apps: dict[str, Any], route: dict[str, Any], server: dict[str, Any]) -> None:
    """Insert before the first catch-all (a route without matchers), else append."""
    routes: list[Any] = server.setdefault("routes", [])
    for index, existing in enumerate(routes):
        if isinstance(existing, dict) and not existing.get("match"):
            routes.insert(index, route)
            return
    routes.append(route)


def remove(apps: dict[str, Any], name: str) -> None:
    """Remove the route for ``name`` and its TLS policy and certificate loader."""
    found = find(apps, name)
    if found is not None:
        del servers(apps)[found[0]]["routes"][found[1]]
    for server in servers(apps).values():
        policies = server.get("tls_connection_policies")
        if policies:
            server["tls_connection_policies"] = [
                p for p in policies if p.get("@id") != policy_id(name)
            ]
    loaders = ((apps.get("tls") or {}).get("certificates") or {}).get("load_files")
    if loaders:
        apps["tls"]["certificates"]["load_files"] = [
            f for f in loaders if cert_tag(name) not in (f.get("tags") or [])
        ]


def add(
    apps: dict[str, Any], name: str, spec: RouteSpec, route: dict[str, Any], options: CaddyOptions
) -> None:
    """Add the Caddy route and, for a TLS route, its connection policy and certificate."""
    server = ensure_server(apps, options, tls=spec.tls is not None)
    insert_route(apps, route, server)
    if spec.tls is None:
        return
    policy: dict[str, Any] = {"@id": policy_id(name), "match": {"sni": [spec.host]}}
    if spec.tls.server_certificate:
        cert, key = options.secrets[spec.tls.server_certificate]
        loaders = apps.setdefault("tls", {}).setdefault("certificates", {})
        loaders.setdefault("load_files", []).append(
            {"certificate": cert, "key": key, "tags": [cert_tag(name)]}
        )
        policy["certificate_selection"] = {"any_tag": [cert_tag(name)]}
    if spec.tls.client_validation_ca:
        ca_file = options.secrets[spec.tls.client_validation_ca][0]
        policy["client_authentication"] = {
            "trusted_ca_certs_pem_files": [ca_file],
            "mode": "require_and_verify",
        }
    policies: list[Any] = server.setdefault("tls_connection_policies", [])
    policies.insert(0, policy)


def tls_of(apps: dict[str, Any], name: str, options: CaddyOptions) -> TlsConfig | None:
    """The TLS settings Caddy really applies to the route's host, as secret names."""
    by_file = {files[0]: secret for secret, files in sorted(options.secrets.items(), reverse=True)}
    policy: dict[str, Any] = {}
    for server in servers(apps).values():
        for candidate in server.get("tls_connection_policies") or []:
            if candidate.get("@id") == policy_id(name):
                policy = candidate
    auth = policy.get("client_authentication") or {}
    ca_files = auth.get("trusted_ca_certs_pem_files") or []
    ca = None
    if auth.get("mode") == "require_and_verify" and ca_files:
        ca = by_file.get(ca_files[0], f"<file:{ca_files[0]}>")
    cert = None
    tags = (policy.get("certificate_selection") or {}).get("any_tag") or []
    loaders = ((apps.get("tls") or {}).get("certificates") or {}).get("load_files") or []
    for loader in loaders:
        if set(tags) & set(loader.get("tags") or []):
            cert = by_file.get(loader.get("certificate"), f"<file:{loader.get('certificate')}>")
    if ca is None and cert is None:
        return None
    return TlsConfig(client_validation_ca=ca, server_certificate=cert)


def spec_of(
    apps: dict[str, Any], name: str, route: dict[str, Any], options: CaddyOptions
) -> RouteSpec:
    """The served spec of an owned route, TLS included."""
    return spec_from_caddy(route, tls_of(apps, name, options), options)


def parts_of(apps: dict[str, Any], name: str) -> dict[str, Any]:
    """Everything Caddy holds for the route: what its version is a digest of."""
    found = find(apps, name)
    policies = [
        p
        for server in servers(apps).values()
        for p in server.get("tls_connection_policies") or []
        if p.get("@id") == policy_id(name)
    ]
    loaders = ((apps.get("tls") or {}).get("certificates") or {}).get("load_files") or []
    return {
        "server": found[0] if found else None,
        "route": found[2] if found else None,
        "owned": bool(found and written_by_routes(found[2])),
        "policies": policies,
        "certificates": [f for f in loaders if cert_tag(name) in (f.get("tags") or [])],
    }
