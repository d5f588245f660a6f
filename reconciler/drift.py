"""Drift: classify what a plan found into findings a reviewer can act on. Pure.

- ``changed-out-of-band``: a managed route whose live spec is not the one ``routes`` last
  wrote (its ``routes/spec-digest`` annotation no longer matches the live spec).
- ``deleted-out-of-band``: a described route that is missing live although ``routes`` had
  applied it (seen in the apply journal).
- ``not-yet-applied``: the descriptors changed and no apply ran since (the live spec is
  the one ``routes`` last wrote), a new route never applied, or a route removed from the
  descriptors that is still live.
- ``unmanaged``: live routes that ``routes`` does not own; reported, never counted as drift.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import ANNOTATION_DIGEST, LiveRoute
from reconciler.plan import Plan

KINDS = ("changed-out-of-band", "deleted-out-of-band", "not-yet-applied", "unmanaged")


@dataclass(frozen=True)
class Finding:
    route: str
    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"route": self.route, "kind": self.kind, "detail": self.detail}


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
        return {
            "drifted": self.drifted,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "plan": self.plan.to_dict(),
        }


def classify_drift(
    plan: Plan, live: Mapping[str, LiveRoute], applied_before: Collection[str] = ()
) -> DriftReport:
    """Findings for every change, orphan and unmanaged route of a pruning plan."""
    findings: list[Finding] = []
    for change in plan.changes:
        if change.action == "create":
            if change.route in applied_before:
                detail = "missing on the backend although routes applied it; apply to restore it"
                findings.append(Finding(change.route, "deleted-out-of-band", detail))
            else:
                findings.append(Finding(change.route, "not-yet-applied", "new route: apply"))
        elif change.action == "update":
            route = live.get(change.route)
            written = route.annotations.get(ANNOTATION_DIGEST) if route else None
            ops = ", ".join(sorted({op.op for op in change.operations}))
            # Routes written before fingerprints hid secrets carry the private digest.
            as_written = (route.spec.fingerprint(), route.spec.private_digest()) if route else ()
            if route is not None and written and written not in as_written:
                detail = f"live route edited outside routes ({ops}); apply to restore it"
                findings.append(Finding(change.route, "changed-out-of-band", detail))
            else:
                findings.append(Finding(change.route, "not-yet-applied", f"pending: {ops}"))
        else:
            detail = "no longer in the descriptors but still live; apply with --prune"
            findings.append(Finding(change.route, "not-yet-applied", detail))
    for entry in plan.unmanaged:
        host = entry.get("host", "")
        findings.append(Finding(entry["route"], "unmanaged", f"host {host}; not owned, left alone"))
    return DriftReport(findings=tuple(findings), plan=plan)
