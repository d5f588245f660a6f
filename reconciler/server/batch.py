"""``POST /v1/routes:batchWrite``: many route PUTs and DELETEs in one request, one transaction.

Each item is the request it stands for, ``PUT`` or ``DELETE /v1/routes/{name}``, with its
condition in the item (``ifMatch``: a version or ``*``; ``ifNoneMatch``: ``*``), and is
answered as that request would be: its status and its route or its error. A PUT item must
carry a condition, so a batch sent again after its answer was lost never writes twice (the
items it wrote answer 412). Envelope problems (not a list, too many items, a bad or repeated
name, a bad condition) refuse the whole batch with 400; what a single PUT would refuse with
422 (its spec, labels, unknown fields) is that item's answer, and the others are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.errors import ConflictError, NotFoundError, RoutesError
from reconciler.quoting import unsafe_char
from reconciler.server.wire import ApiError, check_route_name, route_json, route_write
from reconciler.store import RouteWrite, StoredRoute

MAX_BATCH_WRITES = 1000
MAX_BATCH_BODY = 8 * 1024 * 1024
MAX_VERSION = 128
_ITEM_KEYS = {"method", "name", "ifMatch", "ifNoneMatch"}


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch, checked: the store write it asks for, or the 422 it gets."""

    method: Literal["PUT", "DELETE"]
    name: str
    expected: str | None  # ifMatch: a version, or "*"
    write: RouteWrite | None  # None when ``refused``
    refused: ApiError | None = None


def batch_items(body: Any) -> list[BatchItem]:
    """The items of a batch body, in order; ``ApiError`` 400 for a malformed batch."""
    if not isinstance(body, dict) or set(body) != {"writes"}:
        raise _invalid("", 'the body must be {"writes": [...]}, one item per route')
    writes = body["writes"]
    if not isinstance(writes, list):
        raise _invalid("/writes", "`writes` must be a list of items")
    if len(writes) > MAX_BATCH_WRITES:
        raise _invalid(
            "/writes",
            f"a batch holds at most {MAX_BATCH_WRITES} writes (got {len(writes)}): split it",
        )
    items: list[BatchItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(writes):
        item = _item(raw, f"/writes/{index}")
        if item.name in seen:
            raise _invalid(
                f"/writes/{index}/name",
                f"route {item.name!r} appears twice in the batch: send one write per route",
            )
        seen.add(item.name)
        items.append(item)
    return items


def _item(raw: Any, where: str) -> BatchItem:
    if not isinstance(raw, dict):
        raise _invalid(where, "each item must be an object with `method` and `name`")
    method = raw.get("method")
    if method not in ("PUT", "DELETE"):
        raise _invalid(f"{where}/method", '`method` must be "PUT" or "DELETE"')
    name = raw.get("name")
    if not isinstance(name, str):
        raise _invalid(f"{where}/name", "`name` must be a route name")
    try:
        check_route_name(name)
    except ApiError as exc:
        details = [{"pointer": f"{where}/name", "message": exc.message}]
        raise ApiError(400, exc.code, exc.message, details) from None
    expected = _version(raw, f"{where}/ifMatch")
    none_match = raw.get("ifNoneMatch")
    if "ifNoneMatch" in raw and none_match != "*":
        raise _invalid(f"{where}/ifNoneMatch", '`ifNoneMatch` can only be "*"')
    if method == "DELETE":
        extra = sorted(set(raw) - {"method", "name", "ifMatch"})
        if extra:
            raise _invalid(f"{where}/{extra[0]}", f"a DELETE item takes no `{extra[0]}`")
        delete = RouteWrite(name, "delete", None, {}, {}, expected)
        return BatchItem("DELETE", name, expected, delete)
    if (expected is None) == (none_match is None):
        raise _invalid(
            where,
            'a PUT item needs exactly one condition: "ifNoneMatch": "*" to create, '
            '"ifMatch": "<version>" (or "*") to replace',
        )
    try:
        put = route_write({k: v for k, v in raw.items() if k not in _ITEM_KEYS})
    except ApiError as refused:
        return BatchItem("PUT", name, expected, None, refused)
    kind: Literal["create", "replace"] = "create" if none_match is not None else "replace"
    write = RouteWrite(name, kind, put.spec, put.labels, put.annotations, expected)
    return BatchItem("PUT", name, expected, write)


def _version(item: dict[str, Any], where: str) -> str | None:
    if "ifMatch" not in item:
        return None
    raw = item["ifMatch"]
    if (
        not isinstance(raw, str)
        or not 0 < len(raw) <= MAX_VERSION
        or unsafe_char(raw) is not None
        or '"' in raw
    ):
        raise _invalid(where, '`ifMatch` must be a route version such as "7" (no quotes), or "*"')
    return raw


def batch_results(
    items: Sequence[BatchItem],
    outcomes: Mapping[str, StoredRoute | RoutesError | None],
    current: Mapping[str, StoredRoute],
) -> list[dict[str, Any]]:
    """One answer per item, in order: what the single request would have answered.

    ``outcomes`` are the store's, by name, for the items it wrote; ``current`` the routes
    as read after the batch, for the versions a 412 reports.
    """
    results: list[dict[str, Any]] = []
    for item in items:
        if item.refused is not None:
            results.append(_failed(item.name, item.refused))
            continue
        outcome = outcomes[item.name]
        if isinstance(outcome, StoredRoute):
            status = 201 if item.write and item.write.kind == "create" else 200
            results.append({"name": item.name, "status": status, "route": route_json(outcome)})
        elif outcome is None:
            results.append({"name": item.name, "status": 204})
        else:
            results.append(_failed(item.name, _refusal(item, outcome, current.get(item.name))))
    return results


def _refusal(item: BatchItem, error: RoutesError, current: StoredRoute | None) -> ApiError:
    """The 404 or 412 the single request would have met (see ``app._precondition_failed``)."""
    name = item.name
    if item.method == "DELETE" and isinstance(error, NotFoundError):
        return ApiError(404, "route_not_found", f"route {name!r} does not exist")
    if not isinstance(error, ConflictError | NotFoundError):  # pragma: no cover - store contract
        raise error
    version = current.version if current else None
    if current is None:
        message = f"route {name!r} does not exist, so If-Match cannot be met"
    elif item.expected is None:
        message = f"route {name!r} already exists at version {version} (If-None-Match)"
    else:
        message = f"route {name!r} is at version {version}, not {item.expected}"
    return ApiError(412, "precondition_failed", message, [{"currentVersion": version}])


def _failed(name: str, error: ApiError) -> dict[str, Any]:
    return {"name": name, "status": error.status, **error.body()}


def _invalid(where: str, message: str) -> ApiError:
    return ApiError(400, "invalid_batch", message, [{"pointer": where, "message": message}])
