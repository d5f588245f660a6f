"""``routes export``: live routes -> descriptor files that plan back to no changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reconciler.backends.base import Backend
from reconciler.commands.common import Echo, open_backend
from reconciler.config import Settings
from reconciler.descriptor_yaml import descriptor_yaml
from reconciler.descriptors.spec_check import (
    is_known,
    problem_summary,
    route_name_problem,
    spec_errors,
)
from reconciler.errors import EXIT_OK, BackendError, RoutesError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import LiveRoute
from reconciler.quoting import quote
from reconciler.regular_files import read_regular, write_atomic

DEFAULT_DIR = "routes"
_NAME_RULE = (
    "a route name is 1-63 characters of a-z, 0-9 and -, starting and ending with a letter or digit"
)


@gc_paused()  # a command run builds thousands of routes and plan entries, no cycles
def export(
    load_settings: Callable[[], Settings],
    names: Sequence[str],
    directory: str | None,
    form: str,
    *,
    include_unmanaged: bool,
    force: bool,
    echo: Echo,
) -> int:
    """Export, then name every file written and say how many unmanaged routes were left out."""
    settings = load_settings()
    if directory is None:
        _refuse_outside_repository(settings)
        directory = DEFAULT_DIR
    backend = open_backend(settings)
    try:
        routes, skipped, owned = _select_routes(settings, backend, names, include_unmanaged)
        written = write_routes(backend, routes, Path(directory), form, force)
    finally:
        backend.close()
    for path in written:
        echo(f"wrote {path}")
    echo(f"Exported {len(written)} route(s) to {directory}.")
    foreign = [r.name for r in routes if r.name not in owned]
    if foreign and written:
        echo(
            f"{len(foreign)} of them not managed by this owner: `routes plan --adopt NAME` "
            "(a name or a glob, like --adopt '*') plans taking them over."
        )
    if skipped:
        echo(
            f"Skipped {skipped} unmanaged route(s), not managed by this owner; "
            "`routes export --all` includes them."
        )
    return EXIT_OK


def export_routes(
    settings: Settings,
    backend: Backend,
    names: Sequence[str],
    directory: Path,
    form: str,
    include_unmanaged: bool = False,
    force: bool = False,
) -> list[Path]:
    """Write one file per live route (owned ones, unless ``include_unmanaged``)."""
    routes, _, _ = _select_routes(settings, backend, names, include_unmanaged)
    return write_routes(backend, routes, directory, form, force)


def write_routes(
    backend: Backend, routes: Sequence[LiveRoute], directory: Path, form: str, force: bool
) -> list[Path]:
    """Write one descriptor file per route into ``directory`` (made only when needed).

    A file that exists with other content is never overwritten without ``force``, and the
    check covers every file before the first is written: an export loses no local edit.
    """
    _refuse_unsafe_names(routes, backend.url)
    _refuse_invalid_specs(routes, backend.url)
    texts = {_target(directory, r.name, backend.url): _text(r, form) for r in routes}
    if not texts:
        return []
    try:
        existing = {p: _read(p) for p in texts if p.exists()}
        clashes = [p for p, old in existing.items() if old != texts[p]]
        if clashes and not force:
            shown = ", ".join(str(p) for p in clashes[:5])
            more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
            raise UsageError(
                f"export would overwrite {len(clashes)} file(s) with other content: {shown}{more}",
                hint="export into another --dir, or pass --force to replace them",
            )
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in texts.items():
            if existing.get(path) != text:
                _write(path, text)
    except OSError as exc:
        raise RoutesError(f"cannot write to {directory}: {exc.strerror}") from exc
    return list(texts)


def _refuse_outside_repository(settings: Settings) -> None:
    """Without ``--dir``, export writes ``routes/`` only into a descriptor repository."""
    from reconciler.commands.common import in_git_repository

    if settings.config_file is None and not in_git_repository(settings.root):
        raise UsageError(
            f"{settings.root} is not a descriptor repository (no .routes.yaml here or above, "
            "and not in a git repository); nothing was exported",
            hint="run `routes export` inside your descriptor repository, or pass --dir DIR "
            "to choose where the files go",
        )


def _select_routes(
    settings: Settings, backend: Backend, names: Sequence[str], include_unmanaged: bool
) -> tuple[list[LiveRoute], int, set[str]]:
    """The routes to export, how many unmanaged ones were left out, and the owned ones."""
    if names:
        found = backend.get_routes(names)
        missing = sorted(set(names) - set(found))
        if missing:
            raise UsageError(
                f"no live route named {', '.join(missing)} on {backend.url}",
                hint="`routes export` without names exports every owned route",
            )
        chosen = [found[n] for n in sorted(found)]
        return chosen, 0, _owned(settings, backend, chosen)
    live = backend.list_routes()
    owned = _owned(settings, backend, live)
    chosen = [r for r in live if include_unmanaged or r.name in owned]
    return chosen, len(live) - len(chosen), owned


def _owned(settings: Settings, backend: Backend, routes: Sequence[LiveRoute]) -> set[str]:
    """The names of ``routes`` this owner manages, decided as the planner decides."""
    from reconciler.commands.common import default_owner
    from reconciler.planner import PlanOptions, is_owned

    options = PlanOptions(
        owner=default_owner(settings),
        backend_url=backend.url,
        tool_version="",
        scope=settings.scope,
        labels_supported=backend.capabilities.labels,
    )
    return {r.name for r in routes if is_owned(r, options)}


def _refuse_invalid_specs(routes: Sequence[LiveRoute], backend_url: str) -> None:
    # A foreign route (a hand-made Caddy site, say) may hold what no descriptor can: writing
    # it out would leave a file `routes validate` refuses. Nothing is written. A spec the
    # backend's answer was already judged by (an owned route's) is not judged twice.
    for route in routes:
        problems = [] if is_known(route.spec) else spec_errors(route.spec.to_dict())
        if problems:
            raise BackendError(
                f"live route {_shown(route.name)} on {backend_url} cannot be written as a "
                f"descriptor: {problem_summary(problems)}; nothing was written",
                hint="export the other routes by name (`routes export NAME...`), or fix that "
                "route on the backend",
            )


def _refuse_unsafe_names(routes: Sequence[LiveRoute], backend_url: str) -> None:
    # A name comes from the backend, which may be hostile (an http server, a Caddy @id):
    # it becomes a file name only if it is a valid route name, so never `../x` or `/etc/x`.
    bad = [r.name for r in routes if route_name_problem(r.name) is not None]
    if not bad:
        return
    shown = ", ".join(_shown(name) for name in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    if len(bad) == 1:
        problem = f"live route {shown} on {backend_url} has a name that cannot be a file name"
        them = "it"
    else:
        problem = (
            f"{len(bad)} live routes on {backend_url} have names that cannot be file names: "
            f"{shown}{more}"
        )
        them = "them"
    raise BackendError(
        f"{problem}; refusing to export, nothing was written",
        hint=f"{_NAME_RULE}; rename {them} on the backend, or export the other routes by name "
        "(`routes export NAME...`)",
    )


def _target(directory: Path, name: str, backend_url: str) -> Path:
    """The file for route ``name``: directly inside ``directory``, or a refusal."""
    path = directory / f"{name}.yaml"
    # Compared as paths, not resolved: a name with no separator and no `..` in it lands in
    # ``directory`` itself, and a symlinked descriptor stays a link (os.replace swaps the
    # link itself); ten thousand resolves were a tenth of an export.
    if path.name != f"{name}.yaml" or path.parent != directory:
        raise BackendError(
            f"live route {_shown(name)} on {backend_url} would be written outside {directory}; "
            "nothing was written",
            hint="rename the route on the backend, or export the other routes by name",
        )
    return path


def _shown(name: str) -> str:
    """A backend-supplied name, quoted and escaped so no control character reaches a log."""
    return quote(name[:80]) + ("..." if len(name) > 80 else "")


def _document(route: LiveRoute, form: str) -> dict[str, Any]:
    spec = route.spec.to_dict()
    if form == "bare":
        return spec
    return {
        "resource": "Route",
        "resourceVersion": "v1",
        "metadata": {"name": route.name},
        "spec": spec,
    }


def _text(route: LiveRoute, form: str) -> str:
    return descriptor_yaml(_document(route, form))


def _read(path: Path) -> str | None:
    try:
        return read_regular(path).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _write(target: Path, text: str) -> None:
    write_atomic(target, text)
