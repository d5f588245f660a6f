"""The guards before every apply: max deletes, empty desired set, plans with errors.
(Saved plans are planned again first: tests/apply/test_rederive.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.apply.applier import ApplyOptions
from reconciler.apply.guards import check_guards
from reconciler.diagnostics import Diagnostic
from reconciler.errors import GuardError
from reconciler.plan import Plan
from tests.apply.support import (
    RecordingBackend,
    create,
    delete,
    outcomes,
    plan_of,
    run,
    spec,
)

# -- guards ---------------------------------------------------------------------------------


def _many_deletes(n: int) -> tuple[RecordingBackend, Plan]:
    backend = RecordingBackend()
    changes = [
        delete(f"r{i:02d}", backend.seed(f"r{i:02d}", spec(f"r{i}.acme.org"))) for i in range(n)
    ]
    return backend, plan_of(changes, desired_count=1)


def test_more_deletes_than_max_deletes_is_refused() -> None:
    backend, plan = _many_deletes(12)
    with pytest.raises(GuardError) as caught:
        run(plan, backend, {})
    assert "refusing to delete 12 routes (more than --max-deletes 10)" in caught.value.message
    assert "pass --max-deletes 12 if intended" in caught.value.message
    assert backend.write_count == 0
    assert run(plan, backend, {}, max_deletes=12).count("applied") == 12


def test_pruning_to_an_empty_desired_set_needs_allow_empty() -> None:
    backend = RecordingBackend()
    plan = plan_of([delete("only", backend.seed("only", spec("only.acme.org")))], desired_count=0)
    with pytest.raises(GuardError, match="desired set is empty") as caught:
        run(plan, backend, {})
    assert caught.value.hint is not None and "--allow-empty" in caught.value.hint
    assert backend.write_count == 0
    assert outcomes(run(plan, backend, {}, allow_empty=True)) == {"only": "applied"}


def test_plan_with_errors_is_refused_naming_them() -> None:
    plan = replace(
        plan_of([create("a", spec("a.acme.org"))]),
        diagnostics=(
            Diagnostic("W1", "warning", "just a warning"),
            Diagnostic("E1", "error", "host is not registered", file="routes/a.yaml", line=3),
        ),
    )
    with pytest.raises(GuardError) as caught:
        check_guards(plan, ApplyOptions())
    assert "routes/a.yaml:3: host is not registered" in caught.value.message
    assert "just a warning" not in caught.value.message
