"""One route of an apply: read, decide, write conditionally, retry transients.

Reading before writing is what makes an apply idempotent; what the read route says to do is
``verdict.verdict_of``. On backends with conditional writes the first attempt folds the read
into the write's condition (the version the plan saw), and reads only when that condition
fails. Every later attempt reads first and decides again, so a write whose answer was lost
is never made twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.apply.journal import Journal
from reconciler.apply.verdict import (
    Verdict,
    after_lost_race,
    failed,
    result_of,
    target_of,
    verdict_of,
    write_of,
    written,
)
from reconciler.backends.base import Backend, send
from reconciler.errors import ConflictError, NotFoundError, TransientBackendError
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Change
from reconciler.results import RouteResult
from reconciler.retry import RetryPolicy, run_with_retries


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


class RouteWriter:
    """Applies single changes against one backend; safe to share between threads."""

    def __init__(self, backend: Backend, policy: RetryPolicy, journal: Journal) -> None:
        self.backend = backend
        self.policy = policy
        self.journal = journal

    def apply(
        self, change: Change, spec: RouteSpec | None, labels: Mapping[str, str]
    ) -> RouteResult:
        """The result of one change; every exception becomes a ``failed`` result."""

        def journal(attempt: int, error: TransientBackendError, pause: float) -> None:
            journal_retry(self.journal, change, attempt, error, pause)

        try:
            return run_with_retries(
                lambda attempt: self._result(attempt, change, spec, labels),
                self.policy,
                retry_on=TransientBackendError,
                on_retry=journal,
            )
        except TransientBackendError as exc:
            return failed(change, exc, self.policy.attempts)

    def _result(
        self, attempt: int, change: Change, spec: RouteSpec | None, labels: Mapping[str, str]
    ) -> RouteResult:
        """One attempt's result; a transient failure is raised to be retried."""
        try:
            verdict = self._attempt(change, spec, labels, optimistic=attempt == 1)
        except TransientBackendError:
            raise
        except Exception as exc:
            return failed(change, exc, attempt)
        return result_of(change, verdict, attempt)

    def _attempt(
        self, change: Change, spec: RouteSpec | None, labels: Mapping[str, str], optimistic: bool
    ) -> Verdict:
        target = target_of(change, spec)
        if optimistic and self.backend.capabilities.conditional_writes:
            verdict = self._write_as_planned(change, spec, labels)
            if verdict is not None:
                return verdict
        live = self.backend.get_route(change.route)
        verdict = verdict_of(change, live, target)
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
        fails (None is returned) the route is read and decided as usual.
        """
        if change.action != "create" and not change.live_version:
            return None
        planned = LiveRoute(change.route, RouteSpec("", ()), change.live_version or "")
        write = write_of(change, spec, labels, None if change.action == "create" else planned)
        try:
            return written(write, send(self.backend, write))
        except (ConflictError, NotFoundError):
            return None
