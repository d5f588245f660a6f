"""Saved plans: write one, read and check one, and get it ready to apply exactly."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import PlanError
from reconciler.model import SENSITIVE, RouteSpec
from reconciler.plan import Plan

if TYPE_CHECKING:
    from reconciler.backends.base import Backend
    from reconciler.config import Settings


def write_plan_file(plan: Plan, out: str) -> None:
    """Write the plan JSON atomically: a reader never sees half a plan."""
    from reconciler.render.json import render_plan_json

    target = Path(out)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(render_plan_json(plan), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        raise PlanError(f"cannot write plan file {out}: {exc.strerror}") from exc


def read_plan_file(path: str) -> Plan:
    """Read and check a saved plan file; a broken or foreign file is a clear error."""
    from reconciler.render.json import plan_schema_errors

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlanError(
            f"plan file {path} not found", hint="make one with `routes plan --out`"
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(
            f"{path} is not a plan file (not JSON: {exc})",
            hint="pass the file written by `routes plan --out FILE`",
        ) from exc
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror}") from exc
    errors = plan_schema_errors(raw) if isinstance(raw, dict) else ["the document is not an object"]
    if errors:
        shown = "; ".join(errors[:3])
        raise PlanError(
            f"{path} is not a valid plan file: {shown}",
            hint="pass the file written by `routes plan --out FILE` of this version of routes",
        )
    return Plan.from_dict(raw)


def prepare_saved_plan(
    settings: Settings, path: str, the_plan: Plan, backend: Backend
) -> dict[str, RouteSpec]:
    """The full specs to write, once the plan is proven applicable to ``backend`` as it is.

    Refuses a plan with errors, a plan made for another backend, a plan whose secrets the
    descriptors no longer prove, and a stale plan; nothing is written in any of these cases.
    """
    from reconciler import applier

    if the_plan.has_errors:
        raise PlanError(f"{path} was made from descriptors with errors; it cannot be applied")
    if backend.url != the_plan.backend:
        raise PlanError(
            f"{path} was made for backend {the_plan.backend}, but the backend is {backend.url}",
            hint="apply it with the same --backend / ROUTES_BACKEND / config it was planned with",
        )
    loaded = None
    if any(SENSITIVE in str(change.after) for change in the_plan.changes):
        loaded = _load_plan_source(settings, the_plan)
    specs = applier.resolve_desired_specs(the_plan, loaded)
    applier.check_fresh(the_plan, backend)
    return specs


def _load_plan_source(settings: Settings, the_plan: Plan) -> dict[str, RouteSpec]:
    # Secrets are not in the plan: the descriptors it was made from must supply them.
    from reconciler.workflow import load_source

    paths = [str(settings.resolve(p)) for p in the_plan.source_paths]
    source = load_source(settings, paths)
    return {name: route.spec for name, route in source.load.routes.items()}


def open_saved_plan(settings: Settings, path: str) -> tuple[Plan, Backend, dict[str, RouteSpec]]:
    """Read a saved plan and open its backend, once the plan is proven applicable there."""
    from reconciler.backends import open_backend

    the_plan = read_plan_file(path)
    backend = open_backend(settings.backend, settings)
    try:
        specs = prepare_saved_plan(settings, path, the_plan, backend)
    except BaseException:
        backend.close()
        raise
    return the_plan, backend, specs


def is_plan_file(paths: Sequence[str]) -> bool:
    """One file that is not YAML: `plan --out` takes any name, so a non-.json one counts
    when it reads as a JSON object."""
    if len(paths) != 1 or not Path(paths[0]).is_file():
        return False
    if paths[0].endswith(".json"):
        return True
    if paths[0].endswith((".yaml", ".yml")):
        return False
    with contextlib.suppress(OSError), open(paths[0], "rb") as stream:
        return stream.read(64).lstrip().startswith(b"{")
    return False
