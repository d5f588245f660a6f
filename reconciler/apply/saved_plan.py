"""Saved plans: write one, read one and check it, and check the routes it would write.

Getting one ready to apply against a backend is ``commands/apply.py``'s job."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.descriptors.schema import load_schema
from reconciler.descriptors.spec_check import route_problems, spec_errors
from reconciler.errors import PlanError
from reconciler.model import SENSITIVE, RouteSpec
from reconciler.plan import Change, Operation, Plan
from reconciler.quoting import quote
from reconciler.regular_files import NotRegularFileError, open_regular, write_atomic
from reconciler.spec_diff import compute_operations, risks

if TYPE_CHECKING:
    import jsonschema

MAX_PLAN_DEPTH = 64  # a real plan nests about ten levels; a deeper one would only recurse
_WRITTEN_BY_PLAN = "pass the file written by `routes plan --out FILE`"


def write_plan_file(plan: Plan, out: str) -> None:
    """Write the plan JSON atomically: a reader never sees half a plan."""
    from reconciler.render.json import plan_json_chunks

    target = Path(out)
    if not target.parent.is_dir():  # a typo in the folder must not leave a plan astray
        raise PlanError(
            f"cannot write plan file {out}: folder {target.parent} does not exist",
            hint="create the folder first, or pass another --out",
        )
    try:
        write_atomic(target, plan_json_chunks(plan), mode=0o600)  # CI uploads plans
    except OSError as exc:
        raise PlanError(f"cannot write plan file {out}: {exc.strerror}") from exc


def read_plan_file(path: str) -> Plan:
    """Read and check a saved plan file; a broken or foreign file is a clear error."""
    raw = _read_plan_json(path)
    if not isinstance(raw, dict):
        errors = ["the document is not an object"]
    elif _nests_deeper(raw, MAX_PLAN_DEPTH):
        errors = [f"it nests too deeply (over {MAX_PLAN_DEPTH} levels)"]
    else:
        _refuse_invalid_specs(path, raw)
        errors = plan_schema_errors(raw)
    if errors:
        shown = "; ".join(errors[:3])
        raise PlanError(
            f"{path} is not a valid plan file: {shown}",
            hint="pass the file written by `routes plan --out FILE` of this version of routes",
        )
    read = Plan.from_dict(raw)
    return replace(read, changes=tuple(derived(change) for change in read.changes))


def derived(change: Change) -> Change:
    """``change`` with its operations and risks derived from its ``before`` and ``after``,
    never taken from the file: what ``show`` renders is what apply would write.

    A secret is redacted on both sides, so only its ``changed`` mark comes from the file
    (for users on both sides); apply re-derives the plan and checks that mark too."""
    before = RouteSpec.from_dict(change.before) if change.before is not None else None
    after = RouteSpec.from_dict(change.after) if change.after is not None else None
    operations: tuple[Operation, ...] = ()
    if change.action == "update" and before is not None and after is not None:
        operations = _with_secret_marks(compute_operations(before, after), change, before, after)
    return replace(change, operations=operations, risks=risks(before, after))


def _with_secret_marks(
    operations: tuple[Operation, ...], change: Change, before: RouteSpec, after: RouteSpec
) -> tuple[Operation, ...]:
    marked = {name for op in change.operations for name in op.changed}
    users = _users(before) & _users(after)
    changed = tuple(sorted(name for name in marked if name.removeprefix(_HASH_FIELD) in users))
    if not changed:
        return operations
    kept = [op for op in operations if op.op != "set-validation"]
    validation = after.validation.to_dict(redact=True) if after.validation else None
    old = before.validation.to_dict(redact=True) if before.validation else None
    return (*kept, Operation("set-validation", before=old, after=validation, changed=changed))


_HASH_FIELD = "httpBasic.passwordHashes."


def _users(spec: RouteSpec) -> set[str]:
    basic = spec.validation.http_basic if spec.validation else None
    return {user for user, _ in basic.password_hashes} if basic else set()


def _read_plan_json(path: str) -> Any:
    """The JSON document in ``path``, read only if it is a regular file."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(mode)
        with open_regular(path) as stream:
            return json.loads(stream.read().decode("utf-8"))
    except FileNotFoundError as exc:
        raise PlanError(
            f"plan file {path} not found", hint="make one with `routes plan --out`"
        ) from exc
    except NotRegularFileError as exc:
        raise PlanError(f"{path} is {exc.kind}, not a plan file", hint=_WRITTEN_BY_PLAN) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(
            f"{path} is not a plan file (not JSON: {exc})", hint=_WRITTEN_BY_PLAN
        ) from exc
    except RecursionError:
        raise PlanError(
            f"{path} is not a valid plan file: it nests too deeply", hint=_WRITTEN_BY_PLAN
        ) from None
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror}") from exc


def _nests_deeper(document: Any, limit: int) -> bool:
    """True when ``document`` has arrays or objects more than ``limit`` levels deep."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            items = value.values() if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)
    return False


# A plan holds no secret: its hashes are this placeholder. For the spec check they stand for
# a well-formed hash; the plan schema then insists that nothing but the placeholder is there.
_PLACEHOLDER_HASH = "sha256:" + "A" * 43 + "="


def _refuse_invalid_specs(path: str, raw: dict[str, object]) -> None:
    """Every spec a plan file carries passes the one spec validation, codes and all."""
    changes = raw.get("changes")
    for index, change in enumerate(changes if isinstance(changes, list) else []):
        if not isinstance(change, dict):
            continue
        for side in ("before", "after", "spec"):
            spec = change.get(side)
            if not isinstance(spec, dict):
                continue
            problems = spec_errors(_placeholders_as_hashes(spec))
            if problems:
                first = problems[0]
                where = "".join(f"/{step}" for step in first.path)
                raise PlanError(
                    f"{path} is not a valid plan file: changes/{index}/{side}{where} "
                    f"(route {quote(str(change.get('route'))[:100])}): {first.code}: "
                    f"{first.message}",
                    hint="the plan file was edited or damaged; run `routes plan` again",
                )


def _placeholders_as_hashes(spec: dict[str, Any]) -> dict[str, Any]:
    basic = (
        (spec.get("validation") or {}).get("httpBasic")
        if isinstance(spec.get("validation"), dict)
        else None
    )
    if not isinstance(basic, dict) or not isinstance(basic.get("passwordHashes"), dict):
        return spec
    hashes = {
        user: _PLACEHOLDER_HASH if digest == SENSITIVE else digest
        for user, digest in basic["passwordHashes"].items()
    }
    validation = {**spec["validation"], "httpBasic": {**basic, "passwordHashes": hashes}}
    return {**spec, "validation": validation}


def refuse_invalid_routes(path: str, the_plan: Plan, specs: dict[str, RouteSpec]) -> None:
    """Every route the plan would write or delete passes the one spec validation."""
    for change in the_plan.changes:
        spec = specs.get(change.route)
        problems = route_problems(change.route, spec.to_dict() if spec else None)
        if problems:
            first = problems[0]
            where = "".join(f"/{step}" for step in first.path) or "/"
            raise PlanError(
                f"{path} would write route {quote(change.route[:100])} that routes refuses: "
                f"{first.code} at {where}: {first.message}",
                hint="the plan file was edited or damaged; run `routes plan` again",
            )


def is_plan_file(paths: Sequence[str]) -> bool:
    """One file that is not YAML: `plan --out` takes any name, so a non-.json one counts
    when it reads as a JSON object."""
    if len(paths) != 1:
        return False
    if paths[0].endswith(".json"):  # a FIFO named like a plan is refused as a plan
        return os.path.exists(paths[0]) and not os.path.isdir(paths[0])
    if not Path(paths[0]).is_file() or paths[0].endswith((".yaml", ".yml")):
        return False
    with contextlib.suppress(OSError), open_regular(paths[0]) as stream:
        return stream.read(64).lstrip().startswith(b"{")
    return False


def plan_schema_errors(plan: Mapping[str, Any]) -> list[str]:
    """Every way ``plan`` breaks the plan schema, as ``location: message`` lines; [] if valid.

    ``jsonschema-rs`` (compiled: about 150x faster on a plan of 1,000 routes) decides;
    ``jsonschema`` names the faults of a plan it refuses (a plan only it refuses is refused
    all the same)."""
    import jsonschema  # only when a plan file is read: writing one needs no validator

    if _fast_plan_validator().is_valid(plan):
        return []
    problems = []
    for found in _plan_validator().iter_errors(plan):
        # "not valid under any of the given schemas" helps nobody: name the deepest cause.
        error = jsonschema.exceptions.best_match([found]) or found
        where = "/".join(str(part) for part in error.absolute_path) or "(plan)"
        problems.append(f"{where}: {error.message}")
    return sorted(problems) or ["(plan): refused by the compiled schema validator"]


@lru_cache(maxsize=1)
def _fast_plan_validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(_plan_schema())


@lru_cache(maxsize=1)
def _plan_schema() -> dict[str, Any]:
    # Read once: the packaged schema does not change while the process runs.
    return load_schema("plan.schema.json")


@lru_cache(maxsize=1)
def _plan_validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(_plan_schema())
