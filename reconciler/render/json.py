"""Plan -> JSON: the plan file form and ``--format json``. Renders only; reading and checking
a plan file is ``reconciler.apply.saved_plan``."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.quoting import json_text

__all__ = [
    "render_plan_json",
]


def render_plan_json(plan: Plan) -> str:
    """The plan file form: ``Plan.to_dict()`` as indented JSON with a trailing newline."""
    return json_text(plan.to_dict()) + "\n"
