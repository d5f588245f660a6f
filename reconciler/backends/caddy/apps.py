"""The Caddy ``apps`` config of routes: an index by route name, reads and edits over it.

``CaddyApps`` wraps the JSON tree read from ``GET /config/apps``. It indexes, once, every
route with our ``@id``, every TLS connection policy by ``@id`` and every certificate loader
by tag, so finding, reading and editing one route costs the same with 5 routes or 5,000 (an
apply of N routes is O(N), not O(N²)). Edits are recorded against the index and made to the
tree at once by ``finish``: removals by identity, new routes before each server's first
catch-all, new policies in front, new certificate loaders at the end, exactly where editing
one route at a time would have put them. The backend posts the finished tree conditionally,
so a route and its TLS parts change in one atomic reload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.backends.caddy.mapping import (
    ID_PREFIX,
    cert_tag,
    policy_id,
    spec_from_caddy,
    written_by_routes,
)
from reconciler.backends.options import CaddyOptions
from reconciler.model import RouteSpec, TlsConfig

NOT_FOUND_BODY = "no route matches this host and path\n"

Found = tuple[str, int, dict[str, Any]]  # server name, index in its routes, the Caddy route


def servers(apps: dict[str, Any]) -> dict[str, Any]:
    http = apps.setdefault("http", {})
    found: dict[str, Any] = http.setdefault("servers", {})
    return found


def caddy_routes(apps: dict[str, Any]) -> Iterator[Found]:
    """Every (server, index, route) of the http app, in serving order."""
    for server_name, server in sorted(((apps.get("http") or {}).get("servers") or {}).items()):
        for index, route in enumerate(server.get("routes") or []):
            if isinstance(route, dict):
                yield server_name, index, route


def _loaders(apps: dict[str, Any]) -> list[Any]:
    return ((apps.get("tls") or {}).get("certificates") or {}).get("load_files") or []


class CaddyApps:
    """The ``apps`` tree with our routes, policies and certificates indexed by name."""

    def __init__(self, apps: dict[str, Any], options: CaddyOptions) -> None:
        self.tree = apps
        self.options = options
        self._routes: dict[str, list[Found]] = {}
        for found in caddy_routes(apps):
            route_id = found[2].get("@id")
            if isinstance(route_id, str) and route_id.startswith(ID_PREFIX):
                self._routes.setdefault(route_id.removeprefix(ID_PREFIX), []).append(found)
        self._policies: dict[str, list[dict[str, Any]]] = {}
        for server in servers(apps).values():
            for policy in server.get("tls_connection_policies") or []:
                self._policies.setdefault(str(policy.get("@id")), []).append(policy)
        self._certificates: dict[str, list[dict[str, Any]]] = {}
        for loader in _loaders(apps):
            for tag in loader.get("tags") or []:
                self._certificates.setdefault(str(tag), []).append(loader)
        # file -> secret name, for reading TLS back (the first name in reverse order wins)
        self._secret_of = {
            files[0]: secret for secret, files in sorted(options.secrets.items(), reverse=True)
        }
        self._gone: set[int] = set()  # id() of routes, policies and loaders removed
        self._new_routes: dict[str, list[dict[str, Any]]] = {}
        self._new_policies: dict[str, list[dict[str, Any]]] = {}
        self._new_loaders: list[dict[str, Any]] = []

    # -- reads ------------------------------------------------------------------------------

    def find(self, name: str) -> Found | None:
        """The Caddy route with our ``@id`` for ``name``, owned or hand-made."""
        found = self._routes.get(name)
        return found[0] if found else None

    def tls_of(self, name: str) -> TlsConfig | None:
        """The TLS settings Caddy really applies to the route's host, as secret names."""
        policies = self._policies.get(policy_id(name)) or [{}]
        policy = policies[-1]
        auth = policy.get("client_authentication") or {}
        ca_files = auth.get("trusted_ca_certs_pem_files") or []
        ca = None
        if auth.get("mode") == "require_and_verify" and ca_files:
            ca = self._secret_of.get(ca_files[0], f"<file:{ca_files[0]}>")
        cert = None
        tags = set((policy.get("certificate_selection") or {}).get("any_tag") or [])
        for tag in sorted(tags):
            for loader in self._certificates.get(str(tag)) or []:
                file = str(loader.get("certificate"))
                cert = self._secret_of.get(file, f"<file:{file}>")
        if ca is None and cert is None:
            return None
        return TlsConfig(client_validation_ca=ca, server_certificate=cert)

    def spec_of(self, name: str, route: dict[str, Any]) -> RouteSpec:
        """The served spec of an owned route, TLS included."""
        return spec_from_caddy(route, self.tls_of(name), self.options)

    def parts_of(self, name: str) -> dict[str, Any]:
        """Everything Caddy holds for the route: what its version is a digest of."""
        found = self.find(name)
        return {
            "server": found[0] if found else None,
            "route": found[2] if found else None,
            "owned": bool(found and written_by_routes(found[2])),
            "policies": self._policies.get(policy_id(name), []),
            "certificates": self._certificates.get(cert_tag(name), []),
        }

    # -- edits ------------------------------------------------------------------------------

    def remove(self, name: str) -> None:
        """Remove the route for ``name`` and its TLS policy and certificate loader."""
        found = self._routes.get(name)
        if found:
            self._gone.add(id(found.pop(0)[2]))
        for part in self._policies.pop(policy_id(name), []):
            self._gone.add(id(part))
        for part in self._certificates.pop(cert_tag(name), []):
            self._gone.add(id(part))

    def add(self, name: str, spec: RouteSpec, route: dict[str, Any]) -> None:
        """Add the Caddy route and, for a TLS route, its connection policy and certificate."""
        server_name = self._ensure_server(tls=spec.tls is not None)
        self._new_routes.setdefault(server_name, []).append(route)
        self._routes.setdefault(name, []).append((server_name, 0, route))
        if spec.tls is None:
            return
        policy: dict[str, Any] = {"@id": policy_id(name), "match": {"sni": [spec.host]}}
        if spec.tls.server_certificate:
            cert, key = self.options.secrets[spec.tls.server_certificate]
            loader = {"certificate": cert, "key": key, "tags": [cert_tag(name)]}
            self._new_loaders.append(loader)
            self._certificates.setdefault(cert_tag(name), []).append(loader)
            policy["certificate_selection"] = {"any_tag": [cert_tag(name)]}
        if spec.tls.client_validation_ca:
            ca_file = self.options.secrets[spec.tls.client_validation_ca][0]
            policy["client_authentication"] = {
                "trusted_ca_certs_pem_files": [ca_file],
                "mode": "require_and_verify",
            }
        self._new_policies.setdefault(server_name, []).append(policy)
        self._policies.setdefault(policy_id(name), []).append(policy)

    def finish(self) -> dict[str, Any]:
        """The tree with every edit made; the index stays valid for reading the result."""
        all_servers = servers(self.tree)
        for server_name, server in all_servers.items():
            routes = server.get("routes")
            if routes and self._gone:
                server["routes"] = routes = [r for r in routes if id(r) not in self._gone]
            added = self._new_routes.get(server_name)
            if added:
                routes = server.setdefault("routes", [])
                at = next(
                    (i for i, r in enumerate(routes) if isinstance(r, dict) and not r.get("match")),
                    len(routes),
                )
                routes[at:at] = added
            policies = server.get("tls_connection_policies")
            if policies and self._gone:
                policies = [p for p in policies if id(p) not in self._gone]
                server["tls_connection_policies"] = policies
            fresh = self._new_policies.get(server_name)
            if fresh:
                server["tls_connection_policies"] = [*reversed(fresh), *(policies or [])]
        loaders = _loaders(self.tree)
        if (loaders and self._gone) or self._new_loaders:
            kept = [f for f in loaders if id(f) not in self._gone]
            if kept or self._new_loaders or "tls" in self.tree:
                certificates = self.tree.setdefault("tls", {}).setdefault("certificates", {})
                certificates["load_files"] = [*kept, *self._new_loaders]
        self._gone.clear()
        self._new_routes.clear()
        self._new_policies.clear()
        self._new_loaders.clear()
        return self.tree

    def _ensure_server(self, *, tls: bool) -> str:
        """The named server, created (ending in a 404 catch-all) when missing."""
        options = self.options
        name = options.tls_server if tls else options.server
        if name not in servers(self.tree):
            server: dict[str, Any] = {
                "listen": list(options.tls_listen if tls else options.listen),
                "automatic_https": {"disable": True},
                "routes": [
                    {
                        "handle": [
                            {
                                "handler": "static_response",
                                "status_code": 404,
                                "body": NOT_FOUND_BODY,
                            }
                        ]
                    }
                ],
            }
            if tls:
                # The catch-all policy keeps the listener on TLS when no route uses it; strict
                # SNI stops a client reaching an mTLS host through another name's handshake.
                server["tls_connection_policies"] = [{}]
                server["strict_sni_host"] = True
            servers(self.tree)[name] = server
        return name
