"""Every route a backend answers passes the one spec validation before anyone uses it.

A backend is outside our control (a hostile http server, a hand-edited Caddy config, a CLI
that changed): a route it returns is planned against, exported to a file named after it,
and shown to reviewers. ``CheckedBackend`` wraps any backend and refuses a route whose name
is not a route name, naming the route and the backend. A route that says routes wrote it
(``managed-by: routes``), or any route of a backend without labels (where ownership comes
from ``scope``), must also hold a spec ``routes validate`` accepts: a plan never rests on a
route no descriptor could hold. A foreign route on a labelled backend (a hand-made Caddy
site) is only ever shown, escaped, and never changed; its spec is not judged here, so it
does not stop the plan (export refuses to write it as a descriptor).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.backends.base import Backend
from reconciler.descriptors.spec_check import is_known, remember, route_problems
from reconciler.errors import BackendError
from reconciler.model import LABEL_MANAGED_BY, LABEL_MANAGED_BY_VALUE, LiveRoute
from reconciler.quoting import quote


class CheckedBackend:
    """``backend`` with every route it returns validated; everything else passes through."""

    def __init__(self, backend: Backend) -> None:
        self.inner = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_routes(self) -> list[LiveRoute]:
        return [self._checked(route) for route in self.inner.list_routes()]

    def get_route(self, name: str) -> LiveRoute | None:
        route = self.inner.get_route(name)
        return None if route is None else self._checked(route)

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        return {key: self._checked(r) for key, r in self.inner.get_routes(names).items()}

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CheckedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checked(self, route: LiveRoute) -> LiveRoute:
        claimed = route.labels.get(LABEL_MANAGED_BY) == LABEL_MANAGED_BY_VALUE
        judged = claimed or not self.inner.capabilities.labels
        # A spec just loaded from the descriptors has passed this very validation.
        judged = judged and not is_known(route.spec)
        problems = route_problems(route.name, route.spec.to_dict() if judged else None)
        if problems:
            first = problems[0]
            where = "".join(f"/{step}" for step in first.path) or "/"
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise BackendError(
                f"{self.inner.url} returned route {quote(route.name[:100])} that routes "
                f"refuses: {first.code} at {where}: {first.message}{more}",
                hint="fix or delete that route on the backend (its spec could not come from a "
                "descriptor), then run the command again; nothing was written",
            )
        if judged:  # it passed the one validation: export, say, need not run it again
            remember((route.spec,))
        return route
