"""Plan dict -> Terraform-style text. Pure: renders ``Plan.to_dict()``, never prints.

Rendering from the dict (not the ``Plan`` object) keeps human output and ``--format json``
from ever disagreeing, and lets ``routes show plan.json`` render a saved plan unchanged.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from reconciler.model import LABEL_MANAGED_BY, LABEL_OWNER, SENSITIVE
from reconciler.plan import KEPT_CODES
from reconciler.quoting import clean, quote
from reconciler.render.traffic import traffic_text_and_notes

__all__ = [
    "NO_CHANGES",
    "diagnostic_line",
    "kept_note",
    "refusal_section",
    "render_apply_text",
    "render_change_text",
    "render_plan_header",
    "render_plan_text",
    "risk_notes",
    "summary_line",
]

NO_CHANGES = "No changes. Live routes match the descriptors."

_COLORS = {"+": "\x1b[32m", "~": "\x1b[33m", "-": "\x1b[31m"}
_RESET = "\x1b[0m"
_HEADLINES = {
    "create": "will be created",
    "update": "will be updated in-place",
    "delete": "will be destroyed",
    "adopt": "will be adopted",
}
_SIGNS = {"create": "+", "update": "~", "delete": "-", "adopt": "~"}
_SEVERITY_WORDS = {"error": "Error", "warning": "Warning", "info": "Note"}
# (sign, text, nesting depth): sign " " marks an unchanged or closing line.
_Line = tuple[str, str, int]

_OUTCOME_WORDS = {
    "applied": "applied",
    "already-applied": "already applied",
    "conflict": "conflict",
    "failed": "failed",
    "not-attempted": "not attempted",
}


def render_plan_text(plan: Mapping[str, Any], *, color: bool = False) -> str:
    """The whole plan as text: notes first, then one block per change, then the summary."""
    # Notes go on top so the last block sits right above the summary (README, "Plans");
    # what apply will refuse goes first of all.
    sections = [refusal_section(plan), _diagnostics_section(plan), _unmanaged_section(plan)]
    traffic, traffic_notes = traffic_text_and_notes(plan)
    notes = risk_notes(plan) + traffic_notes
    if notes:
        sections.append("\n".join(["Risks:", *(f"  ! {note}" for note in notes)]))
    sections.append(traffic)
    sections += [render_change_text(change, color=color) for change in plan["changes"]]
    sections.append(summary_line(plan))
    return "\n\n".join(section for section in sections if section)


def render_plan_header(plan: Mapping[str, Any], backend: str | None = None) -> str:
    """``Backend: …`` and ``Owner: …``, the lines above a text plan: what it was made against.
    ``backend`` is the backend as resolved (the absolute store path of ``local``)."""
    if backend is None:
        backend = plan["backend"]
        location = (plan.get("store") or {}).get("location")
        if location and backend.partition(":")[0].lower() == "local":
            backend = f"local:{location}"  # a saved plan records its store resolved
    return f"Backend: {clean(backend)}\nOwner:   {clean(plan['owner'])}"


def summary_line(plan: Mapping[str, Any]) -> str:
    """``Plan: 1 to add, 1 to change, 0 to destroy.``, or the no-changes sentence; either
    says so when owned routes no longer described are kept."""
    kept = kept_note(plan)
    if not plan["changes"]:
        return f"No changes to apply; {kept}." if kept else NO_CHANGES
    s = plan["summary"]
    adopt = f"{s['adopt']} to adopt, " if s.get("adopt") else ""  # Terraform's "to import"
    line = f"Plan: {adopt}{s['add']} to add, {s['change']} to change, {s['destroy']} to destroy."
    return f"{line} {kept[:1].upper()}{kept[1:]}." if kept else line


def kept_note(plan: Mapping[str, Any]) -> str:
    """``1 owned route is no longer described (kept)``, or "" when none is."""
    kept = sum(1 for d in plan["diagnostics"] if d["code"] in KEPT_CODES)
    if not kept:
        return ""
    verb = "route is" if kept == 1 else "routes are"
    return f"{kept} owned {verb} no longer described (kept)"


def refusal_section(plan: Mapping[str, Any]) -> str:
    """What ``routes apply`` will refuse this plan by, and what would allow it; "" if nothing."""
    refusals = plan.get("refusals") or ()
    if not refusals:
        return ""
    lines = ["Apply will refuse this plan:"]
    for refusal in refusals:
        lines.append(f"  ! {clean(refusal['message'])}")
        if refusal.get("hint") and refusal.get("guard") != "max-deletes":
            lines.append(f"    ({clean(refusal['hint'])})")
    return "\n".join(lines)


def render_change_text(change: Mapping[str, Any], *, color: bool = False) -> str:
    """One change as a Terraform-style block."""
    action, name = change["action"], change["route"]
    lines = [f"  # route {quote(name)} {_HEADLINES[action]}{_adopt_headline(change)}"]
    if change.get("reason"):
        lines.append(f"  # (because {clean(change['reason'])})")
    lines.append(f"  {_sign(_SIGNS[action], color)} route {quote(name)} {{")
    if action == "update":
        body = _update_lines(change)
    elif action == "adopt":
        body = _update_lines(change) + _label_lines(change)
    else:
        body = _spec_lines(change["spec"], _SIGNS[action])
    lines += _body_lines(body, color)
    lines.append("    }")
    return "\n".join(lines)


def _adopt_headline(change: Mapping[str, Any]) -> str:
    if change["action"] != "adopt":
        return ""
    owner = quote(change["labels"].get(LABEL_OWNER, "?"))
    if change["operations"]:
        return f" by owner {owner} and updated in-place"
    return f" by owner {owner} (its spec already matches)"


def _label_lines(change: Mapping[str, Any]) -> list[_Line]:
    """The ownership labels an adoption adds (the route's other labels stay as they are)."""
    labels = change["labels"]
    return [
        ("+", f"label {quote(key)} = {quote(labels[key])}", 0)
        for key in (LABEL_MANAGED_BY, LABEL_OWNER)
        if key in labels
    ]


def risk_notes(plan: Mapping[str, Any]) -> list[str]:
    """One sentence per risk of every change, in plan order."""
    return [_risk_note(change, risk) for change in plan["changes"] for risk in change["risks"]]


def render_apply_text(result: Mapping[str, Any]) -> str:
    """An apply report: a line per route with what became of it, then the totals line."""
    lines = []
    for outcome in result["results"]:
        done = outcome.get("result") or outcome["outcome"]
        word = _OUTCOME_WORDS.get(done, done)
        line = f"  route {quote(outcome['route'])} ({clean(outcome['action'])}): {clean(word)}"
        if outcome.get("attempts", 0) > 1:
            line += f" after {outcome['attempts']} attempts"
        # An applied route's message only restates the result ("created", "updated from …").
        if outcome.get("message") and outcome["outcome"] != "applied":
            line += f" — {clean(outcome['message'])}"
        lines.append(line)
    if result.get("journal"):
        lines.append(f"Journal: {clean(result['journal'])}")
    s = result["summary"]
    counts = result.get("counts") or {}
    # Deletes are counted as deletes: "applied" is what was created, updated or adopted.
    applied = counts.get("created", 0) + counts.get("updated", 0) + counts.get("adopted", 0)
    deleted = counts.get("deleted", 0)
    totals = (
        f"{applied} applied, {s['already-applied']} already applied, "
        f"{s['failed']} failed, {s['not-attempted']} not attempted"
        + (f", {deleted} deleted." if deleted else ".")
    )
    ok = s["failed"] == 0 and s["not-attempted"] == 0
    lines.append(("Apply complete: " if ok else "Apply failed: ") + totals)
    return "\n".join(lines)


def _sign(sign: str, color: bool) -> str:
    return f"{_COLORS[sign]}{sign}{_RESET}" if color and sign in _COLORS else sign


def _body_lines(body: list[_Line], color: bool) -> list[str]:
    shown = []
    for sign, text, depth in body:  # one loop, not a call per line: a plan has 100,000s
        indent = "      " + "    " * depth
        if sign == " ":
            shown.append(f"{indent}  {text}")
        else:
            shown.append(f"{indent}{_sign(sign, color) if color else sign} {text}")
    return shown


def _path_text(rule: Mapping[str, Any]) -> str:
    prefix, service = rule["prefix"], rule["route"]["service"]
    if isinstance(prefix, str) and isinstance(service, str):
        text = _prefix_to_service(prefix, service)
    else:  # a hand-edited saved plan
        text = f"path {quote(prefix)} -> {clean(service)}"
    if len(rule) > 2:  # options beside the prefix and the route (most paths have none)
        options = {k: v for k, v in rule.items() if k not in ("prefix", "route")}
        if options:
            shown = ", ".join(f"{clean(k)} = {_value(k, v)}" for k, v in options.items())
            text += " { " + shown + " }"
    return text


# 10,000 routes' paths are a few thousand (prefix, service) pairs, each shown many times.
@functools.lru_cache(maxsize=4096)
def _prefix_to_service(prefix: str, service: str) -> str:
    return f"path {quote(prefix)} -> {clean(service)}"


def _spec_lines(spec: Mapping[str, Any], sign: str) -> list[_Line]:
    lines = [(sign, f"host = {_value('host', spec['host'])}", 0)]
    lines += [(sign, _path_text(rule), 0) for rule in spec["routes"]]
    for key in ("corsPolicy", "tls", "validation"):
        flat = _flatten(spec.get(key), key)
        lines += [(sign, f"{clean(path)} = {_value(path, v)}", 0) for path, v in flat.items()]
    return lines


def _rule(spec: Mapping[str, Any] | None, op: Mapping[str, Any]) -> Mapping[str, Any]:
    # A saved plan may be hand-edited: fall back to what the operation itself says.
    rules: list[Mapping[str, Any]] = list((spec or {}).get("routes", ()))
    for rule in rules:
        if rule["prefix"] == op["prefix"]:
            return rule
    return {"prefix": op["prefix"], "route": {"service": op.get("service") or "?"}}


def _update_lines(change: Mapping[str, Any]) -> list[_Line]:
    ops = change["operations"]
    lines: list[_Line] = []
    if not any(op["op"] == "set-host" for op in ops):
        lines.append((" ", f"host = {_value('host', change['after']['host'])}", 0))
    for op in ops:
        kind = op["op"]
        if kind == "set-host":
            hosts = f"{_value('host', op['before'])} => {_value('host', op['after'])}"
            lines.append(("~", f"host = {hosts}", 0))
        elif kind == "add-path":
            lines.append(("+", _path_text(_rule(change["after"], op)), 0))
        elif kind == "remove-path":
            lines.append(("-", _path_text(_rule(change["before"], op)), 0))
        elif kind == "set-path-service":
            services = f"{clean(op['before'])} => {clean(op['after'])}"
            lines.append(("~", f"path {quote(op['prefix'])} -> {services}", 0))
        elif kind == "set-path-options":
            service = _rule(change["after"], op)["route"]["service"]
            lines.append(("~", f"path {quote(op['prefix'])} -> {clean(service)} {{", 0))
            nested = _attribute_lines(op["before"], op["after"], "", ())
            lines += [(sign, text, 1) for sign, text, _ in nested]
            lines.append((" ", "}", 0))
        else:
            root = {"set-cors": "corsPolicy", "set-tls": "tls", "set-validation": "validation"}
            changed = tuple(f"validation.{path}" for path in op.get("changed", ()))
            lines += _attribute_lines(op["before"], op["after"], root[kind], changed)
    return lines


def _attribute_lines(before: Any, after: Any, root: str, changed: tuple[str, ...]) -> list[_Line]:
    old, new = _flatten(before, root), _flatten(after, root)
    lines: list[_Line] = []
    for path in [*new, *(p for p in old if p not in new)]:
        if path not in new:
            lines.append(("-", f"{clean(path)} = {_value(path, old[path])}", 0))
        elif path not in old:
            lines.append(("+", f"{clean(path)} = {_value(path, new[path])}", 0))
        elif old[path] != new[path]:
            values = f"{_value(path, old[path])} => {_value(path, new[path])}"
            lines.append(("~", f"{clean(path)} = {values}", 0))
        elif path in changed:
            # A secret changed but redacts the same: say so without showing it.
            lines.append(("~", f"{clean(path)} = {_value(path, new[path])}", 0))
    return lines


def _flatten(value: Any, root: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return {root: value}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        out.update(_flatten(inner, f"{root}.{key}" if root else str(key)))
    return out


def _value(path: str, value: Any) -> str:
    if value == SENSITIVE and "passwordHashes" in path:
        return SENSITIVE
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(path, item) for item in value) + "]"
    return clean(json.dumps(value, ensure_ascii=False))


def _risk_note(change: Mapping[str, Any], risk: str) -> str:
    name = f"route {quote(change['route'])}"
    ops = change["operations"]
    if risk == "delete":
        return f"{name} will be deleted ({clean(change.get('reason') or 'no reason given')})"
    if risk == "host-changed":
        hosts = next(((op["before"], op["after"]) for op in ops if op["op"] == "set-host"), None)
        return (
            f"{name} moves from host {quote(hosts[0])} to {quote(hosts[1])}"
            if hosts
            else f"{name}: {clean(risk)}"
        )
    if risk == "path-removed":
        removed = ", ".join(quote(op["prefix"]) for op in ops if op["op"] == "remove-path")
        return f"{name} stops serving path {removed}"
    if risk == "cors-wildcard":
        return f'{name} allows CORS requests from any origin ("*")'
    if risk == "mtls-removed":
        return f"{name} no longer requires client certificates (mTLS removed)"
    if risk == "basic-auth-removed":
        return f"{name} no longer requires HTTP basic authentication"
    return f"{name}: {clean(risk)}"


def _unmanaged_section(plan: Mapping[str, Any]) -> str:
    if not plan["unmanaged"]:
        return ""
    lines = ["Unmanaged routes (not touched):"]
    for entry in plan["unmanaged"]:
        owner = f", owner {clean(entry['owner'])}" if entry.get("owner") else ""
        lines.append(f"  {clean(entry['route'])} (host {clean(entry['host'])}{owner})")
    return "\n".join(lines)


def _diagnostics_section(plan: Mapping[str, Any]) -> str:
    return "\n".join(diagnostic_line(d) for d in plan["diagnostics"])


def diagnostic_line(diagnostic: Mapping[str, Any]) -> str:
    """``Error: [P001] routes/shop.yaml:3: message`` (location only when known)."""
    word = _SEVERITY_WORDS.get(diagnostic["severity"], diagnostic["severity"].title())
    where = ""
    if diagnostic.get("file"):
        parts = [diagnostic["file"], diagnostic.get("line"), diagnostic.get("column")]
        where = clean(":".join(str(p) for p in parts if p is not None)) + ": "
    return f"{word}: [{clean(diagnostic['code'])}] {where}{clean(diagnostic['message'])}"
