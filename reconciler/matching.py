"""Which rule serves a request: the platform's matching rules, as one pure function.

A request is served by the routes whose host equals its host after canonicalisation
(lower case, no trailing dot, IDNA). Among every path rule of those routes, the longest
prefix that the request path starts with wins: prefixes are literal and case-sensitive
(``/carts`` matches ``/carts/1`` and ``/cartsX``, not ``/Carts``). The path is taken
without its query, with percent-encoded unreserved characters decoded (``%62`` is ``b``,
RFC 3986 6.2.2.2), then repeated slashes merged and dot segments resolved, as Caddy and
Envoy clean it before matching. No match is a 404.

``serving_order`` is the order the Caddy mapping writes a route's rules in, so the engine
and ``routes explain`` cannot disagree about which rule wins.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.canonical import canonical_host
from reconciler.model import PathRule, RouteSpec

__all__ = ["Match", "RoutingTable", "clean_path", "serving_order"]

_SLASHES = re.compile(r"/{2,}")
_UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])")


def serving_order(rules: Iterable[PathRule]) -> list[PathRule]:
    """Rules in the order they are tried: longest prefix first, equal lengths by prefix."""
    return sorted(rules, key=lambda rule: (-len(rule.prefix), rule.prefix))


def clean_path(path: str) -> str:
    """The request path as matched: query dropped, unreserved characters decoded, slashes
    merged, dot segments resolved (a trailing slash is kept)."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if "%" in path:
        path = _UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), path)
    if not path.startswith("/"):
        path = "/" + path
    merged = _SLASHES.sub("/", path)
    cleaned = posixpath.normpath(merged)
    if merged.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


@dataclass(frozen=True)
class Match:
    """The rule that serves a request, and what else on the host would have matched."""

    host: str
    path: str
    route: str
    spec: RouteSpec
    rule: PathRule
    # Other routes on this host with the very same prefix (W101): the winner is the first
    # by name here, but which one a platform serves is not defined.
    tied: tuple[str, ...] = ()
    # Shorter prefixes that also match, longest first: where the request falls through to.
    shorter: tuple[tuple[str, str], ...] = ()  # (route, prefix)


@dataclass(frozen=True)
class _Entry:
    route: str
    rule: PathRule


class RoutingTable:
    """Every path rule of a set of routes, by canonical host, in serving order."""

    def __init__(self, routes: Mapping[str, RouteSpec] | Iterable[tuple[str, RouteSpec]]) -> None:
        pairs = routes.items() if isinstance(routes, Mapping) else routes
        self.specs: dict[str, RouteSpec] = dict(sorted(pairs))
        by_host: dict[str, list[_Entry]] = {}
        for name, spec in self.specs.items():
            # A RouteSpec's host is canonical already (RouteSpec.from_dict).
            entries = by_host.setdefault(spec.host, [])
            entries.extend(_Entry(name, rule) for rule in spec.paths)
        self._hosts = {
            host: sorted(entries, key=lambda e: (-len(e.rule.prefix), e.rule.prefix, e.route))
            for host, entries in sorted(by_host.items())
        }

    @property
    def hosts(self) -> list[str]:
        return list(self._hosts)

    def rules(self, host: str) -> list[tuple[str, PathRule]]:
        """(route, rule) of every rule on ``host``, in serving order."""
        return [(e.route, e.rule) for e in self._hosts.get(canonical_host(host), [])]

    def routes_on(self, host: str) -> list[str]:
        """The names of the routes serving ``host``."""
        return sorted({route for route, _ in self.rules(host)})

    def match(self, host: str, path: str) -> Match | None:
        """The rule serving ``host`` + ``path`` under the platform's rules, or None (404)."""
        wanted_host, wanted_path = canonical_host(host), clean_path(path)
        matching = [
            e for e in self._hosts.get(wanted_host, []) if wanted_path.startswith(e.rule.prefix)
        ]
        if not matching:
            return None
        best = matching[0]
        winner = best.rule.prefix
        return Match(
            host=wanted_host,
            path=wanted_path,
            route=best.route,
            spec=self.specs[best.route],
            rule=best.rule,
            tied=tuple(e.route for e in matching[1:] if e.rule.prefix == winner),
            shorter=tuple((e.route, e.rule.prefix) for e in matching if e.rule.prefix != winner),
        )
