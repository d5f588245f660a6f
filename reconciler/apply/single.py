"""One route of an apply (DESIGN §7): read, classify, write conditionally, retry transients.

Reading before writing is what makes an apply idempotent: a route already as the plan wants
it is ``already-applied``; one still as the plan found it is written, conditional on the
version just read; anything else is a ``conflict`` that only a new plan can resolve. On
backends with conditional writes the first attempt folds the read into the write's
condition (the version the plan saw), and reads only when that condition fails.
The batched path (``batch_apply``) makes the same decisions with the functions here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.apply.journal import Journal
from reconciler.backends.base import Backend, Write
from reconciler.errors import ConflictError, NotFoundError, RoutesError, TransientBackendError
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Change, RouteResult

Delay = Callable[[int, float | None], float]


@dataclass(frozen=True)
class Verdict:
    """What the live route says to do: write it (``outcome`` None) or stop with an outcome."""

    outcome: str | None
    message: str = ""
    version: str | None = None


def classify(change: Change, live: LiveRoute | None, target: str | None) -> Verdict:
    """Compare the live route with what the plan found (before) and wants (after)."""
    name = change.route
    if live is None:
        if change.action == "create":
            return Verdict(None)
        if change.action == "delete":
            return Verdict("already-applied", "route is gone already")
        return Verdict("conflict", f"route {name} was deleted since the plan was made")
    fingerprint = live.spec.fingerprint()
    if change.action != "delete" and fingerprint == target:
        return Verdict("already-applied", "live route matches the plan", live.version)
    if change.action != "create" and fingerprint == change.live_fingerprint:
        return Verdict(None, version=live.version)
    if change.action == "create":
        why = f"route {name} exists already with a spec the plan did not expect"
    else:
        why = f"route {name} changed since the plan was made (live version {live.version})"
    return Verdict("conflict", why + "; run `routes plan` again", live.version)


def target_of(change: Change, spec: RouteSpec | None) -> str | None:
    """The fingerprint the plan wants the route to have."""
    return spec.fingerprint() if spec is not None else change.after_fingerprint


def write_of(
    change: Change, spec: RouteSpec | None, labels: Mapping[str, str], live: LiveRoute | None
) -> Write:
    """The backend write for a change classified as needing one, conditional on ``live``."""
    version = live.version if live is not None else None
    if change.action == "create":
        return Write(change.route, "create", spec, labels, change.annotations)
    if change.action == "delete":
        return Write(change.route, "delete", None, {}, {}, version)
    return Write(change.route, "replace", spec, labels, change.annotations, version)


def written(write: Write, route: LiveRoute | None) -> Verdict:
    """The verdict for a write the backend accepted."""
    if write.kind == "delete":
        return Verdict("applied", "deleted")
    version = route.version if route is not None else None
    if write.kind == "create":
        return Verdict("applied", "created", version)
    return Verdict("applied", f"updated from version {write.expected_version}", version)


def after_lost_race(
    change: Change, error: RoutesError, live: LiveRoute | None, target: str | None
) -> Verdict:
    """A conditional write was refused: perhaps another run just wrote the very same thing."""
    again = classify(change, live, target)
    if again.outcome == "already-applied":
        return again
    return Verdict("conflict", f"{error.message}; run `routes plan` again", again.version)


def result_of(change: Change, verdict: Verdict, attempts: int) -> RouteResult:
    """The route's result from its final verdict."""
    outcome = verdict.outcome or "applied"
    return RouteResult(
        change.route, change.action, outcome, verdict.message, attempts, verdict.version
    )


def failed(change: Change, error: BaseException, attempts: int) -> RouteResult:
    """A ``failed`` result that says why, hint included; never a traceback."""
    if isinstance(error, TransientBackendError):
        message = f"gave up after {attempts} attempts: {error.message}"
    elif isinstance(error, RoutesError):
        message = error.message + (f" ({error.hint})" if error.hint else "")
    else:  # one route's bug must not sink the whole run
        message = f"{type(error).__name__}: {error}"
    return RouteResult(change.route, change.action, "failed", message, attempts)


def journal_retry(
    journal: Journal, change: Change, attempt: int, error: TransientBackendError, pause: float
) -> None:
    """Record that ``change`` is tried again after ``pause`` seconds."""
    journal.event(
        "retry",
        route=change.route,
        action=change.action,
        attempt=attempt,
        error=error.message,
        retry_after=error.retry_after,
        delay=round(pause, 3),
    )


def send(backend: Backend, write: Write) -> LiveRoute | None:
    """Perform one write with the backend's single-route methods."""
    if write.kind == "delete":
        backend.delete_route(write.name, expected_version=write.expected_version)
        return None
    assert write.spec is not None
    if write.kind == "create":
        return backend.create_route(write.name, write.spec, write.labels, write.annotations)
    return backend.replace_route(
        write.name, write.spec, write.labels, write.annotations, write.expected_version
    )


class RouteWriter:
    """Applies single changes against one backend; safe to share between threads."""

    def __init__(
        self,
        backend: Backend,
        max_attempts: int,
        delay: Delay,
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
                verdict = self._attempt(change, spec, labels, optimistic=attempts == 1)
            except TransientBackendError as exc:
                if attempts >= self.max_attempts:
                    return failed(change, exc, attempts)
                pause = self.delay(attempts, exc.retry_after)
                journal_retry(self.journal, change, attempts, exc, pause)
                self.sleep(pause)
                continue
            except Exception as exc:
                return failed(change, exc, attempts)
            return result_of(change, verdict, attempts)

    def _attempt(
        self, change: Change, spec: RouteSpec | None, labels: Mapping[str, str], optimistic: bool
    ) -> Verdict:
        target = target_of(change, spec)
        if optimistic and self.backend.capabilities.conditional_writes:
            verdict = self._write_as_planned(change, spec, labels)
            if verdict is not None:
                return verdict
        live = self.backend.get_route(change.route)
        verdict = classify(change, live, target)
        if verdict.outcome is not None:
            return verdict
        write = write_of(change, spec, labels, live)
        try:
            return written(write, send(self.backend, write))
        except (ConflictError, NotFoundError) as exc:
            return after_lost_race(change, exc, self.backend.get_route(change.route), target)

    def _write_as_planned(
        self, change: Change, spec: RouteSpec | None, labels: Mapping[str, str]
    ) -> Verdict | None:
        """Write conditional on the state the plan saw, skipping the read.

        With conditional writes, "the live route is still as the plan found it" is exactly
        "its version is still the plan's ``live_version``" (or, for a create, "it does not
        exist"), so the condition does the read's job in one request. When the condition
        fails (None is returned) the route is read and classified as usual.
        """
        if change.action != "create" and not change.live_version:
            return None
        planned = LiveRoute(change.route, RouteSpec("", ()), change.live_version or "")
        write = write_of(change, spec, labels, None if change.action == "create" else planned)
        try:
            return written(write, send(self.backend, write))
        except (ConflictError, NotFoundError):
            return None
