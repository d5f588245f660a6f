"""Drift: classify what a plan found into findings a reviewer can act on. Pure.

- ``changed-out-of-band``: a managed route whose live spec is not the one ``routes`` last
  wrote (its ``routes/spec-digest`` annotation no longer matches the live spec).
- ``deleted-out-of-band``: a described route that is missing live although ``routes`` had
  applied it (``AppliedBefore``: it was described at the newest commit this owner's live
  routes carry in ``routes/source-commit``).
- ``not-yet-applied``: the descriptors changed and no apply ran since (the live spec is
  the one ``routes`` last wrote), a new route never applied, or a route removed from the
  descriptors that is still live (also a ``protected`` one, which apply keeps).
- ``unmanaged``: live routes that ``routes`` does not own; reported, never counted as drift.

Every finding carries the field-level differences, live against described.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.diagnostics import CODE_PROTECTED
from reconciler.model import ANNOTATION_DIGEST, LiveRoute
from reconciler.plan import Change, Plan
from reconciler.spec_diff import FieldDifference, field_differences

KINDS = ("changed-out-of-band", "deleted-out-of-band", "not-yet-applied", "unmanaged")


@dataclass(frozen=True)
class Finding:
    route: str
    kind: str
    detail: str
    differences: tuple[FieldDifference, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "kind": self.kind,
            "detail": self.detail,
            "differences": [d.to_dict() for d in self.differences],
        }


@dataclass(frozen=True)
class AppliedBefore:
    """Routes an earlier apply is known to have written: those described at ``commit`` (the
    newest ``routes/source-commit`` on this owner's live routes), or, without git, those the
    local apply journal shows written (``commit`` None)."""

    routes: frozenset[str] = frozenset()
    commit: str | None = None


@dataclass(frozen=True)
class DriftReport:
    findings: tuple[Finding, ...]
    plan: Plan

    @property
    def drifted(self) -> bool:
        return any(f.kind != "unmanaged" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for f in self.findings if f.kind == kind) for kind in KINDS}

    def to_dict(self) -> dict[str, Any]:
        plan = self.plan
        changes = [change.to_dict() for change in plan.changes]
        return self.to_dict_with(changes, [dict(host) for host in plan.traffic])

    def to_dict_with(self, plan_changes: object, plan_traffic: object) -> dict[str, Any]:
        """``to_dict`` with stand-ins for the plan's changes and traffic (as
        ``Plan.to_dict_with``)."""
        return {
            "drifted": self.drifted,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "plan": self.plan.to_dict_with(plan_changes, plan_traffic),
        }


def classify_drift(
    plan: Plan,
    live: Mapping[str, LiveRoute],
    applied_before: AppliedBefore | Collection[str] = (),
) -> DriftReport:
    """Findings for every change, orphan and unmanaged route of a pruning plan."""
    applied = (
        applied_before
        if isinstance(applied_before, AppliedBefore)
        else AppliedBefore(frozenset(applied_before))
    )
    findings = [_finding(change, live.get(change.route), applied) for change in plan.changes]
    for d in plan.diagnostics:
        if d.code == CODE_PROTECTED and d.route is not None and d.route in live:
            detail = "no longer in the descriptors but still live; protected, so apply keeps it"
            spec = live[d.route].spec.to_dict(redact=True)
            findings.append(
                Finding(d.route, "not-yet-applied", detail, field_differences(spec, None))
            )
    for entry in plan.unmanaged:
        host = entry.get("host", "")
        findings.append(Finding(entry["route"], "unmanaged", f"host {host}; not owned, left alone"))
    return DriftReport(findings=tuple(findings), plan=plan)


def _finding(change: Change, route: LiveRoute | None, applied: AppliedBefore) -> Finding:
    if change.action == "create":
        differences = field_differences(None, change.after)
        last = f"commit {applied.commit[:12]}, the last one applied" if applied.commit else ""
        if change.route in applied.routes:
            why = f"it is described at {last}" if last else "per the apply journal"
            detail = f"missing live although routes applied it ({why}); apply to restore it"
            return Finding(change.route, "deleted-out-of-band", detail, differences)
        never = f" (not described at {last})" if last else ""
        return Finding(change.route, "not-yet-applied", f"new route{never}: apply", differences)
    if change.action == "update":
        secrets = next((op.changed for op in change.operations if op.op == "set-validation"), ())
        differences = field_differences(change.before, change.after, secrets)
        written = route.annotations.get(ANNOTATION_DIGEST) if route else None
        # Routes written before fingerprints hid secrets carry the private digest.
        as_written = (route.spec.fingerprint(), route.spec.private_digest()) if route else ()
        if route is not None and written and written not in as_written:
            detail = "live route edited outside routes; apply to restore it"
            return Finding(change.route, "changed-out-of-band", detail, differences)
        detail = "the descriptors changed since the last apply; apply to bring them live"
        return Finding(change.route, "not-yet-applied", detail, differences)
    detail = "no longer in the descriptors but still live; apply with --prune"
    return Finding(change.route, "not-yet-applied", detail, field_differences(change.before, None))
