"""Which requests a change sends somewhere else: the traffic impact of a plan. Pure.

For every host a plan touches, the routing table before (live) and after (live with the
plan applied) is compared region by region: the requests whose longest matching prefix is
``P`` among the prefixes of both tables go to one destination before and one after
(``reconciler.matching``'s rules), so each prefix whose two destinations differ is one
move. The dict form is the ``traffic`` list of ``schemas/plan.schema.json``; a plan's host
that one new route alone will serve (all of a first apply's) is a mapping made when read.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.matching import RoutingTable
from reconciler.model import DesiredRoute, LiveRoute, RouteSpec
from reconciler.plan import Change

__all__ = [
    "KINDS",
    "Destination",
    "HostTraffic",
    "TrafficMove",
    "applied",
    "plan_traffic",
    "traffic_impact",
]

# retargeted: the prefix stays and its service changes; removed: the prefix goes and its
# requests fall through to a shorter prefix (or 404); added: a new prefix serves what was
# a 404; captured: a new prefix takes requests a shorter prefix served.
KINDS = ("retargeted", "removed", "added", "captured")


@dataclass(frozen=True)
class Destination:
    """Where a request goes: the route, the prefix that matched and its service."""

    route: str
    prefix: str
    service: str

    def to_dict(self) -> dict[str, str]:
        return {"route": self.route, "prefix": self.prefix, "service": self.service}


@dataclass(frozen=True)
class TrafficMove:
    """Requests whose path starts with ``prefix`` (but none of ``excluding``) move."""

    kind: str
    prefix: str
    before: Destination | None  # None: 404
    after: Destination | None
    excluding: tuple[str, ...] = ()

    @property
    def risk(self) -> bool:
        """A removal whose requests now reach another service instead of failing."""
        return self.kind == "removed" and self.after is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "prefix": self.prefix,
            "except": list(self.excluding),
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "risk": self.risk,
        }


@dataclass(frozen=True)
class HostTraffic:
    """One changed host: its moves, and every rule before and after (for the picture)."""

    host: str
    moves: tuple[TrafficMove, ...]
    rules: tuple[tuple[str, Destination | None, Destination | None], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "moves": [move.to_dict() for move in self.moves],
            "rules": [
                {
                    "prefix": prefix,
                    "before": before.to_dict() if before else None,
                    "after": after.to_dict() if after else None,
                }
                for prefix, before, after in self.rules
            ],
        }


def traffic_impact(
    before: Mapping[str, RouteSpec], after: Mapping[str, RouteSpec], changed: Iterable[str]
) -> tuple[HostTraffic, ...]:
    """The traffic moves on every host of the ``changed`` routes (by name, either side)."""
    hosts = {specs[name].host for name in changed for specs in (before, after) if name in specs}
    old, new = _on_hosts(before, hosts), _on_hosts(after, hosts)
    found = []
    for host in sorted(hosts):
        entry = _host_traffic(
            host, _winners(old.get(host, []), host), _winners(new.get(host, []), host)
        )
        if entry.rules:
            found.append(entry)
    return tuple(found)


def plan_traffic(
    desired: Mapping[str, DesiredRoute], live: Mapping[str, LiveRoute], changes: Iterable[Change]
) -> tuple[Mapping[str, Any], ...]:
    """The ``traffic`` of a plan (``HostTraffic.to_dict()`` forms): every live route serves
    before, and after the changes too."""
    changes = list(changes)
    if not changes:
        return ()
    hosts = {live[c.route].spec.host for c in changes if c.route in live}
    hosts |= {desired[c.route].spec.host for c in changes if c.action != "delete"}
    # Only the touched hosts: a plan of 100 changes among 10,000 routes looks at 100 hosts.
    nearby = {name: route for name, route in live.items() if route.spec.host in hosts}
    before = {name: route.spec for name, route in nearby.items()}
    old, new = _on_hosts(before, hosts), _on_hosts(applied(desired, nearby, changes), hosts)
    found: list[Mapping[str, Any]] = []
    for host in sorted(hosts):
        routes = new.get(host, [])
        if host not in old and len(routes) == 1:
            # A new host of one route (most of a first apply): nothing to compare, and its
            # moves and rules are made only when shown.
            if routes[0][1].paths:
                found.append(_NewHost(host, *routes[0]))
            continue
        entry = _host_traffic(host, _winners(old.get(host, []), host), _winners(routes, host))
        if entry.rules:
            found.append(entry.to_dict())
    return tuple(found)


def applied(
    desired: Mapping[str, DesiredRoute], live: Mapping[str, LiveRoute], changes: Iterable[Change]
) -> dict[str, RouteSpec]:
    """The routes that serve once ``changes`` are applied to ``live``, by name."""
    after = {name: route.spec for name, route in live.items()}
    for change in changes:
        if change.action == "delete":
            after.pop(change.route, None)
        else:
            after[change.route] = desired[change.route].spec
    return after


class _NewHost(Mapping[str, Any]):
    """``HostTraffic.to_dict()`` of a host no live route serves and one new route will:
    every prefix of the route is "added", from 404 to the route itself."""

    __slots__ = ("_host", "_route", "_spec")
    _KEYS = ("host", "moves", "rules")

    def __init__(self, host: str, route: str, spec: RouteSpec) -> None:
        self._host, self._route, self._spec = host, route, spec

    def __getitem__(self, key: str) -> Any:
        if key == "host":
            return self._host
        if key not in self._KEYS:
            raise KeyError(key)
        served = {rule.prefix: rule.service for rule in self._spec.paths}  # as _winners
        prefixes = sorted(served)
        route = self._route
        if key == "moves":
            return [
                {
                    "kind": "added",
                    "prefix": prefix,
                    "except": list(_longer(prefix, prefixes)),
                    "before": None,
                    "after": {"route": route, "prefix": prefix, "service": served[prefix]},
                    "risk": False,
                }
                for prefix in prefixes
            ]
        return [
            {
                "prefix": prefix,
                "before": None,
                "after": {"route": route, "prefix": prefix, "service": served[prefix]},
            }
            for prefix in prefixes
        ]

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


def _on_hosts(specs: Mapping[str, RouteSpec], hosts: set[str]) -> dict[str, list[Any]]:
    """The (name, spec) of the routes on each of ``hosts``."""
    found: dict[str, list[Any]] = {}
    for name, spec in specs.items():
        if spec.host in hosts:
            found.setdefault(spec.host, []).append((name, spec))
    return found


def _winners(routes: list[tuple[str, RouteSpec]], host: str) -> dict[str, Destination]:
    """The destination of each prefix on ``host``, served by ``routes`` (all on it)."""
    if len(routes) == 1:  # one route: each of its prefixes is its own, nothing to rank
        name, spec = routes[0]
        return {rule.prefix: Destination(name, rule.prefix, rule.service) for rule in spec.paths}
    found: dict[str, Destination] = {}
    for route, rule in RoutingTable(routes).rules(host):  # serving order: a tie's winner first
        found.setdefault(rule.prefix, Destination(route, rule.prefix, rule.service))
    return found


def _host_traffic(
    host: str, old: dict[str, Destination], new: dict[str, Destination]
) -> HostTraffic:
    prefixes = sorted(old.keys() | new.keys())
    if not old:  # a new host: every prefix is new and served by its own rule
        return HostTraffic(
            host,
            tuple(
                TrafficMove("added", prefix, None, new[prefix], _longer(prefix, prefixes))
                for prefix in prefixes
            ),
            tuple((prefix, None, new[prefix]) for prefix in prefixes),
        )
    moves = []
    rules = []
    for prefix in prefixes:
        was, now = _served(old, prefix), _served(new, prefix)
        rules.append((prefix, old.get(prefix), new.get(prefix)))
        if _service(was) == _service(now):
            continue
        if prefix in old and prefix in new:
            kind = "retargeted"
        elif prefix in old:
            kind = "removed"
        else:
            kind = "added" if was is None else "captured"
        moves.append(TrafficMove(kind, prefix, was, now, _longer(prefix, prefixes)))
    return HostTraffic(host, tuple(moves), tuple(rules))


def _served(table: dict[str, Destination], prefix: str) -> Destination | None:
    """The destination of requests whose longest prefix in either table is ``prefix``."""
    for cut in range(len(prefix), 0, -1):
        found = table.get(prefix[:cut])
        if found is not None:
            return found
    return None


def _service(destination: Destination | None) -> str | None:
    return destination.service if destination else None


def _longer(prefix: str, prefixes: list[str]) -> tuple[str, ...]:
    """The next longer prefixes under ``prefix``: their requests have their own entry.

    ``prefixes`` is sorted and unique, so those that start with ``prefix`` follow it in one
    run, and one that starts with an earlier one of that run starts with the last kept."""
    found: list[str] = []
    for other in prefixes[bisect_right(prefixes, prefix) :]:
        if not other.startswith(prefix):
            break
        if not (found and other.startswith(found[-1])):
            found.append(other)
    return tuple(found)
