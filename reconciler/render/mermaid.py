"""Routing pictures: the changed hosts of a plan as a Mermaid flowchart (GitHub draws it in
a PR comment), and a whole routing table as Mermaid or Graphviz DOT. Pure.

Nodes get generated ids, so a name is never Mermaid or DOT syntax: it only ever appears in
a quoted label, where Mermaid labels have every character but letters, digits and a few
safe signs written as an entity code (``#quot;``, ``#35;``) and DOT labels escape ``"`` and
``\\``. Control characters are escaped first, as everywhere (``reconciler.quoting``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.quoting import clean

__all__ = [
    "MAX_EDGES",
    "dot_label",
    "flowchart",
    "mermaid_label",
    "plan_edges",
    "plan_flowchart",
    "table_dot",
    "table_flowchart",
]

MAX_EDGES = 300  # a bigger picture is unreadable (and GitHub refuses very large diagrams)
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ./-_:")
_NAMED = {'"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;"}
# linkStyle colours by edge status (GitHub's green and red).
_STYLE = {
    "added": "stroke:#1a7f37",
    "removed": "stroke:#cf222e,stroke-dasharray:4",
    "was": "stroke:#cf222e,stroke-dasharray:4",
}

# (host, prefix, service, status): status is unchanged | added | removed | retargeted, or
# was (the service a retargeted prefix had).
Edge = tuple[str, str, str, str]


def mermaid_label(value: object) -> str:
    """``value`` as a quoted Mermaid label: shown as written, never read as syntax."""
    shown = clean(value)
    return '"' + "".join(c if c in _SAFE else _NAMED.get(c, f"#{ord(c)};") for c in shown) + '"'


def dot_label(value: object) -> str:
    """``value`` as a quoted DOT string (``\\`` and ``"`` escaped: no ``\\n`` or ``\\l``)."""
    return '"' + clean(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan_edges(plan: Mapping[str, Any]) -> list[Edge]:
    """host -> prefix -> service edges of every changed host, each with its status."""
    edges: list[Edge] = []
    for host in plan.get("traffic") or ():
        for rule in host["rules"]:
            before, after = rule["before"], rule["after"]
            if before and after and before["service"] != after["service"]:
                edges.append((host["host"], rule["prefix"], before["service"], "was"))
                edges.append((host["host"], rule["prefix"], after["service"], "retargeted"))
            elif before and after:
                edges.append((host["host"], rule["prefix"], after["service"], "unchanged"))
            elif after:
                edges.append((host["host"], rule["prefix"], after["service"], "added"))
            elif before:
                edges.append((host["host"], rule["prefix"], before["service"], "removed"))
    return edges


def plan_flowchart(plan: Mapping[str, Any]) -> str:
    """The changed hosts of a plan as Mermaid; "" when the plan changes no host."""
    edges = plan_edges(plan)
    return flowchart(edges) if edges else ""


def table_flowchart(rules: Iterable[tuple[str, str, str]]) -> str:
    """A whole routing table, (host, prefix, service) rules, as a Mermaid flowchart."""
    return flowchart([(host, prefix, service, "unchanged") for host, prefix, service in rules])


def flowchart(edges: Sequence[Edge]) -> str:
    """Mermaid ``flowchart LR`` text: host -> prefix -> service, statuses marked."""
    ids = _Ids()
    lines = ["flowchart LR"]
    links: list[str] = []
    for host, prefix, service, status in edges[:MAX_EDGES]:
        h, p, s = ids.get("h", host), ids.get("p", host, prefix), ids.get("s", service)
        for node, label in ((h, host), (p, prefix), (s, service)):
            if ids.new(node):
                lines.append(f"  {node}[{mermaid_label(label)}]")
        if ids.new(f"{h}->{p}"):
            lines.append(f"  {h} --> {p}")
            links.append("unchanged")
        arrow = {"added": "==>", "retargeted": "==>", "removed": "-.->", "was": "-.->"}
        arrow["unchanged"] = "-->"
        mark = "" if status == "unchanged" else f"|{mermaid_label(status)}|"
        lines.append(f"  {p} {arrow[status]}{mark} {s}")
        links.append("added" if status == "retargeted" else status)
    lines += [f"  linkStyle {i} {_STYLE[kind]}" for i, kind in enumerate(links) if kind in _STYLE]
    if len(edges) > MAX_EDGES:
        note = f"{len(edges) - MAX_EDGES} more rules not drawn"
        lines.append(f"  more[{mermaid_label(note)}]")
    return "\n".join(lines)


def table_dot(rules: Iterable[tuple[str, str, str]]) -> str:
    """A whole routing table as a Graphviz ``digraph``."""
    ids = _Ids()
    lines = ["digraph routes {", "  rankdir=LR;"]
    for host, prefix, service in rules:
        h, p, s = ids.get("h", host), ids.get("p", host, prefix), ids.get("s", service)
        for node, label, shape in ((h, host, "box"), (p, prefix, "plain"), (s, service, "ellipse")):
            if ids.new(node):
                lines.append(f"  {node} [label={dot_label(label)}, shape={shape}];")
        if ids.new(f"{h}->{p}"):
            lines.append(f"  {h} -> {p};")
        lines.append(f"  {p} -> {s};")
    lines.append("}")
    return "\n".join(lines)


class _Ids:
    """Stable generated node ids (``h1``, ``p3``, ``s2``) for names of any content."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, ...], str] = {}
        self._seen: set[str] = set()

    def get(self, kind: str, *key: str) -> str:
        found = self._ids.get((kind, *key))
        if found is None:
            found = self._ids[(kind, *key)] = f"{kind}{len(self._ids) + 1}"
        return found

    def new(self, node: str) -> bool:
        """True the first time ``node`` is asked about."""
        if node in self._seen:
            return False
        self._seen.add(node)
        return True
