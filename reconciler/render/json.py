"""Plan -> JSON (DESIGN §6), and the check of a plan dict against schemas/plan.schema.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import reconciler
from reconciler.plan import Plan

if TYPE_CHECKING:
    import jsonschema

PLAN_SCHEMA = Path(reconciler.__file__).parent / "schemas" / "plan.schema.json"


def render_plan_json(plan: Plan) -> str:
    """The plan file form: ``Plan.to_dict()`` as indented JSON with a trailing newline."""
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def plan_schema_errors(plan: Mapping[str, Any]) -> list[str]:
    """Every way ``plan`` breaks the plan schema, as ``location: message`` lines; [] if valid."""
    import jsonschema  # only when a plan file is read: writing one needs no validator

    problems = []
    for found in _validator().iter_errors(plan):
        # "not valid under any of the given schemas" helps nobody: name the deepest cause.
        error = jsonschema.exceptions.best_match([found]) or found
        where = "/".join(str(part) for part in error.absolute_path) or "(plan)"
        problems.append(f"{where}: {error.message}")
    return sorted(problems)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    # Read once: the packaged schema does not change while the process runs.
    schema = json.loads(PLAN_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)
