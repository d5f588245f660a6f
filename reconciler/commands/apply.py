"""``routes apply``: apply descriptors (after a confirmation) or a saved plan file exactly.

A saved plan is never executed as written: it is planned again from the descriptors it
names, against the store it names and the live routes of now (``rederive``), and applied
only as that fresh plan, when it equals the saved one. Descriptors are planned first and
the plan is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING

from reconciler.commands.common import (
    Echo,
    Source,
    backend_shown,
    load_source,
    open_backend,
    render_plan,
    resolve_owner,
)
from reconciler.commands.planning import plan_against_backend, plan_or_refuse
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_OK,
    GuardError,
    PlanError,
    StalePlanError,
    UsageError,
)
from reconciler.gcpause import gc_paused
from reconciler.model import RouteSpec
from reconciler.plan import Plan
from reconciler.quoting import clean, json_text, quote
from reconciler.results import ApplyResult
from reconciler.retry import retry_transient

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
    adopt: Sequence[str] = (),
) -> int:
    """Apply; 0 when every route was applied, 1 when any failed (the report says which).

    ``ask`` is None when there is no terminal to ask on; ``progress(total)`` gives the
    callback each route's result is reported to (None for no progress shown)."""
    from reconciler.apply import applier
    from reconciler.apply.saved_plan import is_plan_file

    saved = is_plan_file(paths)
    if saved:
        if targets or adopt:
            raise UsageError(
                "--target and --adopt belong to the plan; a saved plan is applied as is"
            )
        settings = load_settings()
        pruning = settings.prune if prune is None else prune
        the_plan, backend, specs = open_saved_plan(settings, paths[0], pruning=pruning)
    else:
        planned = plan_or_refuse(
            load_settings(), paths, echo=echo, prune=prune, targets=targets, adopt=adopt
        )
        settings, the_plan, backend = planned.settings, planned.plan, planned.backend
        # With --format json, stdout carries the report alone.
        shown = backend_shown(settings, backend)
        echo(render_plan(the_plan, "text", color, shown), err=fmt == "json")
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
        confirm(ask, echo, f"{backend_shown(settings, backend)} (owner {the_plan.owner})")
    with progress(len(the_plan.changes)) as on_result:
        result = applier.apply_plan(the_plan, backend, specs, options, progress=on_result)
    backend.close()
    return report(result, fmt, echo)


def confirm(ask: Ask | None, echo: Echo, where: str = "") -> None:
    """Go on only when the user types ``yes``; ``GuardError`` otherwise, or with no terminal.
    ``where`` names the backend and owner the question is about."""
    if ask is None:
        raise GuardError(
            "refusing to apply without confirmation: no terminal to ask on",
            hint="review the plan and pass --auto-approve, or apply a saved plan file",
        )
    on = f" on {clean(where)}" if where else ""
    echo(f"\nDo you want to perform these actions{on}?\n  Only 'yes' will be accepted to approve.")
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


def open_saved_plan(
    settings: Settings, path: str, *, pruning: bool
) -> tuple[Plan, Backend, dict[str, RouteSpec]]:
    """Read a saved plan, open the backend and plan again; the plan to apply is the fresh
    one, restricted to the saved plan's routes, once it equals what was reviewed.

    A plan that prunes is applied only where pruning is asked for now too (``--prune`` or
    ``prune: true``): the file alone cannot turn deletes on."""
    from reconciler.apply.saved_plan import read_plan_file

    saved = read_plan_file(path)
    if saved.has_errors:
        raise PlanError(f"{path} was made from descriptors with errors; it cannot be applied")
    if saved.prune and not pruning:
        raise GuardError(
            f"{path} was made with --prune, but this apply does not prune; nothing was written",
            hint="pass --prune to apply a plan that deletes (or set `prune: true`), after "
            "reviewing its deletes with `routes show`",
        )
    backend = open_backend(settings)
    try:
        the_plan, specs = rederive(settings, path, saved, backend)
    except BaseException:
        backend.close()
        raise
    return the_plan, backend, specs


def rederive(
    settings: Settings, path: str, saved: Plan, backend: Backend
) -> tuple[Plan, dict[str, RouteSpec]]:
    """The fresh plan for ``saved``'s routes and the specs to write, or an error saying
    which route differs and how; nothing is written in any case of error.

    Checked, all from the state of now and never from the file: the store and the owner,
    the descriptors (their digest), and the whole plan: ownership from the labels read now,
    ``protected``, ``prune`` as planned, and the one spec validation (the loader's)."""
    from reconciler.apply.rederive import compare

    source = _plan_source(settings, path, saved)
    _check_store_and_owner(settings, path, saved, backend, source)
    # The fresh plan adopts exactly the routes the reviewed one adopts, and no others.
    adopted = tuple(change.route for change in saved.changes if change.action == "adopt")
    fresh, live = plan_against_backend(
        settings, source, backend, prune=saved.prune, targets=saved.targets, adopt=adopted
    )
    if fresh.has_errors:
        errors = [d for d in fresh.diagnostics if d.severity == "error"]
        shown = "; ".join(f"{d.code}: {d.message}" for d in errors[:3])
        raise PlanError(
            f"{path} cannot be applied: planning again now finds {len(errors)} error(s): {shown}",
            hint="the live routes or their owners changed since the plan was made; "
            "run `routes plan --out PLAN.json` again and review it",
        )
    desired = {name: route.spec for name, route in source.load.routes.items()}
    differences, changes = compare(saved, fresh, {route.name: route for route in live}, desired)
    if differences:
        first = differences[0]
        others = "; ".join(d.describe() for d in differences[1:4])
        more = f" (and {len(differences) - 4} more)" if len(differences) > 4 else ""
        also = f"also: {others}{more}; " if others else ""
        if first.stale:
            raise StalePlanError(
                f"plan is stale: route {first.route} changed since the plan was made",
                hint=f"{also}run `routes plan --out PLAN.json` again and review it",
            )
        raise PlanError(
            f"{path} does not match a fresh plan; nothing was written: {first.describe()}",
            hint=f"{also}a plan file is applied only as planning again produces it; "
            "if it was edited or damaged, run `routes plan --out PLAN.json` again",
        )
    return replace(fresh, changes=changes), desired


def _plan_source(settings: Settings, path: str, saved: Plan) -> Source:
    """The descriptors the plan was made from, read again, parsed again (never from the
    descriptor cache) and proven by their digest.

    The paths come from the file, so each must lie inside this repository, and a plan that
    prunes must name exactly the config's `descriptors` (a narrower path would make every
    other route a delete nobody reviewed)."""
    paths = [settings.resolve(p) for p in saved.source_paths]
    root = settings.root.resolve()
    for raw, resolved in zip(saved.source_paths, paths, strict=True):
        if not resolved.resolve().is_relative_to(root):
            raise PlanError(
                f"{path} cannot be applied: its source path {quote(raw[:200])} is outside "
                f"the repository {root}; nothing was written",
                hint="a plan names descriptors of the repository it is applied in",
            )
    if saved.prune and settings.descriptors:  # without them, the file's paths are all there is
        configured = sorted(str(settings.resolve(p).resolve()) for p in settings.descriptors)
        if sorted(str(p.resolve()) for p in paths) != configured:
            raise PlanError(
                f"{path} prunes, but its source paths are not the config's `descriptors`; "
                "nothing was written",
                hint="a pruning plan covers every descriptor: plan with the config's "
                "`descriptors` (no PATH arguments) and review that",
            )
    uncached = replace(settings, descriptor_cache=False)
    source = load_source(uncached, [str(p) for p in paths], changed_since=saved.changed_since)
    if source.load.digest != saved.source_digest:
        raise PlanError(
            f"{path} cannot be applied: the descriptors it was made from are not here"
            f" (planned digest {saved.source_digest}, found {source.load.digest})",
            hint="apply it from the checkout it was planned in, or plan again and review that",
        )
    return source


def _check_store_and_owner(
    settings: Settings, path: str, saved: Plan, backend: Backend, source: Source
) -> None:
    here = retry_transient(backend.identity)
    planned = saved.store or {}
    if planned.get("location") != here.location or planned.get("id") != here.id:
        shown = f"{planned.get('location')} (store id {planned.get('id') or 'none'})"
        raise PlanError(
            f"{path} was made for the store {quote(shown)}, but the configured backend is "
            f"{quote(here.describe())}; nothing was written",
            hint="apply it with the backend it was planned against, or plan again here",
        )
    owner = resolve_owner(settings, source.git)
    if owner != saved.owner:
        raise PlanError(
            f"{path} was made for owner {quote(saved.owner)}, but the owner here is "
            f"{quote(owner)}; nothing was written",
            hint="apply it from the repository it was planned in, or plan again here",
        )
