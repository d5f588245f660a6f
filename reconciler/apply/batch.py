"""Many routes of an apply phase per request, on backends with ``batch_writes``.

The decisions are ``verdict``'s, made for a batch at once: one read of the batch's routes,
a verdict for each, one ``write_batch`` for those that need a write. On backends with
conditional writes where that read is dear (``cheap_batch_reads`` False: the http backend
lists every route to read many) the first attempt skips it: each write is conditional on
what the plan saw, and only the routes whose condition fails are read and decided (as
single routes are). A write refused as a conflict is read again and decided once more
(another run may have written the very same thing); a transient failure retries whatever
is still undecided, read included, with the one retry policy of single routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.apply.journal import Journal
from reconciler.apply.single import journal_retry
from reconciler.apply.verdict import (
    after_lost_race,
    failed,
    result_of,
    target_of,
    verdict_of,
    write_of,
    written,
)
from reconciler.backends.base import Backend, BatchWriter, Write
from reconciler.errors import BackendError, ConflictError, NotFoundError, TransientBackendError
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Change
from reconciler.results import RouteResult
from reconciler.retry import RetryPolicy, run_with_retries

Item = tuple[Change, RouteSpec | None, Mapping[str, str]]  # a change, its spec and labels
# One attempt's answer: final results, the items to try again, and why they are tried again.
Attempt = tuple[list[RouteResult], list[Item], TransientBackendError | None]
Lost = list[tuple[Item, ConflictError | NotFoundError]]  # writes their conditions refused
Sent = tuple[list[RouteResult], list[Item], Lost, TransientBackendError | None]


class BatchRouteWriter:
    """Applies batches of changes of one phase against a ``BatchWriter`` backend."""

    def __init__(self, backend: Backend, policy: RetryPolicy, journal: Journal) -> None:
        assert isinstance(backend, BatchWriter)
        self.backend = backend
        self.batcher: BatchWriter = backend
        self.policy = policy
        self.journal = journal

    def apply(self, items: Sequence[Item]) -> list[RouteResult]:
        """One result per item, in order; every exception becomes ``failed`` results."""
        results: dict[str, RouteResult] = {}
        pending = list(items)

        def attempt(number: int) -> None:
            nonlocal pending
            try:
                done, pending, error = self._attempt(pending, number)
            except Exception as exc:
                done, pending, error = [failed(c, exc, number) for c, _, _ in pending], [], None
            results.update((r.route, r) for r in done)
            if error is not None and pending:
                raise error  # the still undecided items are tried again, read first

        def journal(number: int, error: TransientBackendError, pause: float) -> None:
            for change, _, _ in pending:
                journal_retry(self.journal, change, number, error, pause)

        try:
            run_with_retries(attempt, self.policy, retry_on=TransientBackendError, on_retry=journal)
        except TransientBackendError as error:
            results.update((c.route, failed(c, error, self.policy.attempts)) for c, _, _ in pending)
        return [results[change.route] for change, _, _ in items]

    def _attempt(self, items: list[Item], attempts: int) -> Attempt:
        done: list[RouteResult] = []
        capabilities = self.backend.capabilities
        if attempts == 1 and capabilities.conditional_writes and not capabilities.cheap_batch_reads:
            done, items, error = self._write_as_planned(items)
            if error is not None or not items:
                return done, items, error
        more, retry, error = self._read_and_write(items, attempts)
        return done + more, retry, error

    def _write_as_planned(self, items: list[Item]) -> Attempt:
        """The first attempt, where writes are conditional: each write carries the version the
        plan saw (a create: that the route does not exist), so the condition does the read's
        job (as for single routes). What the condition refuses is read and decided as usual."""
        undecided: list[Item] = []
        writes: list[tuple[Item, Write]] = []
        for item in items:
            change, spec, labels = item
            if change.action != "create" and not change.live_version:
                undecided.append(item)
                continue
            found = LiveRoute(change.route, RouteSpec("", ()), change.live_version or "")
            writes.append(
                (item, write_of(change, spec, labels, None if change.action == "create" else found))
            )
        if not writes:
            return [], undecided, None
        done, retry, lost, error = self._send(writes, 1)
        return done, undecided + retry + [item for item, _ in lost], error

    def _read_and_write(self, items: list[Item], attempts: int) -> Attempt:
        try:
            live = self.backend.get_routes([change.route for change, _, _ in items])
        except TransientBackendError as exc:
            return [], items, exc
        done: list[RouteResult] = []
        writes: list[tuple[Item, Write]] = []
        for item in items:
            change, spec, labels = item
            verdict = verdict_of(change, live.get(change.route), target_of(change, spec))
            if verdict.outcome is not None:
                done.append(result_of(change, verdict, attempts))
            else:
                writes.append((item, write_of(change, spec, labels, live.get(change.route))))
        if not writes:
            return done, [], None
        written_now, retry, lost, error = self._send(writes, attempts)
        done += written_now
        if lost:
            try:
                done += self._after_lost_races(lost, attempts)
            except TransientBackendError as exc:
                retry += [item for item, _ in lost]
                error = exc
        return done, retry, error

    def _send(self, writes: list[tuple[Item, Write]], attempts: int) -> Sent:
        """One ``write_batch``: the results it settled, the items to try again, the writes
        their conditions refused, and the transient failure met, if any."""
        # Before the commit, so a run killed between the commit and its result lines still
        # names every route it may have written (a re-run reads them as already-applied).
        self.journal.event("writing", attempt=attempts, routes=[write.name for _, write in writes])
        try:
            outcomes = self.batcher.write_batch([write for _, write in writes])
        except TransientBackendError as exc:
            return [], [item for item, _ in writes], [], exc
        if len(outcomes) != len(writes):
            raise BackendError(
                f"{self.backend.url} answered {len(outcomes)} results to {len(writes)} writes",
                hint="this is a bug in the backend: report it",
            )
        done: list[RouteResult] = []
        retry: list[Item] = []
        lost: list[tuple[Item, ConflictError | NotFoundError]] = []
        error: TransientBackendError | None = None
        for (item, write), outcome in zip(writes, outcomes, strict=True):
            change = item[0]
            if isinstance(outcome, TransientBackendError):
                retry.append(item)
                error = outcome
            elif isinstance(outcome, ConflictError | NotFoundError):
                lost.append((item, outcome))
            elif isinstance(outcome, BaseException):
                done.append(failed(change, outcome, attempts))
            else:
                done.append(result_of(change, written(write, outcome), attempts))
        return done, retry, lost, error

    def _after_lost_races(self, lost: Lost, attempts: int) -> list[RouteResult]:
        names = [change.route for (change, _, _), _ in lost]
        live: dict[str, LiveRoute] = self.backend.get_routes(names)
        return [
            result_of(
                change,
                after_lost_race(change, exc, live.get(change.route), target_of(change, spec)),
                attempts,
            )
            for (change, spec, _), exc in lost
        ]
