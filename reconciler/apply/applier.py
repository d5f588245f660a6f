"""(Plan, Backend) -> ApplyResult: guards, order, retries, journal, wait.

The applier only reads the plan. Every write is preceded by a read of the route, so an apply
that stopped half-way can simply be run again: what is done already reads as
``already-applied`` and is never written twice. On backends with ``batch_writes`` a phase is
read and written in batches (``batch``), one request for many routes. The checks a saved
plan passes first (its specs, its freshness) are in ``guards``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from reconciler.apply.batch import BatchRouteWriter
from reconciler.apply.guards import check_guards
from reconciler.apply.journal import Journal
from reconciler.apply.single import RouteWriter
from reconciler.apply.wait import wait_until_ready
from reconciler.backends.base import Backend, BatchWriter
from reconciler.errors import PlanError
from reconciler.model import LABEL_MANAGED_BY, LABEL_MANAGED_BY_VALUE, LABEL_OWNER, RouteSpec
from reconciler.plan import Change, Plan
from reconciler.results import ApplyResult, RouteResult
from reconciler.retry import RetryPolicy

# check_guards is the apply command's too: it refuses a plan before asking for `yes`.
__all__ = ["ApplyOptions", "Progress", "apply_plan", "check_guards"]

Progress = Callable[[RouteResult, int, int], None]
SUCCESS = ("applied", "already-applied")


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply: the ``routes apply`` flags, resolved."""

    parallelism: int = 10  # routes written at once within a phase
    # Routes per batch where the backend writes batches; None: the backend's own choice
    # (Capabilities.batch_size: 1,000 per SQLite transaction, a whole phase per Caddy load).
    batch_size: int | None = None
    max_attempts: int = 5  # per route, for TransientBackendError only
    backoff_base: float = 0.5  # seconds; doubles per attempt, full jitter
    backoff_cap: float = 20.0  # longest jittered backoff (a Retry-After may be longer)
    wait: bool = False  # --wait: poll written routes until Ready
    wait_timeout: float = 300.0
    poll_interval: float = 1.0
    journal_dir: Path | None = None  # .routes/journal/; None = no journal
    max_deletes: int = 10
    allow_empty: bool = False

    def retry_policy(self, sleep: Callable[[float], None]) -> RetryPolicy:
        """The one retry policy (``reconciler.retry``) with these attempts and backoff."""
        return RetryPolicy(
            attempts=max(1, self.max_attempts),
            base=self.backoff_base,
            cap=self.backoff_cap,
            sleep=sleep,
        )


def apply_plan(
    plan: Plan,
    backend: Backend,
    specs: Mapping[str, RouteSpec],
    options: ApplyOptions,
    *,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ApplyResult:
    """Apply ``plan``: creates, then updates, then deletes; never raises for a single route.

    Each phase starts only when the one before it has finished, with up to
    ``options.parallelism`` routes at once (or, where the backend writes batches, in batches
    of ``options.batch_size``, by default the backend's). When any create or update did not succeed
    (failed, conflict, or not Ready with ``--wait``), deletes are not attempted: the old
    routes stay until their replacements are in place (make before break). With ``wait``,
    readiness is awaited after the creates and updates, before any delete.
    """
    check_guards(plan, options)
    missing = [c.route for c in plan.changes if c.action != "delete" and specs.get(c.route) is None]
    if missing:
        raise PlanError(
            f"no desired spec for route(s) {', '.join(missing)}",
            hint="pass the specs of the descriptors the plan was made from",
        )
    journal = Journal(options.journal_dir)
    try:
        run = _Run(plan, backend, specs, options, journal, progress, sleep, clock)
        results = run.execute()
    finally:
        journal.close()
    return ApplyResult(results=results, journal=str(journal.path) if journal.path else None)


class _Run:
    """One apply run: phases, progress, journal."""

    def __init__(
        self,
        plan: Plan,
        backend: Backend,
        specs: Mapping[str, RouteSpec],
        options: ApplyOptions,
        journal: Journal,
        progress: Progress | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.plan, self.backend, self.options = plan, backend, options
        self.journal, self.progress, self.sleep, self.clock = journal, progress, sleep, clock
        policy = options.retry_policy(sleep)
        ready = getattr(backend, "ready_to_write", None)  # BaseBackend's; optional for others
        if ready is not None:
            ready()
        self.writer = RouteWriter(backend, policy, journal)
        self.batch_writer: BatchRouteWriter | None = None
        if backend.capabilities.batch_writes and isinstance(backend, BatchWriter):
            self.batch_writer = BatchRouteWriter(backend, policy, journal)
        self.labels = {LABEL_MANAGED_BY: LABEL_MANAGED_BY_VALUE, LABEL_OWNER: plan.owner}
        self.specs = specs
        self.results: dict[str, RouteResult] = {}
        self.done = 0

    def execute(self) -> tuple[RouteResult, ...]:
        self.journal.event(
            "run-start",
            backend=self.backend.url,
            owner=self.plan.owner,
            plan_backend=self.plan.backend,
            tool_version=self.plan.tool_version,
            source_digest=self.plan.source_digest,
            summary=self.plan.summary(),
            routes=[
                {
                    "route": c.route,
                    "action": c.action,
                    "live_version": c.live_version,
                    "live_fingerprint": c.live_fingerprint,
                    "after_fingerprint": c.after_fingerprint,
                }
                for c in self.plan.changes
            ],
            parallelism=self.options.parallelism,
            batch_size=self._batch_size() if self.batch_writer else None,
        )
        self._phase([c for c in self.plan.changes if c.action == "create"])
        # Adoptions write a live route in place, as updates do.
        self._phase([c for c in self.plan.changes if c.action in ("update", "adopt")])
        if self.options.wait:
            self._wait()
        deletes = [c for c in self.plan.changes if c.action == "delete"]
        unsuccessful = [r.route for r in self.results.values() if r.outcome not in SUCCESS]
        if unsuccessful:
            why = (
                f"not attempted: {len(unsuccessful)} create/update(s) did not succeed "
                f"({', '.join(unsuccessful)}); deletes wait until replacements are in place"
            )
            for change in deletes:
                self._record(RouteResult(change.route, change.action, "not-attempted", why))
        else:
            self._phase(deletes)
        ordered = tuple(self.results[c.route] for c in self.plan.changes)
        self.journal.event("run-end", report=ApplyResult(ordered).summary())
        return ordered

    def _phase(self, changes: list[Change]) -> None:
        if not changes:
            return
        if self.batch_writer is not None:
            size = self._batch_size() or len(changes)
            for start in range(0, len(changes), size):
                batch = [
                    (c, self.specs.get(c.route), self._labels(c))
                    for c in changes[start : start + size]
                ]
                self._record_all(self.batch_writer.apply(batch))
            return
        workers = max(1, min(self.options.parallelism, len(changes)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="routes-apply") as pool:
            futures = [pool.submit(self._one, change) for change in changes]
            for future in as_completed(futures):
                self._record(future.result())

    def _one(self, change: Change) -> RouteResult:
        return self.writer.apply(change, self.specs.get(change.route), self._labels(change))

    def _labels(self, change: Change) -> dict[str, str]:
        return {**self.labels, **change.labels}

    def _batch_size(self) -> int | None:
        size = self.options.batch_size or self.backend.capabilities.batch_size
        return max(1, size) if size else None

    def _record(self, result: RouteResult) -> None:
        self._record_all([result])

    def _record_all(self, results: list[RouteResult]) -> None:
        # One flush for a batch's lines: they are written right after its commit.
        self.journal.events([("result", result.to_dict()) for result in results])
        for result in results:
            self.results[result.route] = result
            self.done += 1
            if self.progress is not None:
                self.progress(result, self.done, len(self.plan.changes))

    def _wait(self) -> None:
        written = [
            r.route
            for r in self.results.values()
            if r.outcome == "applied" and r.action != "delete"
        ]
        not_ready = wait_until_ready(
            self.backend,
            written,
            timeout=self.options.wait_timeout,
            poll_interval=self.options.poll_interval,
            sleep=self.sleep,
            clock=self.clock,
            journal=self.journal,
        )
        for route, message in not_ready.items():
            before = self.results[route]
            self.results[route] = RouteResult(
                route, before.action, "failed", message, before.attempts, before.version
            )
            self.journal.event("result", **self.results[route].to_dict())
