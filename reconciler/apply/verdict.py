"""What to do with one route of an apply, from what it is live. Pure.

The live route is compared with what the plan found (``before``, its ``live_fingerprint``)
and what it wants (``after``): already as wanted is ``already-applied``; still as found is
written, conditional on the version just read; anything else is a ``conflict`` that only a
new plan can resolve. The per-route and the batch writers both decide with these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.backends.base import Write
from reconciler.errors import RoutesError, TransientBackendError
from reconciler.model import (
    LABEL_MANAGED_BY,
    LABEL_MANAGED_BY_VALUE,
    LABEL_OWNER,
    LiveRoute,
    RouteSpec,
)
from reconciler.plan import Change
from reconciler.results import RouteResult


@dataclass(frozen=True)
class Verdict:
    """What the live route says to do: write it (``outcome`` None) or stop with an outcome."""

    outcome: str | None
    message: str = ""
    version: str | None = None


def verdict_of(change: Change, live: LiveRoute | None, target: str | None) -> Verdict:
    """Compare the live route with what the plan found (before) and wants (after)."""
    name = change.route
    if live is None:
        if change.action == "create":
            return Verdict(None)
        if change.action == "delete":
            return Verdict("already-applied", "route is gone already")
        return Verdict("conflict", f"route {name} was deleted since the plan was made")
    holder = _other_owner(change, live)
    if holder is not None:
        why = f"route {name} was taken over by owner {holder} since the plan was made"
        return Verdict("conflict", why + "; run `routes plan` again", live.version)
    if (
        change.action != "delete"
        and live.spec.private_digest() == target
        and _labelled(change, live)
    ):
        return Verdict("already-applied", "live route matches the plan", live.version)
    if change.action != "create" and _as_found(change, live):
        return Verdict(None, version=live.version)
    if change.action == "create":
        why = f"route {name} exists already with a spec the plan did not expect"
    else:
        why = f"route {name} changed since the plan was made (live version {live.version})"
    return Verdict("conflict", why + "; run `routes plan` again", live.version)


def _labelled(change: Change, live: LiveRoute) -> bool:
    """An adoption is done only once the route carries this owner's labels too."""
    if change.action != "adopt":
        return True
    return all(live.labels.get(key) == value for key, value in change.labels.items())


def _other_owner(change: Change, live: LiveRoute) -> str | None:
    """For an adoption: the other routes owner that manages the route now, if any."""
    ours = change.labels.get(LABEL_OWNER)  # none: a change already done, which claims nothing
    if change.action != "adopt" or not ours:
        return None
    if live.labels.get(LABEL_MANAGED_BY) != LABEL_MANAGED_BY_VALUE:
        return None
    holder = live.labels.get(LABEL_OWNER)
    return holder if holder and holder != ours else None


def _as_found(change: Change, live: LiveRoute) -> bool:
    """Whether the live route is still as the plan found it: secrets included when the plan
    was made in this process (``live_digest``), else as far as its fingerprint tells."""
    if change.live_digest is not None:
        return live.spec.private_digest() == change.live_digest
    return live.spec.fingerprint() == change.live_fingerprint


def target_of(change: Change, spec: RouteSpec | None) -> str | None:
    """The private digest the plan wants the route to have (None for a delete): compared in
    memory only, secrets included."""
    del change  # every create and update is applied with its full desired spec
    return spec.private_digest() if spec is not None else None


def write_of(
    change: Change, spec: RouteSpec | None, labels: Mapping[str, str], live: LiveRoute | None
) -> Write:
    """The backend write for a change whose verdict is to write, conditional on ``live``."""
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
    again = verdict_of(change, live, target)
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
