"""The checks before an apply (DESIGN §7): freshness of saved plans, their desired specs,
and the guards (max deletes, empty desired set, plans with errors)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import ApplyOptions
from reconciler.apply.guards import check_fresh, check_guards, resolve_desired_specs
from reconciler.backends.local import open_local
from reconciler.diagnostics import Diagnostic
from reconciler.errors import GuardError, InvalidSpecError, PlanError, StalePlanError
from reconciler.plan import Plan
from reconciler.planner import PlanOptions, make_plan
from tests.apply.support import (
    LABELS,
    OWNER,
    SECRET_HASH,
    RecordingBackend,
    _desired,
    create,
    delete,
    outcomes,
    plan_of,
    run,
    spec,
)

# -- freshness of saved plans ---------------------------------------------------------------


def test_stale_saved_plan_is_refused_with_the_route_named(mixed: Any) -> None:
    backend, plan, _specs = mixed
    backend.sneak("upd-2", spec("upd2.acme.org", "hotfix"))
    backend.sneak("new-0", spec("new0.acme.org", "squatter"))
    backend.write_count = 0
    with pytest.raises(StalePlanError) as caught:
        check_fresh(plan, backend)
    first, other = [c.route for c in plan.changes if c.route in ("upd-2", "new-0")]
    assert caught.value.message == f"plan is stale: route {first} changed since the plan was made"
    assert caught.value.hint is not None and "routes plan" in caught.value.hint
    assert other in caught.value.hint
    assert backend.write_count == 0


def test_routes_the_plan_does_not_touch_may_change_freely(mixed: Any) -> None:
    backend, plan, _specs = mixed
    backend.sneak("bystander", spec("other.acme.org"))
    check_fresh(plan, backend)


def test_half_applied_saved_plan_passes_freshness(mixed: Any) -> None:
    backend, plan, specs = mixed
    backend.faults[("delete", "del-0")] = [InvalidSpecError("refused")]
    first = run(plan, backend, specs)
    assert outcomes(first)["del-0"] == "failed"
    saved = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    check_fresh(saved, backend)
    second = run(saved, backend, resolve_desired_specs(saved, specs))
    assert second.ok and outcomes(second)["del-0"] == "applied"


def test_deleted_create_target_and_recreated_delete_target_are_stale() -> None:
    backend = RecordingBackend()
    live = backend.seed("old", spec("old.acme.org"))
    plan = plan_of([delete("old", live)], desired_count=1)
    backend.sneak("old", None)
    check_fresh(plan, backend)  # gone already: as the plan wants it
    backend.sneak("old", spec("old.acme.org", "back"))
    with pytest.raises(StalePlanError, match="route old changed"):
        check_fresh(plan, backend)


# -- desired specs for saved plans ----------------------------------------------------------


def test_saved_plan_takes_secrets_from_the_loaded_descriptors() -> None:
    wanted = spec("shop.acme.org", secret=True)
    saved = Plan.from_dict(json.loads(json.dumps(plan_of([create("shop", wanted)]).to_dict())))
    assert SECRET_HASH not in json.dumps(saved.to_dict())
    assert resolve_desired_specs(saved, {"shop": wanted}) == {"shop": wanted}


def test_saved_plan_without_secrets_needs_no_descriptors() -> None:
    wanted = spec("blog.acme.org")
    saved = Plan.from_dict(json.loads(json.dumps(plan_of([create("blog", wanted)]).to_dict())))
    assert resolve_desired_specs(saved, None) == {"blog": wanted}


def test_changed_descriptors_make_a_secret_plan_stale() -> None:
    plan = plan_of([create("shop", spec("shop.acme.org", secret=True))])
    with pytest.raises(StalePlanError) as caught:
        resolve_desired_specs(plan, {"shop": spec("shop.acme.org", "changed", secret=True)})
    assert "descriptors of route shop changed" in caught.value.message
    with pytest.raises(StalePlanError):
        resolve_desired_specs(plan, None)


def test_edited_plan_file_is_refused() -> None:
    change = create("blog", spec("blog.acme.org"))
    tampered = replace(change, after=spec("evil.acme.org").to_dict())
    with pytest.raises(PlanError, match="after_fingerprint"):
        resolve_desired_specs(plan_of([tampered]), None)


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


# -- on the embedded local (SQLite) backend -------------------------------------------------


def test_local_backend_saved_plan_goes_stale_when_another_writer_steps_in(tmp_path: Path) -> None:
    url = f"local:{tmp_path / 'state.db'}"
    backend, other = open_local(url), open_local(url)
    try:
        backend.create_route("shop", spec("shop.acme.org", "v1"), LABELS, {})
        options = PlanOptions(owner=OWNER, backend_url=url, tool_version="0")
        wanted = {"shop": spec("shop.acme.org", "v2")}
        plan = make_plan(_desired(wanted), backend.list_routes(), options)
        saved = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
        live = other.get_route("shop")
        assert live is not None
        other.replace_route("shop", spec("shop.acme.org", "v3"), LABELS, {}, live.version)
        with pytest.raises(StalePlanError, match=r"^plan is stale: route shop changed since"):
            check_fresh(saved, backend)
    finally:
        backend.close()
        other.close()
