"""``routes apply``: apply descriptors (after a confirmation) or a saved plan file exactly.

A saved plan is applied only once it is proven applicable to the backend as it is now
(``prepare_saved_plan``); descriptors are planned first and the plan is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo, load_source, open_backend, render_plan
from reconciler.commands.planning import plan_or_refuse
from reconciler.errors import EXIT_ERROR, EXIT_OK, GuardError, PlanError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import SENSITIVE, RouteSpec
from reconciler.plan import ApplyResult, Plan
from reconciler.quoting import json_text

if TYPE_CHECKING:
    from reconciler.apply.applier import Progress
    from reconciler.backends.base import Backend
    from reconciler.config import Settings

Ask = Callable[[str], str]  # the answer to a prompt
ProgressBar = Callable[[int], AbstractContextManager["Progress | None"]]  # total -> callback


@gc_paused()  # a command run builds thousands of routes and plan entries, no cycles
def apply(
    load_settings: Callable[[], Settings],
    paths: Sequence[str],
    *,
    auto_approve: bool,
    prune: bool | None,
    max_deletes: int | None,
    allow_empty: bool,
    parallelism: int | None,
    wait: bool,
    wait_timeout: float,
    targets: Sequence[str],
    fmt: str,
    color: bool,
    echo: Echo,
    ask: Ask | None,
    progress: ProgressBar,
) -> int:
    """Apply; 0 when every route was applied, 1 when any failed (the report says which).

    ``ask`` is None when there is no terminal to ask on; ``progress(total)`` gives the
    callback each route's result is reported to (None for no progress shown)."""
    from reconciler.apply import applier
    from reconciler.apply.saved_plan import is_plan_file

    saved = is_plan_file(paths)
    if saved:
        if prune is not None or targets:
            raise UsageError(
                "--prune and --target belong to the plan; a saved plan is applied as is"
            )
        settings = load_settings()
        the_plan, backend, specs = open_saved_plan(settings, paths[0])
    else:
        planned = plan_or_refuse(load_settings(), paths, echo=echo, prune=prune, targets=targets)
        settings, the_plan, backend = planned.settings, planned.plan, planned.backend
        # With --format json, stdout carries the report alone.
        echo(render_plan(the_plan, "text", color), err=fmt == "json")
        if not the_plan.has_changes:
            backend.close()
            return report(ApplyResult(), fmt, echo) if fmt == "json" else EXIT_OK
        specs = {name: route.spec for name, route in planned.source.load.routes.items()}
    options = applier.ApplyOptions(
        parallelism=parallelism or settings.parallelism,
        wait=wait,
        wait_timeout=wait_timeout,
        journal_dir=settings.journal_dir or settings.state_dir / "journal",
        max_deletes=settings.max_deletes if max_deletes is None else max_deletes,
        allow_empty=allow_empty,
    )
    applier.check_guards(the_plan, options)
    if not saved and not auto_approve:
        confirm(ask, echo)
    with progress(len(the_plan.changes)) as on_result:
        result = applier.apply_plan(the_plan, backend, specs, options, progress=on_result)
    backend.close()
    return report(result, fmt, echo)


def confirm(ask: Ask | None, echo: Echo) -> None:
    """Go on only when the user types ``yes``; ``GuardError`` otherwise, or with no terminal."""
    if ask is None:
        raise GuardError(
            "refusing to apply without confirmation: no terminal to ask on",
            hint="review the plan and pass --auto-approve, or apply a saved plan file",
        )
    echo("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.")
    if ask("  Enter a value").strip() != "yes":
        raise GuardError("apply cancelled: the answer was not 'yes'; nothing was changed")


def report(result: ApplyResult, fmt: str, echo: Echo) -> int:
    """Print the apply report (``text`` or ``json``); 0 when every route succeeded."""
    if fmt == "json":
        echo(json_text(result.to_dict()))
    else:
        from reconciler.render.text import render_apply_text

        echo("")
        echo(render_apply_text(result.to_dict()))
    return EXIT_OK if result.ok else EXIT_ERROR


# ------------------------------------------------------------------------------ saved plans


def open_saved_plan(settings: Settings, path: str) -> tuple[Plan, Backend, dict[str, RouteSpec]]:
    """Read a saved plan and open its backend, once the plan is proven applicable there."""
    from reconciler.apply.saved_plan import read_plan_file

    the_plan = read_plan_file(path)
    backend = open_backend(settings)
    try:
        specs = prepare_saved_plan(settings, path, the_plan, backend)
    except BaseException:
        backend.close()
        raise
    return the_plan, backend, specs


def prepare_saved_plan(
    settings: Settings, path: str, the_plan: Plan, backend: Backend
) -> dict[str, RouteSpec]:
    """The full specs to write, once the plan is proven applicable to ``backend`` as it is.

    Refuses a plan with errors, a plan made for another backend, a plan whose secrets the
    descriptors no longer prove, and a stale plan; nothing is written in any of these cases.
    """
    from reconciler.apply.guards import check_fresh, resolve_desired_specs
    from reconciler.apply.saved_plan import refuse_invalid_routes

    if the_plan.has_errors:
        raise PlanError(f"{path} was made from descriptors with errors; it cannot be applied")
    if backend.url != the_plan.backend:
        raise PlanError(
            f"{path} was made for backend {the_plan.backend}, but the backend is {backend.url}",
            hint="apply it with the same --backend / ROUTES_BACKEND / config it was planned with",
        )
    loaded = None
    if any(SENSITIVE in str(change.after) for change in the_plan.changes):
        loaded = _load_plan_source(settings, the_plan)
    specs = resolve_desired_specs(the_plan, loaded)
    refuse_invalid_routes(path, the_plan, specs)
    check_fresh(the_plan, backend)
    return specs


def _load_plan_source(settings: Settings, the_plan: Plan) -> dict[str, RouteSpec]:
    # Secrets are not in the plan: the descriptors it was made from must supply them.
    paths = [str(settings.resolve(p)) for p in the_plan.source_paths]
    source = load_source(settings, paths)
    return {name: route.spec for name, route in source.load.routes.items()}
