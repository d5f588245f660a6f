"""The control-plane API's JSON answers -> canonical values, refusing what the API never sends.

A server is outside our control, so every answer is checked for its types here, and every
route spec passes the one spec validation as it arrived, before ``RouteSpec.from_dict``
canonicalises it (which would drop an unknown field, read ``5`` as the service ``"5"`` or
keep one of two rules for the same prefix): an error the canonical form would hide is
refused here, whoever owns the route; the others stay in sight, for ``CheckedBackend`` to
judge by its ownership policy. What fails is a ``BackendError`` naming the server and the
route; never a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.descriptors.spec_check import (
    SpecProblem,
    hidden_errors,
    known_spec,
    problem_summary,
)
from reconciler.errors import BackendError
from reconciler.model import Condition, LiveRoute, RouteSpec, canonical_json_of
from reconciler.quoting import quote

API_HINT = "check that --backend points at `routes serve` or a compatible control plane"
REFUSED_HINT = (
    "fix or delete that route on the backend (its spec could not come from a descriptor), "
    "then run the command again; nothing was written"
)


def not_the_api(url: str, doing: str, why: str) -> BackendError:
    """The error for an answer to ``doing`` that the routes API would never give."""
    return BackendError(
        f"{url} answered {doing} with something that is not the routes API ({why})",
        hint=API_HINT,
    )


def live_route(raw: Any, url: str) -> LiveRoute:
    """One route of an answer, its spec validated as it came, then canonical."""
    if not isinstance(raw, dict):
        raise _unreadable(url, f"a route is {_kind(raw)}, not an object")
    name = raw.get("name")
    if not isinstance(name, str):
        raise _unreadable(url, f"a route's `name` is {_kind(name)}, not a string")
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        raise _unreadable(url, f"route {quote(name[:100])} has a `spec` that is {_kind(spec)}")
    version = raw.get("version")
    if not isinstance(version, str | int) or isinstance(version, bool):
        raise _unreadable(url, f"route {quote(name[:100])}'s `version` is {_kind(version)}")
    return LiveRoute(
        name=name,
        spec=_spec(spec, name, url),
        version=str(version),
        labels=_strings(raw.get("labels"), "labels", name, url),
        annotations=_strings(raw.get("annotations"), "annotations", name, url),
        conditions=_conditions(raw.get("status"), name, url),
    )


def _spec(spec: dict[str, Any], name: str, url: str) -> RouteSpec:
    # A spec that is, as canonical text, one just loaded from the descriptors is that spec
    # (it passed this validation then); any other is validated as it came.
    try:
        known = known_spec(canonical_json_of(spec))
    except (TypeError, ValueError, RecursionError):  # not JSON-able as text: judged below
        known = None
    if known is not None:
        return known
    problems = hidden_errors(spec)
    if problems:
        raise refused_route(url, name, problems)
    return RouteSpec.from_dict(spec)


def refused_route(url: str, name: str, problems: list[SpecProblem]) -> BackendError:
    """The error for a route whose spec ``routes validate`` would refuse: the first problem."""
    return BackendError(
        f"{url} returned route {quote(name[:100])} that routes refuses: "
        f"{problem_summary(problems)}",
        hint=REFUSED_HINT,
    )


def page_of(raw: Any, url: str) -> tuple[list[Any], str | None]:
    """The ``items`` of one page of ``GET /v1/routes`` and its ``nextPageToken`` (None: last)."""
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise not_the_api(url, "list routes", "no `items` list")
    token = raw.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise not_the_api(url, "list routes", f"`nextPageToken` is {_kind(token)}")
    return items, token or None


STORE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def store_id(raw: Any, url: str) -> str:
    """The id of ``GET /v1/store``: a short token of letters, digits and ``.-_:``."""
    found = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(found, str) or not STORE_ID_PATTERN.fullmatch(found):
        raise not_the_api(url, "read the store id", "`id` is not a short id string")
    return found


def registered_hostnames(raw: Any, url: str) -> set[str] | None:
    """The hostnames of ``GET /v1/hostnames`` in ``registered`` mode; None in ``any`` mode."""
    if not isinstance(raw, dict):
        raise not_the_api(url, "list hostnames", f"the answer is {_kind(raw)}, not an object")
    if raw.get("mode") != "registered":
        return None
    items = raw.get("items")
    if items is None:
        return set()
    if not isinstance(items, list):
        raise not_the_api(url, "list hostnames", f"`items` is {_kind(items)}, not a list")
    found: set[str] = set()
    for item in items:
        hostname = item.get("hostname") if isinstance(item, dict) else None
        if not isinstance(hostname, str):
            raise not_the_api(url, "list hostnames", "an item has no `hostname` string")
        found.add(hostname)
    return found


def _strings(raw: Any, field: str, name: str, url: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise _unreadable(url, f"the {field} of route {quote(name[:100])} are not strings")
    return dict(raw)


def _conditions(raw: Any, name: str, url: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    conditions = raw.get("conditions") if isinstance(raw, dict) else False
    if conditions is None:
        return ()
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        raise _unreadable(url, f"the status of route {quote(name[:100])} is not a condition list")
    return tuple(Condition.from_dict(c) for c in conditions)


def _unreadable(url: str, why: str) -> BackendError:
    return BackendError(f"{url} answered with a route that cannot be read ({why})", hint=API_HINT)


def _kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "missing"
    return kinds.get(type(value), "a number")
