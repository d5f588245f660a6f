"""The reconcile loop against real backends: plan, apply, plan again is empty; a plan
applied twice writes nothing the second time (DESIGN §3, §7)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.base import Backend
from reconciler.backends.local import open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.model import (
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    DesiredRoute,
    RouteSet,
    RouteSpec,
    SourceLocation,
)
from reconciler.planner import PlanOptions, make_plan
from tests.strategies import route_sets

OWNER = "acme/gitops"
OWNED = {LABEL_MANAGED_BY: "routes", LABEL_OWNER: OWNER}


@contextmanager
def fresh_backend(kind: str) -> Iterator[Backend]:
    if kind == "memory":
        yield MemoryBackend()
        return
    with TemporaryDirectory() as tmp:
        backend = open_local(f"local:{Path(tmp) / 'state.db'}", None)
        try:
            yield backend
        finally:
            backend.close()


def desired_set(docs: dict[str, dict[str, Any]]) -> RouteSet:
    return RouteSet(
        {
            name: DesiredRoute(
                name, RouteSpec.from_dict(doc), SourceLocation(f"routes/{name}.yaml")
            )
            for name, doc in docs.items()
        }
    )


def plan_for(desired: RouteSet, backend: Backend) -> Any:
    options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="t", prune=True)
    return make_plan(desired, backend.list_routes(), options)


def versions(backend: Backend) -> dict[str, str]:
    return {route.name: route.version for route in backend.list_routes()}


@pytest.mark.parametrize("kind", ["memory", "local"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live_docs=route_sets, desired_docs=route_sets, unowned=st.booleans())
def test_apply_converges_and_is_idempotent(
    kind: str, live_docs: dict[str, Any], desired_docs: dict[str, Any], unowned: bool
) -> None:
    with fresh_backend(kind) as backend:
        for name, doc in live_docs.items():
            labels = {} if unowned and name not in desired_docs else OWNED
            backend.create_route(name, RouteSpec.from_dict(doc), labels, {})
        desired = desired_set(desired_docs)
        first = plan_for(desired, backend)
        specs = {name: route.spec for name, route in desired.items()}
        options = ApplyOptions(max_deletes=100, allow_empty=True)

        result = apply_plan(first, backend, specs, options)
        assert result.ok, result.to_dict()
        assert not plan_for(desired, backend).changes

        before = versions(backend)
        again = apply_plan(first, backend, specs, options)
        assert again.ok
        assert {r.outcome for r in again.results} <= {"already-applied"}
        assert versions(backend) == before, "a second apply of the same plan wrote something"
        # Unowned live routes are never touched.
        for name in live_docs:
            if unowned and name not in desired_docs:
                assert backend.get_route(name) is not None
