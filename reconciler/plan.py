"""The plan as a value: changes, operations, and their dict / JSON form. Data only.

``Plan.to_dict()`` is the JSON of ``schemas/plan.schema.json``; every renderer reads the same
structure. Secrets never enter the dict form, nor anything derived from them: specs are
redacted, and ``live_fingerprint`` / ``after_fingerprint`` are digests of the redacted specs.
A secret that changes shows as ``changed`` on its operation; a saved plan's apply re-derives
the plan from the descriptors, so the file needs no secret to prove anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.diagnostics import CODE_KEPT_WITHOUT_PRUNE, CODE_PROTECTED, Diagnostic

__all__ = [
    "FORMAT_VERSION",
    "KEPT_CODES",
    "Change",
    "Operation",
    "Plan",
    "Refusal",
]

# Owned live routes no descriptor names that the plan keeps: without --prune, or protected.
KEPT_CODES = (CODE_KEPT_WITHOUT_PRUNE, CODE_PROTECTED)

FORMAT_VERSION = "1"
_IN_PLACE = ("update", "adopt")  # actions on a live route that stays: before and after


@dataclass(frozen=True)
class Operation:
    """One in-place change of an update. ``prefix``/``service`` for path operations,
    ``before``/``after`` for the values that changed."""

    op: str
    prefix: str | None = None
    service: str | None = None
    before: Any = None
    after: Any = None
    # Sensitive values (password hashes) that differ although their redacted forms look equal.
    changed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op}
        if self.prefix is not None:
            out["prefix"] = self.prefix
        if self.service is not None:
            out["service"] = self.service
        if self.op not in ("add-path", "remove-path"):
            out["before"] = self.before
            out["after"] = self.after
        if self.changed:
            out["changed"] = list(self.changed)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Operation:
        return cls(
            op=raw["op"],
            prefix=raw.get("prefix"),
            service=raw.get("service"),
            before=raw.get("before"),
            after=raw.get("after"),
            changed=tuple(raw.get("changed") or ()),
        )


@dataclass(frozen=True)
class Change:
    """What will happen to one route. ``before``/``after`` are redacted canonical specs."""

    route: str
    action: str
    reason: str | None = None
    file: str | None = None
    line: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    live_version: str | None = None
    live_fingerprint: str | None = None
    after_fingerprint: str | None = None
    operations: tuple[Operation, ...] = ()
    risks: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # The private digest of the live spec the plan was made from (secrets included), kept in
    # memory by the process that planned, so its apply sees a secret changed meanwhile. It is
    # never written: a plan file or journal holding it would be a password oracle.
    live_digest: str | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "action": self.action,
            "reason": self.reason,
            "file": self.file,
            "line": self.line,
            "before": self.before if self.action in _IN_PLACE else None,
            "after": self.after if self.action in _IN_PLACE else None,
            "spec": self.after if self.action == "create" else self.before,
            "live_version": self.live_version,
            "live_fingerprint": self.live_fingerprint,
            "after_fingerprint": self.after_fingerprint,
            "operations": [op.to_dict() for op in self.operations],
            "risks": list(self.risks),
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Change:
        action = raw["action"]
        before, after = raw.get("before"), raw.get("after")
        if action == "create":
            after = raw.get("spec")
        elif action == "delete":
            before = raw.get("spec")
        return cls(
            route=raw["route"],
            action=action,
            reason=raw.get("reason"),
            file=raw.get("file"),
            line=raw.get("line"),
            before=before,
            after=after,
            live_version=raw.get("live_version"),
            live_fingerprint=raw.get("live_fingerprint"),
            after_fingerprint=raw.get("after_fingerprint"),
            operations=tuple(Operation.from_dict(op) for op in raw.get("operations") or ()),
            risks=tuple(raw.get("risks") or ()),
            labels=dict(raw.get("labels") or {}),
            annotations=dict(raw.get("annotations") or {}),
        )


@dataclass(frozen=True)
class Refusal:
    """A guard ``routes apply`` will refuse this plan by, and what would allow it."""

    guard: str  # errors | empty-desired-set | max-deletes
    message: str
    hint: str

    def to_dict(self) -> dict[str, str]:
        return {"guard": self.guard, "message": self.message, "hint": self.hint}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Refusal:
        return cls(guard=raw["guard"], message=raw["message"], hint=raw.get("hint") or "")


@dataclass(frozen=True)
class Plan:
    """The whole plan: the value ``routes plan`` computes and ``routes apply`` executes."""

    backend: str
    owner: str
    tool_version: str
    changes: tuple[Change, ...] = ()
    unchanged: int = 0
    desired_count: int = 0
    unmanaged: tuple[dict[str, str], ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    source_paths: tuple[str, ...] = ()
    source_digest: str | None = None
    git: Mapping[str, Any] | None = None
    prune: bool = False
    targets: tuple[str, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    # The store planned against, resolved: {"location": absolute path or URL, "id": the id the
    # store was created with, or None}. A saved plan applies only to that store.
    store: Mapping[str, Any] | None = None
    changed_since: str | None = None  # the merge-base commit of a `--changed-since` plan
    # Per changed host, the requests that go elsewhere (reconciler.traffic, as dicts).
    traffic: tuple[Mapping[str, Any], ...] = ()

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    @property
    def kept(self) -> tuple[str, ...]:
        """Owned live routes no descriptor names, kept (P010 without --prune, P011 protected)."""
        return tuple(d.route for d in self.diagnostics if d.code in KEPT_CODES and d.route)

    @property
    def differs(self) -> bool:
        """Whether live state differs from the descriptors: what ``plan --detailed-exitcode``
        and ``drift`` both count (changes, and owned routes kept although not described)."""
        return self.has_changes or bool(self.kept)

    def summary(self) -> dict[str, int]:
        actions = Counter(change.action for change in self.changes)
        counts = {
            "add": actions["create"],
            "change": actions["update"],
            "destroy": actions["delete"],
            "unchanged": self.unchanged,
        }
        if actions["adopt"]:  # only then: plans without adoption keep their four counts
            counts["adopt"] = actions["adopt"]
        return counts

    def to_dict(self) -> dict[str, Any]:
        changes = [change.to_dict() for change in self.changes]
        return self.to_dict_with(changes, [dict(host) for host in self.traffic])

    def to_view(self) -> dict[str, Any]:
        """``to_dict()`` for the text and Markdown renderers, which only read it: the traffic
        hosts are shared, not copied, so a host's moves and rules are made only if shown."""
        return self.to_dict_with([change.to_dict() for change in self.changes], list(self.traffic))

    def to_dict_with(self, changes: object, traffic: object) -> dict[str, Any]:
        """``to_dict`` with ``changes`` and ``traffic`` in place of those two lists, the long
        ones (a renderer that writes them item by item passes stand-ins)."""
        return {
            "format_version": FORMAT_VERSION,
            "tool": {"name": "routes", "version": self.tool_version},
            "backend": self.backend,
            "store": dict(self.store) if self.store is not None else None,
            "owner": self.owner,
            "source": {
                "paths": list(self.source_paths),
                "digest": self.source_digest,
                "git": dict(self.git) if self.git is not None else None,
                "changed_since": self.changed_since,
            },
            "options": {
                "prune": self.prune,
                "targets": list(self.targets),
                "desired_count": self.desired_count,
            },
            "summary": self.summary(),
            "changes": changes,
            "unmanaged": [dict(u) for u in self.unmanaged],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "traffic": traffic,
            "kept": list(self.kept),
            "refusals": [r.to_dict() for r in self.refusals],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Plan:
        """Rebuild a plan from its JSON form (validate it against the schema first)."""
        source = raw.get("source") or {}
        options = raw.get("options") or {}
        return cls(
            backend=raw["backend"],
            owner=raw["owner"],
            tool_version=(raw.get("tool") or {}).get("version", ""),
            changes=tuple(Change.from_dict(c) for c in raw.get("changes") or ()),
            unchanged=int((raw.get("summary") or {}).get("unchanged", 0)),
            desired_count=int(options.get("desired_count", 0)),
            unmanaged=tuple(dict(u) for u in raw.get("unmanaged") or ()),
            diagnostics=tuple(Diagnostic.from_dict(d) for d in raw.get("diagnostics") or ()),
            source_paths=tuple(source.get("paths") or ()),
            source_digest=source.get("digest"),
            git=source.get("git"),
            prune=bool(options.get("prune", False)),
            targets=tuple(options.get("targets") or ()),
            refusals=tuple(Refusal.from_dict(r) for r in raw.get("refusals") or ()),
            store=raw.get("store"),
            changed_since=source.get("changed_since"),
            traffic=tuple(dict(host) for host in raw.get("traffic") or ()),
        )
