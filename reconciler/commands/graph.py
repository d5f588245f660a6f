"""``routes graph``: the whole routing table as a Mermaid flowchart or Graphviz DOT."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo
from reconciler.commands.routing import read_table
from reconciler.errors import EXIT_OK

if TYPE_CHECKING:
    from reconciler.config import Settings


def graph(
    load_settings: Callable[[], Settings],
    paths: Sequence[str],
    *,
    live: bool,
    fmt: str,
    echo: Echo,
) -> int:
    """Print host -> prefix -> service for every rule (serving order within a host)."""
    from reconciler.render.mermaid import table_dot, table_flowchart

    table = read_table(load_settings(), paths, live=live, echo=echo).routes
    rules = [
        (host, rule.prefix, rule.service) for host in table.hosts for _, rule in table.rules(host)
    ]
    echo(table_dot(rules) if fmt == "dot" else table_flowchart(rules))
    return EXIT_OK
