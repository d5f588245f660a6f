"""``routes explain URL...``: which route, rule and service serve each request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo
from reconciler.commands.routing import read_table
from reconciler.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from reconciler.config import Settings


def explain(
    load_settings: Callable[[], Settings],
    urls: Sequence[str],
    *,
    paths: Sequence[str],
    live: bool,
    fmt: str,
    echo: Echo,
) -> int:
    """Print, per URL, what serves it (or that nothing does: 404). URLs are checked first."""
    from reconciler.descriptors.expectations import BadUrl, parse_url
    from reconciler.render.explain import explanation, render_explain_text

    if not urls:
        raise UsageError("give at least one URL", hint="routes explain https://HOST/PATH")
    targets = []
    for url in urls:
        try:
            targets.append(parse_url(url))
        except BadUrl as exc:
            raise UsageError(str(exc)) from None
    table = read_table(load_settings(), paths, live=live, echo=echo)
    explained = [
        explanation(
            t.url,
            t.host,
            t.path,
            table.routes.match(t.host, t.path),
            table.where,
            table.routes.routes_on(t.host),
        )
        for t in targets
    ]
    if fmt == "json":
        from reconciler.quoting import json_text

        echo(json_text({"from": table.origin, "requests": explained}))
    else:
        echo(render_explain_text(explained))
    return EXIT_OK
