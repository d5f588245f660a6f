"""Renames the plan can see: a route created where an owned route that is no longer
described already serves the same host and paths. Pure.

Renaming a descriptor file renames the route. Without ``--prune`` the old route is kept, so
both serve the same traffic (``P013``, a warning); with ``--prune`` the plan creates the new
one before deleting the old one, which is fine but worth saying (``P012``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.diagnostics import CODE_LOOKS_RENAMED, CODE_RENAMED, Diagnostic, diagnostic
from reconciler.model import DesiredRoute, LiveRoute
from reconciler.quoting import quote

__all__ = ["rename_diagnostics"]


def rename_diagnostics(
    created: Iterable[DesiredRoute], gone: Sequence[LiveRoute], deleted: set[str]
) -> list[Diagnostic]:
    """One diagnostic per created route that looks renamed from a ``gone`` route (owned, no
    longer described); ``deleted`` names those the plan deletes (the others are kept)."""
    by_host: dict[str, list[LiveRoute]] = {}
    for route in gone:
        by_host.setdefault(route.spec.host, []).append(route)
    found: list[Diagnostic] = []
    for new in created:
        old = _renamed_from(new, by_host.get(new.spec.host, ()))
        if old is None:
            continue
        shared = sorted({p.prefix for p in new.spec.paths} & {p.prefix for p in old.spec.paths})
        paths = ", ".join(quote(p) for p in shared[:3]) + (" …" if len(shared) > 3 else "")
        serves = f"host {quote(new.spec.host)} at {paths}"
        if old.name in deleted:
            found.append(
                diagnostic(
                    code=CODE_RENAMED,
                    message=f'looks like route "{old.name}" was renamed to "{new.name}" (both '
                    f'serve {serves}): "{new.name}" is created before "{old.name}" is deleted',
                    file=new.source.file,
                    line=new.source.line,
                    column=new.source.column,
                    route=new.name,
                )
            )
            continue
        found.append(
            diagnostic(
                code=CODE_LOOKS_RENAMED,
                message=f'looks like route "{old.name}" was renamed to "{new.name}": '
                f'"{old.name}" is no longer described but is kept, so both will serve '
                f'{serves}; plan with --prune to delete "{old.name}"',
                file=new.source.file,
                line=new.source.line,
                column=new.source.column,
                route=new.name,
            )
        )
    return found


def _renamed_from(new: DesiredRoute, candidates: Iterable[LiveRoute]) -> LiveRoute | None:
    """The gone route ``new`` most looks renamed from: the same spec first, then the most
    shared prefixes (at least one), then the first name."""
    prefixes = {p.prefix for p in new.spec.paths}
    best: tuple[bool, int] = (False, 0)
    chosen: LiveRoute | None = None
    for old in sorted(candidates, key=lambda route: route.name):
        rank = (old.spec == new.spec, len(prefixes & {p.prefix for p in old.spec.paths}))
        if rank[1] and rank > best:
            best, chosen = rank, old
    return chosen
