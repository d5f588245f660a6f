"""What an apply did: one ``RouteResult`` per route, and the totals the journal and
``--format json`` show. Data only; a plan (``reconciler.plan``) never needs it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["RESULTS", "ApplyResult", "RouteResult"]


@dataclass(frozen=True)
class RouteResult:
    """The outcome of one route in an apply."""

    route: str
    action: str
    outcome: str  # applied | already-applied | conflict | failed | not-attempted
    message: str = ""
    attempts: int = 0
    version: str | None = None

    @property
    def result(self) -> str:
        """What became of the route: created, updated or deleted when applied, else the
        outcome (already-applied, conflict, failed, not-attempted)."""
        if self.outcome == "applied":
            return _APPLIED_AS.get(self.action, self.outcome)
        return self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "action": self.action,
            "outcome": self.outcome,
            "result": self.result,
            "message": self.message,
            "attempts": self.attempts,
            "version": self.version,
        }


_APPLIED_AS = {
    "create": "created",
    "update": "updated",
    "adopt": "adopted",
    "delete": "deleted",
}
RESULTS = (
    "created",
    "updated",
    "adopted",
    "deleted",
    "already-applied",
    "conflict",
    "failed",
    "not-attempted",
)


@dataclass(frozen=True)
class ApplyResult:
    results: tuple[RouteResult, ...] = ()
    journal: str | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def ok(self) -> bool:
        return all(r.outcome in ("applied", "already-applied") for r in self.results)

    def summary(self) -> dict[str, int]:
        """The totals as the journal and ``--format json`` have always had them (``applied``
        counts every write, deletes too); ``counts`` tells them apart."""
        return _summary(self._tally())

    def counts(self) -> dict[str, int]:
        """How many routes ended in each result: created, updated, deleted, already-applied,
        conflict, failed, not-attempted."""
        return _counts(self._tally())

    def _tally(self) -> Counter[tuple[str, str]]:
        """How many results have each (outcome, action): one pass over 10,000 of them."""
        return Counter((r.outcome, r.action) for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        tally = self._tally()
        return {
            "summary": _summary(tally),
            "counts": _counts(tally),
            "results": [r.to_dict() for r in self.results],
            "journal": self.journal,
        }


def _summary(tally: Counter[tuple[str, str]]) -> dict[str, int]:
    outcomes: Counter[str] = Counter()
    for (outcome, _), n in tally.items():
        outcomes[outcome] += n
    return {
        "applied": outcomes["applied"],
        "already-applied": outcomes["already-applied"],
        "failed": outcomes["failed"] + outcomes["conflict"],
        "not-attempted": outcomes["not-attempted"],
    }


def _counts(tally: Counter[tuple[str, str]]) -> dict[str, int]:
    results: Counter[str] = Counter()
    for (outcome, action), n in tally.items():  # as RouteResult.result names each
        results[_APPLIED_AS.get(action, outcome) if outcome == "applied" else outcome] += n
    return {name: results[name] for name in RESULTS}
