"""One route of an apply (DESIGN §7): read, classify, write conditionally, retry transients.

Reading before writing is what makes an apply idempotent: a route already as the plan wants
it is ``already-applied``; one still as the plan found it is written, conditional on the
version just read; anything else is a ``conflict`` that only a new plan can resolve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.backends.base import Backend
from reconciler.errors import ConflictError, NotFoundError, RoutesError, TransientBackendError
from reconciler.journal import Journal
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Change, RouteResult


@dataclass(frozen=True)
class _Verdict:
    """What the live route says to do: write it (``outcome`` None) or stop with an outcome."""

    outcome: str | None
    message: str = ""
    version: str | None = None


def classify(change: Change, live: LiveRoute | None, target: str | None) -> _Verdict:
    """Compare the live route with what the plan found (before) and wants (after)."""
    name = change.route
    if live is None:
        if change.action == "create":
            return _Verdict(None)
        if change.action == "delete":
            return _Verdict("already-applied", "route is gone already")
        return _Verdict("conflict", f"route {name} was deleted since the plan was made")
    fingerprint = live.spec.fingerprint()
    if change.action != "delete" and fingerprint == target:
        return _Verdict("already-applied", "live route matches the plan", live.version)
    if change.action != "create" and fingerprint == change.live_fingerprint:
        return _Verdict(None, version=live.version)
    if change.action == "create":
        why = f"route {name} exists already with a spec the plan did not expect"
    else:
        why = f"route {name} changed since the plan was made (live version {live.version})"
    return _Verdict("conflict", why + "; run `routes plan` again", live.version)


class RouteWriter:
    """Applies single changes against one backend; safe to share between threads."""

    def __init__(
        self,
        backend: Backend,
        max_attempts: int,
        delay: Callable[[int, float | None], float],
        sleep: Callable[[float], None],
        journal: Journal,
    ) -> None:
        self.backend = backend
        self.max_attempts = max(1, max_attempts)
        self.delay = delay
        self.sleep = sleep
        self.journal = journal

    def apply(
        self, change: Change, spec: RouteSpec | None, labels: Mapping[str, str]
    ) -> RouteResult:
        """The result of one change; every exception becomes a ``failed`` result."""
        attempts = 0
        while True:
            attempts += 1
            try:
                verdict = self._attempt(change, spec, labels)
            except TransientBackendError as exc:
                if attempts >= self.max_attempts:
                    message = f"gave up after {attempts} attempts: {exc.message}"
                    return RouteResult(change.route, change.action, "failed", message, attempts)
                pause = self.delay(attempts, exc.retry_after)
                self.journal.event(
                    "retry",
                    route=change.route,
                    action=change.action,
                    attempt=attempts,
                    error=exc.message,
                    retry_after=exc.retry_after,
                    delay=round(pause, 3),
                )
                self.sleep(pause)
                continue
            except RoutesError as exc:
                message = exc.message + (f" ({exc.hint})" if exc.hint else "")
                return RouteResult(change.route, change.action, "failed", message, attempts)
            except Exception as exc:  # one route's bug must not sink the whole run
                message = f"{type(exc).__name__}: {exc}"
                return RouteResult(change.route, change.action, "failed", message, attempts)
            outcome = verdict.outcome or "applied"
            return RouteResult(
                change.route, change.action, outcome, verdict.message, attempts, verdict.version
            )

    def _attempt(
        self, change: Change, spec: RouteSpec | None, labels: Mapping[str, str]
    ) -> _Verdict:
        target = spec.fingerprint() if spec is not None else change.after_fingerprint
        live = self.backend.get_route(change.route)
        verdict = classify(change, live, target)
        if verdict.outcome is not None:
            return verdict
        try:
            return self._write(change, spec, labels, live)
        except (ConflictError, NotFoundError) as exc:
            # Lost a race: perhaps another run just wrote the very same thing.
            again = classify(change, self.backend.get_route(change.route), target)
            if again.outcome == "already-applied":
                return again
            return _Verdict("conflict", f"{exc.message}; run `routes plan` again", again.version)

    def _write(
        self,
        change: Change,
        spec: RouteSpec | None,
        labels: Mapping[str, str],
        live: LiveRoute | None,
    ) -> _Verdict:
        name = change.route
        if change.action == "delete":
            assert live is not None
            self.backend.delete_route(name, expected_version=live.version)
            return _Verdict("applied", "deleted")
        assert spec is not None
        if change.action == "create":
            route = self.backend.create_route(name, spec, labels, change.annotations)
            return _Verdict("applied", "created", route.version)
        assert live is not None
        route = self.backend.replace_route(
            name, spec, labels, change.annotations, expected_version=live.version
        )
        return _Verdict("applied", f"updated from version {live.version}", route.version)
