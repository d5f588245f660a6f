"""The routing table a command explains or tests: from the descriptors, or live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo, load_source, open_backend
from reconciler.errors import PlanError
from reconciler.matching import RoutingTable
from reconciler.retry import retry_transient

if TYPE_CHECKING:
    from reconciler.config import Settings


@dataclass(frozen=True)
class Table:
    """A routing table, where each of its routes comes from, and what it was read from."""

    routes: RoutingTable
    where: dict[str, str]  # route -> file:line, or the backend URL
    origin: str  # "descriptors" or "live routes of URL"


def read_table(settings: Settings, paths: Sequence[str], *, live: bool, echo: Echo) -> Table:
    """Every live route (``live``: unmanaged ones serve too), else the descriptors."""
    if live:
        backend = open_backend(settings)
        try:
            routes = retry_transient(backend.list_routes)
        finally:
            backend.close()
        return Table(
            RoutingTable((r.name, r.spec) for r in routes),
            {r.name: backend.url for r in routes},
            f"live routes of {backend.url}",
        )
    source = load_source(settings, paths)
    if source.load.has_errors:
        from reconciler.render.diagnostics import render_text

        errors = [d for d in source.load.diagnostics if d.severity == "error"]
        echo(render_text(errors), err=True)
        raise PlanError(
            "the descriptors have errors; nothing was explained or tested",
            hint="fix the errors above (`routes validate` lists every problem)",
        )
    desired = source.load.routes
    return Table(
        RoutingTable((name, route.spec) for name, route in desired.items()),
        {name: f"{r.source.file}:{r.source.line}" for name, r in desired.items()},
        "descriptors",
    )
