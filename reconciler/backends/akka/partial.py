"""What a user reads when an update went through only in part (``update -f`` first, then
the removals): what was written, what was not, and what to do. Never a silent success."""

from __future__ import annotations

from reconciler.backends.akka.flags import Cleanup
from reconciler.errors import BackendError

WRITTEN = "`update -f` wrote the planned descriptor (host, paths and sections)"


def read_back_failed(route: str, url: str, exc: BackendError) -> BackendError:
    return BackendError(
        f"route {route} on {url} may be partially applied: {WRITTEN}, but reading "
        f"it back to remove what the plan drops failed: {exc.message}",
        hint="run `routes plan` to see what is left, then `routes apply` again",
    )


def beyond_cli(route: str, url: str, cli: str, kept: list[str], edit: str) -> BackendError:
    """The CLI kept something it documents no flag to remove (the Kalix form)."""
    return BackendError(
        f"route {route} on {url} is partially applied: {WRITTEN}, but the {cli} CLI kept "
        f"{', '.join(kept)} and documents no flag to remove it",
        hint=f"remove it with `{edit}`, then run `routes plan` to check",
    )


def removal_failed(route: str, url: str, cleanup: Cleanup, exc: BackendError) -> BackendError:
    return BackendError(
        f"route {route} on {url} is partially applied: {WRITTEN}, but removing "
        f"{', '.join((*cleanup.dropped, *cleanup.reset))} failed: {exc.message}",
        hint="the route is at least as protected as before; run `routes apply` again",
    )


def re_add_failed(
    route: str, url: str, cleanup: Cleanup, edit: str, exc: BackendError
) -> BackendError:
    return BackendError(
        f"route {route} on {url} is partially applied: {WRITTEN}, then "
        f"{' and '.join(cleanup.reset)} were removed (the reference has no per-item "
        f"removal), and adding back the planned ones with `update -f` failed: "
        f"{exc.message}. The route has none of them now",
        hint=f"run `routes apply` again at once, or restore them with `{edit}`",
    )
