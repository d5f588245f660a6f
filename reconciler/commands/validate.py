"""``routes validate``: check descriptors against the schema and the semantic rules."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo, load_source
from reconciler.errors import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from reconciler.config import Settings


def validate(
    load_settings: Callable[[], Settings],
    paths: Sequence[str],
    fmt: str,
    *,
    echo: Echo,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Print every diagnostic in ``text``, ``json`` or ``github`` form; 1 when any is an error.

    The ``github`` form names files relative to ``GITHUB_WORKSPACE``, as annotations need.
    """
    from reconciler.render import diagnostics as render

    source = load_source(load_settings(), paths)
    diags = source.load.diagnostics
    if fmt == "json":
        echo(render.render_json(diags, len(source.load.files)))
    elif fmt == "github":
        workspace = (os.environ if environ is None else environ).get("GITHUB_WORKSPACE")
        out = render.render_github(render.workspace_relative(diags, workspace))
        if out:
            echo(out)
    else:
        echo(render.render_text(diags, len(source.load.files)))
    return EXIT_ERROR if source.load.has_errors else EXIT_OK
