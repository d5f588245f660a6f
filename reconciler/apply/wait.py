"""``--wait``: poll written routes until each reports ``Ready`` or time runs out."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reconciler.apply.journal import Journal
from reconciler.backends.base import Backend
from reconciler.errors import RoutesError
from reconciler.model import LiveRoute


def _why_not_ready(route: LiveRoute | None, error: str | None) -> str:
    if error is not None:
        return f"last poll failed: {error}"
    if route is None:
        return "route no longer exists"
    ready = route.condition("Ready")
    if ready is None:
        return "no Ready condition reported"
    detail = ": ".join(part for part in (ready.reason, ready.message) if part)
    detail = detail or f"Ready is {ready.status}"
    host = route.condition("HostValidation")
    if host is not None and host.status != "True":
        # What the platform asks for (e.g. the CNAME record to create) is in this one.
        said = ": ".join(part for part in (host.reason, host.message) if part)
        detail += f"; HostValidation is {host.status}" + (f": {said}" if said else "")
    return detail


def wait_until_ready(
    backend: Backend,
    names: Iterable[str],
    *,
    timeout: float,
    poll_interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    journal: Journal,
) -> dict[str, str]:
    """Poll until every named route is Ready; the ones that never were, with the reason why."""
    pending = sorted(set(names))
    if not pending:
        return {}
    journal.event("wait", state="start", routes=pending, timeout=timeout)
    deadline = clock() + timeout
    last_seen: dict[str, LiveRoute | None] = {}
    error: str | None = None
    while True:
        try:
            found = backend.get_routes(pending)
            error = None
        except RoutesError as exc:
            # A failed poll is not a verdict on the route; keep polling until the deadline.
            found, error = {}, exc.message
        if error is None:
            for name in pending:
                last_seen[name] = found.get(name)
            ready = [name for name in pending if (r := found.get(name)) is not None and r.ready]
            for name in ready:
                journal.event("wait", route=name, state="ready")
            pending = [name for name in pending if name not in ready]
        remaining = deadline - clock()
        if not pending or remaining <= 0:
            break
        sleep(min(poll_interval, remaining))
    not_ready = {
        name: f"not Ready after {timeout:g}s: {_why_not_ready(last_seen.get(name), error)}"
        for name in pending
    }
    for name, message in not_ready.items():
        journal.event("wait", route=name, state="timeout", message=message)
    return not_ready
