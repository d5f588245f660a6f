"""``routes show PLANFILE``: render a saved plan, checked as ``routes apply`` checks it."""

from __future__ import annotations

from reconciler.apply.saved_plan import read_plan_file
from reconciler.commands.common import Echo, Write, print_plan
from reconciler.errors import EXIT_OK


def show(plan_file: str, fmt: str, *, color: bool, echo: Echo, write: Write | None = None) -> int:
    """Print the saved plan in ``text``, ``markdown`` or ``json`` form."""
    print_plan(read_plan_file(plan_file), fmt, color, None, echo=echo, write=write)
    return EXIT_OK
