"""Planning against a live backend: read what the plan needs, plan, add what only the
backend can tell (routes it cannot enforce, hosts that will not be Ready).

``planner.make_plan`` is the pure function; ``plan_against_backend`` is the step that reads
the live routes for it. ``plan_or_refuse`` is what ``plan``, ``apply`` and ``drift`` share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from reconciler import __version__
from reconciler.commands.common import Echo, Source, load_source, open_backend, resolve_owner
from reconciler.diagnostics import (
    CODE_NOT_READY,
    CODE_UNENFORCEABLE,
    CODE_WRITE_NOTE,
    Diagnostic,
    diagnostic,
)
from reconciler.errors import PlanError, UsageError
from reconciler.model import LiveRoute, RouteSet
from reconciler.plan import Plan
from reconciler.quoting import quote
from reconciler.retry import retry_transient

if TYPE_CHECKING:
    from reconciler.backends.base import Backend
    from reconciler.config import Settings
    from reconciler.descriptors.loader import LoadResult
    from reconciler.integrations.git_status import GitFacts


@dataclass(frozen=True)
class Planned:
    """A plan and what it was made from; the backend is open (the caller closes it)."""

    settings: Settings
    plan: Plan
    backend: Backend
    source: Source
    live: dict[str, LiveRoute]  # what the plan was made from: drift reads nothing twice


def plan_or_refuse(
    settings: Settings,
    paths: Sequence[str],
    *,
    echo: Echo,
    prune: bool | None,
    targets: Sequence[str] = (),
    ref: str | None = None,
    changed_since: str | None = None,
    adopt: Sequence[str] = (),
    git_facts: GitFacts | None = None,
) -> Planned:
    """Load, open the backend and plan; descriptors or a plan with errors are printed (to
    stderr) and refused with ``PlanError``: a plan is never made from broken descriptors."""
    source = load_source(settings, paths, ref=ref, changed_since=changed_since, git_facts=git_facts)
    if source.load.has_errors:
        _refuse(
            source.load.diagnostics,
            echo,
            "the descriptors have errors; nothing was planned",
            "fix the errors above (`routes validate` lists every problem)",
        )
    backend = open_backend(settings)
    plan, live = plan_against_backend(
        settings,
        source,
        backend,
        prune=settings.prune if prune is None else prune,
        targets=targets,
        adopt=adopt,
    )
    if plan.has_errors:
        backend.close()
        _refuse(
            plan.diagnostics,
            echo,
            "the plan has errors; nothing was planned",
            "fix the errors listed above and plan again",
        )
    return Planned(settings, plan, backend, source, {route.name: route for route in live})


def _refuse(diagnostics: Sequence[Diagnostic], echo: Echo, message: str, hint: str) -> NoReturn:
    from reconciler.render.diagnostics import render_text

    errors = [d for d in diagnostics if d.severity == "error"]
    echo(render_text(errors), err=True)
    raise PlanError(message, hint=hint)


def plan_against_backend(
    settings: Settings,
    source: Source,
    backend: Backend,
    *,
    prune: bool,
    targets: Sequence[str] = (),
    adopt: Sequence[str] = (),
) -> tuple[Plan, list[LiveRoute]]:
    """Read live state (only the targeted routes when there are targets) and plan; the live
    routes read are returned too, so callers never read them twice."""
    from reconciler.planner import PlanOptions
    from reconciler.planner import make_plan as plan_routes

    if prune and not backend.capabilities.labels and not settings.scope:
        raise UsageError(
            f"--prune on {backend.url} needs a `scope` in .routes.yaml",
            hint="this backend stores no labels, so ownership comes from `scope` name globs;"
            " without one, routes would delete routes it does not own",
        )
    if adopt and not backend.capabilities.labels:
        raise UsageError(
            f"--adopt on {backend.url}: this backend stores no labels to adopt a route with",
            hint="ownership here comes from `scope` name globs: add the routes to `scope`",
        )
    desired = source.load.routes
    wanted = tuple(targets)
    if source.targets is not None:
        # --changed-since: read only the routes the change touches, so a PR plan is O(changed).
        wanted = tuple(t for t in wanted if t in source.targets) if wanted else source.targets
        if not wanted:
            desired = RouteSet()
        live = list(retry_transient(lambda: backend.get_routes(wanted)).values()) if wanted else []
    elif wanted:
        live = list(retry_transient(lambda: backend.get_routes(wanted)).values())
    else:
        live = retry_transient(backend.list_routes)
    git = source.git
    options = PlanOptions(
        owner=resolve_owner(settings, git),
        backend_url=backend.url,
        tool_version=__version__,
        prune=prune,
        protected=settings.protected,
        targets=wanted,
        scope=settings.scope,
        labels_supported=backend.capabilities.labels,
        source_paths=tuple(_display(settings, p) for p in source.paths),
        source_digest=source.load.digest,
        git=git.to_plan_dict() if git is not None else None,
        diagnostics=source.load.diagnostics,
        adopt=tuple(adopt),
    )
    plan = replace(
        plan_routes(desired, live, options),
        store=retry_transient(backend.identity).to_dict(),
        changed_since=source.merge_base,
    )
    _check_cached_writes(plan, source.load)
    if source.targets is not None and not plan.desired_count and _describes_any(source.paths):
        # --changed-since loads only the changed files; the empty-set guard must still see
        # that the repository describes routes (a PR that only deletes files is not empty).
        plan = replace(plan, desired_count=1)
    problems = _backend_problems(plan, source, backend) + _readiness_warnings(
        desired, live, backend
    )
    if problems:
        plan = replace(plan, diagnostics=(*plan.diagnostics, *problems))
    return plan, live


def _check_cached_writes(plan: Plan, load: LoadResult) -> None:
    """Every spec the plan would write that the descriptor cache gave passes the one spec
    validation again: it passed when it was cached, but the cache is a file."""
    from reconciler.descriptors.spec_check import problem_summary, route_problems

    for change in plan.changes:
        if change.action == "delete" or change.route not in load.replayed:
            continue
        problems = route_problems(change.route, load.routes[change.route].spec.to_dict())
        if problems:
            raise PlanError(
                f"route {quote(change.route)}: the descriptor cache holds a spec routes "
                f"refuses ({problem_summary(problems)})",
                hint="delete .routes/cache/ (the next plan writes it anew) or run with --no-cache",
            )


def _describes_any(paths: Sequence[str]) -> bool:
    """Whether any descriptor file exists under ``paths`` (stops at the first)."""
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            return True
        for found in path.rglob("*"):
            if found.suffix in (".yaml", ".yml") and found.is_file():
                return True
    return False


def _display(settings: Settings, path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(settings.root))
    except ValueError:
        return path


def _backend_problems(plan: Plan, source: Source, backend: Backend) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for change in plan.changes:
        if change.action == "delete" or change.route not in source.load.routes:
            continue
        desired = source.load.routes[change.route]
        notes = backend.write_notes(change.route, desired.spec) if change.action == "create" else []
        for code, message in [
            *((CODE_UNENFORCEABLE, f"route {change.route!r}: {problem}")
              for problem in backend.check_spec(change.route, desired.spec)),
            *((CODE_WRITE_NOTE, note) for note in notes),
        ]:  # fmt: skip
            found.append(
                diagnostic(
                    code=code,
                    message=message,
                    file=desired.source.file,
                    line=desired.source.line,
                    column=desired.source.column,
                    route=change.route,
                )
            )
    return found


def _readiness_warnings(
    desired: RouteSet, live: Sequence[LiveRoute], backend: Backend
) -> list[Diagnostic]:
    """Warn about described routes that are (or will be) not Ready for their host."""
    found: list[Diagnostic] = []
    live_by_name = {route.name: route for route in live}
    hosts = {r.spec.host for r in desired.values()}
    unregistered = retry_transient(lambda: backend.unregistered_hosts(hosts))
    for name, route in desired.items():
        condition = live_by_name[name].condition("HostValidation") if name in live_by_name else None
        if condition is not None and condition.status == "False":
            message = f"route {name!r} is not Ready: {condition.reason}: {condition.message}"
        elif route.spec.host in unregistered:
            message = (
                f"route {name!r}: host {route.spec.host} is not a registered hostname, so the"
                f" route will not be Ready; {backend.hostname_advice(route.spec.host)}"
            )
        else:
            continue
        found.append(
            diagnostic(
                code=CODE_NOT_READY,
                message=message,
                file=route.source.file,
                line=route.source.line,
                column=route.source.column,
                route=name,
            )
        )
    return found
