"""What the commands share: how they print, where descriptors come from, who owns routes,
and how a plan is shown.

Nothing here prints or exits; ``cli.py`` passes the ``echo`` that prints. Each step
returns values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from reconciler.backends.base import Backend
    from reconciler.config import Settings
    from reconciler.descriptors.cache import DescriptorCache
    from reconciler.descriptors.loader import LoadResult
    from reconciler.integrations.git import GitInfo
    from reconciler.integrations.git_status import GitFacts
    from reconciler.plan import Plan
from reconciler.quoting import quote, unsafe_char


class Echo(Protocol):
    """Print one block of text (to stderr with ``err``); ``cli.py`` passes one on ``click.echo``."""

    def __call__(self, text: str, *, err: bool = False) -> None: ...


class Write(Protocol):
    """Print ``chunks`` to stdout as they come, adding nothing (a long JSON document)."""

    def __call__(self, chunks: Iterable[str]) -> None: ...


def echo_chunks(echo: Echo) -> Write:
    """A ``Write`` on ``echo``: the chunks joined, as one block (for callers without one)."""
    return lambda chunks: echo("".join(chunks))


@dataclass(frozen=True)
class Source:
    """What was read: the loaded descriptors, the paths as given, and git facts."""

    load: LoadResult
    paths: tuple[str, ...]
    git: GitInfo | None
    targets: tuple[str, ...] | None = None  # only these routes (--changed-since); None = all
    merge_base: str | None = None  # the commit --changed-since compared against


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
    git_facts: GitFacts | None = None,
) -> Source:
    """Load the desired routes from the working tree, a git ref, or only changed files
    (``git_facts``: the repository's facts, if the caller started them already)."""
    from reconciler.descriptors import loader as descriptors

    here = (cwd or Path.cwd()).resolve()
    given = descriptor_paths(settings, paths)
    git = git_facts.for_root(settings.root) if git_facts else _git_info(settings.root)
    if ref is not None or changed_since is not None:
        if git is None:
            import shutil

            if shutil.which("git") is None:
                raise UsageError(
                    "--ref / --changed-since need git, and it is not installed (or not on PATH)",
                    hint="install git, or drop the flag",
                )
            raise UsageError(
                f"--ref / --changed-since need a git repository, and {settings.root} is not in one",
                hint="run inside your descriptor repository, or drop the flag",
            )
        from reconciler.integrations import git as gitops

        rel = tuple(_repo_relative(git.root, here, p) for p in given)
        if ref is not None:
            blobs = gitops.read_blobs_at(git.root, ref, rel)
            load = descriptors.load_blobs(blobs, cache=descriptor_cache(settings))
            return Source(load=load, paths=given, git=git)
        assert changed_since is not None
        changes = gitops.changed_since(git.root, changed_since, rel, info=git)
        files = [str(git.root / f) for f in changes.changed if (git.root / f).exists()]
        # No cache: it would be read whole for a few files, and keep only those afterwards.
        load = descriptors.load_paths(files, root=git.root, display_base=here)
        before = gitops.routes_before(git.root, changes)
        return Source(
            load=load,
            paths=given,
            git=git,
            targets=tuple(sorted(set(load.routes) | before)),
            merge_base=changes.merge_base,
        )
    cache = descriptor_cache(settings)
    load = descriptors.load_paths(list(given), root=settings.root, display_base=here, cache=cache)
    return Source(load=load, paths=given, git=git)


def descriptor_cache(settings: Settings) -> DescriptorCache | None:
    """The descriptor cache in ``.routes/cache/``, where ``.routes/`` exists already (a plan
    on a fresh checkout writes nothing); None when turned off."""
    from reconciler.descriptors.cache import DescriptorCache, cache_disabled

    if not settings.descriptor_cache or cache_disabled() or not settings.state_dir.is_dir():
        return None
    return DescriptorCache.open(settings.state_dir / "cache")


def _repo_relative(repo_root: Path, here: Path, path: str) -> str:
    absolute = (here / path).resolve()
    try:
        return str(absolute.relative_to(repo_root.resolve()))
    except ValueError as exc:
        raise UsageError(f"{path} is outside the git repository {repo_root}") from exc


def _git_info(root: Path) -> GitInfo | None:
    from reconciler.integrations.git import git_info

    return git_info(root)


def in_git_repository(root: Path) -> bool:
    """Whether ``root`` is inside a git working tree."""
    return _git_info(root) is not None


def default_owner(settings: Settings) -> str:
    """The owner for a command that reads no descriptors (export), resolved as plan does."""
    # The config's owner wins, so git (an import and a repository walk) is asked only without.
    return resolve_owner(settings, None if settings.owner else _git_info(settings.root))


def resolve_owner(settings: Settings, git: GitInfo | None) -> str:
    """Owner from config, else the git remote ``owner/repo``, else the repository's folder
    name (the config folder's outside git), as README's "Ownership" says."""
    if settings.owner:
        owner, source = settings.owner, "the config's `owner`"
    elif git is not None:
        owner = git.remote_slug or git.root.name
        source = "the git remote" if git.remote_slug else "the repository's folder name"
    else:
        owner, source = settings.root.name or "routes", "the config's folder name"
    # The owner is written into every route's labels and shown to reviewers.
    if unsafe_char(owner) is not None or len(owner) > 253:
        raise ConfigError(
            f"the owner {quote(owner[:100])} (from {source}) cannot label routes: it holds "
            "control or invisible characters, or is over 253 characters",
            hint="set `owner: team/repo` in .routes.yaml",
        )
    return owner


def open_backend(settings: Settings) -> Backend:
    """The backend the settings name, opened."""
    from reconciler.backends import open_backend as open_url

    return open_url(settings.backend, settings.backend_options())


def backend_shown(settings: Settings, backend: Backend) -> str:
    """The backend as a reader should see it: ``local`` with its store's absolute path."""
    from reconciler.backends import scheme_of

    if scheme_of(backend.url) != "local":
        return backend.url
    from reconciler.backends.local import local_path
    from reconciler.backends.options import LocalOptions

    return f"local:{local_path(backend.url, LocalOptions(settings.root)).resolve()}"


def print_plan(
    plan: Plan, fmt: str, color: bool, backend: str | None, *, echo: Echo, write: Write | None
) -> None:
    """Print the plan in ``fmt``; JSON is written as it is rendered, change by change."""
    if fmt == "json":
        from reconciler.render.json import plan_json_chunks

        (write or echo_chunks(echo))(plan_json_chunks(plan))
    else:
        echo(render_plan(plan, fmt, color, backend))


def render_plan(plan: Plan, fmt: str, color: bool, backend: str | None = None) -> str:
    """The plan as ``text``, ``markdown`` or ``json``; every form from the same structure.
    The text starts with the backend (``backend``: as resolved) and the owner."""
    if fmt == "json":
        from reconciler.render.json import render_plan_json

        return render_plan_json(plan)
    data = plan.to_view()
    if fmt == "markdown":
        from reconciler.render.markdown import render_plan_markdown

        return render_plan_markdown(data)
    from reconciler.render.text import render_plan_header, render_plan_text

    return render_plan_header(data, backend) + "\n\n" + render_plan_text(data, color=color)
