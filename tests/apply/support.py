"""Shared pieces of the apply tests: specs, changes and plans made by hand, a memory
backend that records and fails on purpose, and a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.memory import MemoryBackend
from reconciler.model import (
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    DesiredRoute,
    LiveRoute,
    RouteSet,
    RouteSpec,
    SourceLocation,
)
from reconciler.plan import Change, Plan
from reconciler.results import ApplyResult

OWNER = "acme/gitops"
SECRET_HASH = "sha256:c2VjcmV0LWhhc2gtdGhhdC1tdXN0LW5ldmVyLWxlYWs="
LABELS = {LABEL_MANAGED_BY: "routes", LABEL_OWNER: OWNER}


def spec(host: str, service: str = "svc", *, secret: bool = False) -> RouteSpec:
    raw: dict[str, Any] = {"host": host, "routes": [{"prefix": "/", "route": {"service": service}}]}
    if secret:
        raw["validation"] = {"httpBasic": {"realm": "r", "passwordHashes": {"admin": SECRET_HASH}}}
    return RouteSpec.from_dict(raw)


def create(name: str, after: RouteSpec) -> Change:
    return Change(
        route=name,
        action="create",
        after=after.to_dict(redact=True),
        after_fingerprint=after.fingerprint(),
        labels=LABELS,
    )


def update(name: str, before: LiveRoute, after: RouteSpec) -> Change:
    return Change(
        route=name,
        action="update",
        before=before.spec.to_dict(redact=True),
        after=after.to_dict(redact=True),
        live_version=before.version,
        live_fingerprint=before.spec.fingerprint(),
        after_fingerprint=after.fingerprint(),
        labels=LABELS,
    )


def delete(name: str, before: LiveRoute) -> Change:
    return Change(
        route=name,
        action="delete",
        reason="not-in-configuration",
        before=before.spec.to_dict(redact=True),
        live_version=before.version,
        live_fingerprint=before.spec.fingerprint(),
    )


def plan_of(changes: Iterable[Change], desired_count: int | None = None) -> Plan:
    changes = tuple(changes)
    count = sum(c.action != "delete" for c in changes) if desired_count is None else desired_count
    return Plan(
        backend="memory:", owner=OWNER, tool_version="0", changes=changes, desired_count=count
    )


def specs_of(changes: Iterable[tuple[str, RouteSpec]]) -> dict[str, RouteSpec]:
    return dict(changes)


class RecordingBackend(MemoryBackend):
    """A memory backend that records every write in order, counts concurrent writes, and
    raises injected errors; ``gate`` makes writers wait for peers so overlap is observable."""

    def __init__(self, gate: int = 0) -> None:
        super().__init__("memory:test")
        self.calls: list[tuple[str, str]] = []
        self.written: list[tuple[str, str]] = []  # successful writes only
        self.faults: dict[tuple[str, str], list[BaseException]] = {}
        self.before_write: Callable[[str, str], None] | None = None
        self.gate = gate
        self.active = 0
        self.max_active = 0
        self._cond = threading.Condition()

    def seed(
        self, name: str, route_spec: RouteSpec, labels: Mapping[str, str] = LABELS
    ) -> LiveRoute:
        route = super().create_route(name, route_spec, labels, {})
        self.write_count = 0
        return route

    def _enter(self, op: str, name: str) -> None:
        with self._cond:
            self.calls.append((op, name))
            pending = self.faults.get((op, name))
            if pending:
                raise pending.pop(0)
            if op == "get":
                return
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self._cond.notify_all()
            if self.gate:
                self._cond.wait_for(lambda: self.active >= self.gate, timeout=0.05)
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook(op, name)

    def _leave(self) -> None:
        with self._cond:
            self.active -= 1

    def get_route(self, name: str) -> LiveRoute | None:
        self._enter("get", name)
        return super().get_route(name)

    def create_route(self, name: str, spec: RouteSpec, labels: Any, annotations: Any) -> LiveRoute:
        self._enter("create", name)
        try:
            route = super().create_route(name, spec, labels, annotations)
            self.written.append(("create", name))
            return route
        finally:
            self._leave()

    def replace_route(
        self, name: str, spec: RouteSpec, labels: Any, annotations: Any, expected_version: Any
    ) -> LiveRoute:
        self._enter("replace", name)
        try:
            route = super().replace_route(name, spec, labels, annotations, expected_version)
            self.written.append(("replace", name))
            return route
        finally:
            self._leave()

    def delete_route(self, name: str, expected_version: str | None) -> None:
        self._enter("delete", name)
        try:
            super().delete_route(name, expected_version)
            self.written.append(("delete", name))
        finally:
            self._leave()

    def sneak(self, name: str, route_spec: RouteSpec | None) -> None:
        """Someone else changes a route behind the plan's back."""
        if route_spec is None:
            MemoryBackend.delete_route(self, name, None)
        elif MemoryBackend.get_route(self, name) is None:
            MemoryBackend.create_route(self, name, route_spec, LABELS, {})
        else:
            MemoryBackend.replace_route(self, name, route_spec, LABELS, {}, None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def run(
    plan: Plan,
    backend: RecordingBackend,
    specs: Mapping[str, RouteSpec],
    clock: FakeClock | None = None,
    **options: Any,
) -> ApplyResult:
    clock = clock or FakeClock()
    return apply_plan(plan, backend, specs, ApplyOptions(**options), sleep=clock.sleep, clock=clock)


def outcomes(result: ApplyResult) -> dict[str, str]:
    return {r.route: r.outcome for r in result.results}


def seed_mixed(backend: RecordingBackend) -> tuple[Plan, dict[str, RouteSpec]]:
    """Seed ``backend`` for three creates, three updates and three deletes; their plan."""
    changes: list[Change] = []
    specs: dict[str, RouteSpec] = {}
    for i in range(3):
        changes.append(create(f"new-{i}", spec(f"new{i}.acme.org")))
        specs[f"new-{i}"] = spec(f"new{i}.acme.org")
        live = backend.seed(f"upd-{i}", spec(f"upd{i}.acme.org", "old"))
        changes.append(update(f"upd-{i}", live, spec(f"upd{i}.acme.org", "new", secret=True)))
        specs[f"upd-{i}"] = spec(f"upd{i}.acme.org", "new", secret=True)
        changes.append(delete(f"del-{i}", backend.seed(f"del-{i}", spec(f"del{i}.acme.org"))))
    # Interleaved on purpose: the applier, not the plan's order, makes the phases.
    return plan_of(reversed(changes)), specs


def _desired(specs: Mapping[str, RouteSpec]) -> RouteSet:
    return RouteSet(
        {n: DesiredRoute(n, s, SourceLocation(f"routes/{n}.yaml")) for n, s in specs.items()}
    )
