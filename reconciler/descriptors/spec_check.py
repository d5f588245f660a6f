"""The one validation of a route spec, used at every door.

The descriptor loader, ``PUT /v1/routes/{name}`` in ``routes serve``, every route a saved
plan would write and every route read back from a backend all call ``check_spec``, so a
spec that one door refuses, every door refuses, with the same code. First the JSON Schema
(shape and types), then what the schema cannot say but the platform refuses. Messages
quote values escaped (``reconciler.quoting``): a refused value is often hostile.

The specs the loader gave, and those a backend answered that passed it (``CheckedBackend``),
are remembered by canonical JSON text (``remember``): every one has passed this validation
(or was replayed from the descriptor cache, which holds only what it gave). A route a
backend answers whose spec text is, byte for byte, the canonical text of one of them is
that very spec (``known_spec``, ``is_known``): it needs no second parse and no second
validation, and the plan compares it by identity. Any other text is parsed and
validated. The table holds its specs weakly, so it forgets a spec as soon as
nothing else holds it and a long-running process never grows with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from weakref import WeakValueDictionary

from reconciler.descriptors import schema
from reconciler.descriptors.schema import SchemaProblem as SpecProblem
from reconciler.descriptors.spec_rules import (
    check_cors,
    check_host,
    check_rules,
    check_tls,
    check_validation,
    host_problem,
    route_name_problem,
)
from reconciler.diagnostics import CODES
from reconciler.model import RouteSpec

__all__ = [
    "SCHEMA_CODES",
    "SpecProblem",
    "check_spec",
    "hidden_errors",
    "host_problem",
    "is_known",
    "known_spec",
    "problem_summary",
    "remember",
    "route_name_problem",
    "route_problems",
    "spec_errors",
]

Path = tuple[str | int, ...]
# How a problem refers to another node of the same spec: "line 7" in a file, a JSON
# pointer in an API answer.
Refer = Callable[[Path], str]

# The codes of schema violations: a spec with one of them has no canonical form to keep.
SCHEMA_CODES = frozenset({"R012", "R013", "R014", "R015", "R016", "R017", "R018"})


def _pointer(path: Path) -> str:
    return "".join(f"/{step}" for step in path)


def check_spec(descriptor: Any, refer: Refer = _pointer) -> list[SpecProblem]:
    """Every problem of one route descriptor: schema violations, or else the platform's rules.

    Errors and warnings both; ``spec_errors`` keeps the errors.
    """
    problems = schema.check(descriptor)
    if problems:
        return problems
    return [
        *check_host(descriptor),
        *check_rules(descriptor, refer),
        *check_cors(descriptor),
        *check_tls(descriptor),
        *check_validation(descriptor),
    ]


def spec_errors(descriptor: Any, refer: Refer = _pointer) -> list[SpecProblem]:
    """The problems of ``check_spec`` that make the spec unusable (severity error)."""
    return [p for p in check_spec(descriptor, refer) if CODES[p.code][0] == "error"]


def hidden_errors(descriptor: Any) -> list[SpecProblem]:
    """The errors of ``descriptor`` that its canonical form would not show: an unknown field
    or a wrong type (dropped or coerced), a prefix twice (one kept), a value normalised into
    another (a method upper-cased to POST). A spec a backend answers or a store holds is
    judged with this before ``RouteSpec.from_dict``; every other error stays in sight."""
    errors = spec_errors(descriptor)
    if not errors:
        return []
    try:
        canonical = RouteSpec.from_dict(descriptor).to_dict()
    except (AttributeError, KeyError, TypeError, ValueError):
        return errors  # no canonical form at all
    kept = {(p.code, p.message) for p in spec_errors(canonical)}
    return [p for p in errors if p.code == "R015" or (p.code, p.message) not in kept]


def problem_summary(problems: list[SpecProblem]) -> str:
    """The first of ``problems`` as ``CODE at /pointer: message``, and how many more."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first.code} at {_pointer(first.path) or '/'}: {first.message}{more}"


def route_problems(name: str, descriptor: Any = None) -> list[SpecProblem]:
    """The errors that keep route ``name`` with ``descriptor`` (None: a delete, the name
    only) from any door, R009 first."""
    problem = route_name_problem(name)
    named = [SpecProblem("R009", problem, ())] if problem else []
    return named + (spec_errors(descriptor) if descriptor is not None else [])


_BY_TEXT: WeakValueDictionary[str, RouteSpec] = WeakValueDictionary()


def remember(specs: Iterable[RouteSpec]) -> None:
    """Record loaded (validated) specs under their canonical text."""
    for spec in specs:
        _BY_TEXT[spec.canonical_json()] = spec


def known_spec(text: str) -> RouteSpec | None:
    """The loaded spec whose canonical text is exactly ``text``; None when there is none."""
    return _BY_TEXT.get(text)


def is_known(spec: RouteSpec) -> bool:
    """Whether ``spec`` is itself one of the remembered specs (not merely equal to one)."""
    return _BY_TEXT.get(spec.canonical_json()) is spec
