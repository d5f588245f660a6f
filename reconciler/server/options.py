"""What ``routes serve`` is told, as values: the token's variable and the fault policy.

Kept apart from the ASGI code so the command line can show the flags' defaults without
loading Starlette or uvicorn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

TOKEN_ENV = "ROUTES_SERVER_TOKEN"
FAULT_KINDS = ("500", "502", "503", "429", "drop", "slow")
STATS_PATH = "/v1/_stats"
ROUTE_PREFIX = "/v1/routes/"


@dataclass(frozen=True)
class FaultPolicy:
    """Which requests misbehave, and how."""

    seed: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 0.5
    retry_after: int = 1  # seconds, on injected 429s
    failing_routes: frozenset[str] = frozenset()  # every request for these answers 503
    exempt: frozenset[str] = field(default_factory=lambda: frozenset({"/healthz", STATS_PATH}))

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be from 0 to 1 (got {self.rate:g})")
        unknown = sorted(set(self.kinds) - set(FAULT_KINDS))
        if unknown or not self.kinds:
            raise ValueError(
                f"unknown fault kind(s) {', '.join(unknown) or '(none given)'}: "
                f"choose from {', '.join(FAULT_KINDS)}"
            )

    def decide(self, method: str, path: str, serial: int) -> str | None:
        """The fault for the ``serial``-th request of ``method path``, or None."""
        if path in self.exempt:
            return None
        if path.startswith(ROUTE_PREFIX) and path[len(ROUTE_PREFIX) :] in self.failing_routes:
            return "always"
        if self.rate <= 0.0:
            return None
        digest = hashlib.blake2b(
            f"{self.seed}\0{method}\0{path}\0{serial}".encode(), digest_size=16
        ).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= self.rate:
            return None
        return self.kinds[int.from_bytes(digest[8:], "big") % len(self.kinds)]


def parse_kinds(raw: str) -> tuple[str, ...]:
    """``"500,502,drop"`` -> ``("500", "502", "drop")``; ValueError names an unknown kind."""
    kinds = tuple(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
    FaultPolicy(kinds=kinds)  # validates
    return kinds
