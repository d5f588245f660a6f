"""The steps the commands share: load descriptors, open the backend, make a plan.

Nothing here prints or exits; ``cli.py`` does. Each step returns values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.diagnostics import CODE_NOT_READY, CODE_UNENFORCEABLE, Diagnostic, diagnostic
from reconciler.errors import UsageError
from reconciler.model import LiveRoute, RouteSet
from reconciler.plan import Plan
from reconciler.retry import retry_transient

if TYPE_CHECKING:
    from reconciler.backends.base import Backend
    from reconciler.config import Settings
    from reconciler.descriptors.loader import LoadResult
    from reconciler.integrations.git import GitInfo


@dataclass(frozen=True)
class Source:
    """What was read: the loaded descriptors, the paths as given, and git facts."""

    load: LoadResult
    paths: tuple[str, ...]
    git: GitInfo | None
    targets: tuple[str, ...] | None = None  # only these routes (--changed-since); None = all


def descriptor_paths(settings: Settings, paths: Sequence[str]) -> tuple[str, ...]:
    """PATH arguments, else the config's ``descriptors`` (relative to the config folder)."""
    if paths:
        return tuple(paths)
    if settings.descriptors:
        return tuple(str(settings.resolve(p)) for p in settings.descriptors)
    raise UsageError(
        "no descriptor paths given",
        hint="pass PATH arguments, or set `descriptors: [routes]` in .routes.yaml",
    )


def load_source(
    settings: Settings,
    paths: Sequence[str],
    *,
    ref: str | None = None,
    changed_since: str | None = None,
    cwd: Path | None = None,
) -> Source:
    """Load the desired routes from the working tree, a git ref, or only changed files."""
    from reconciler.descriptors import loader as descriptors

    here = (cwd or Path.cwd()).resolve()
    given = descriptor_paths(settings, paths)
    git = _git_info(settings.root)
    if ref is not None or changed_since is not None:
        if git is None:
            raise UsageError(
                f"--ref / --changed-since need a git repository, and {settings.root} is not in one",
                hint="run inside your descriptor repository, or drop the flag",
            )
        from reconciler.integrations import git as gitops

        rel = tuple(_repo_relative(git.root, here, p) for p in given)
        if ref is not None:
            load = descriptors.load_blobs(gitops.read_blobs_at(git.root, ref, rel))
            return Source(load=load, paths=given, git=git)
        assert changed_since is not None
        changes = gitops.changed_since(git.root, changed_since, rel)
        files = [str(git.root / f) for f in changes.changed if (git.root / f).exists()]
        load = (
            descriptors.load_paths(files, root=git.root, display_base=here)
            if files
            else descriptors.load_paths([], root=git.root, display_base=here)
        )
        before = gitops.routes_defined_at(
            git.root, changes.merge_base, (*changes.changed, *changes.deleted)
        )
        return Source(
            load=load, paths=given, git=git, targets=tuple(sorted(set(load.routes) | before))
        )
    load = descriptors.load_paths(list(given), root=settings.root, display_base=here)
    return Source(load=load, paths=given, git=git)


def _repo_relative(repo_root: Path, here: Path, path: str) -> str:
    absolute = (here / path).resolve()
    try:
        return str(absolute.relative_to(repo_root.resolve()))
    except ValueError as exc:
        raise UsageError(f"{path} is outside the git repository {repo_root}") from exc


def _git_info(root: Path) -> GitInfo | None:
    try:
        from reconciler.integrations.git import git_info
    except ImportError:  # pragma: no cover - GitPython is a dependency
        return None
    return git_info(root)


def default_owner(settings: Settings) -> str:
    """The owner for a command that reads no descriptors (export), resolved as plan does."""
    return resolve_owner(settings, _git_info(settings.root))


def resolve_owner(settings: Settings, git: GitInfo | None) -> str:
    """Owner from config, else the git remote ``owner/repo``, else the repository's folder
    name (the config folder's outside git), as DESIGN §5 says."""
    if settings.owner:
        return settings.owner
    if git is not None:
        return git.remote_slug or git.root.name
    return settings.root.name or "routes"


def make_plan(
    settings: Settings,
    source: Source,
    backend: Backend,
    *,
    prune: bool,
    targets: Sequence[str] = (),
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
    )
    plan = plan_routes(desired, live, options)
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
        for problem in backend.check_spec(change.route, desired.spec):
            found.append(
                diagnostic(
                    code=CODE_UNENFORCEABLE,
                    message=f"route {change.route!r}: {problem}",
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
                " route will not be Ready; register it (POST /v1/hostnames) before applying"
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
