"""``POST /v1/routes:batchWrite`` for the http backend: request bodies out, checked answers in.

A batch is sized to what every ``routes serve`` takes (``MAX_ITEMS`` writes, ``MAX_BYTES``
of JSON). Its answer comes from a server outside our control, so it is trusted only when it
is exactly one result per write, in order, each naming its write's route with a status that
write can have; anything else is a ``BackendError`` for the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from reconciler.backends.base import Backend, Write, WriteOutcome, send
from reconciler.backends.http import answers
from reconciler.backends.http.errors import api_error, error_code
from reconciler.errors import RoutesError
from reconciler.quoting import quote

PATH = "/v1/routes:batchWrite"
MAX_ITEMS = 500  # the server takes 1,000 (the applier sends 50 at a time: batch_size)
MAX_BYTES = 4 * 1024 * 1024  # the server takes 8 MiB: room for JSON spacing and headers
DOING = "write a batch of routes"
FALLBACK_PARALLELISM = 10  # PUTs at once to a server without the batch endpoint
_SUCCESS = {"create": 201, "replace": 200, "delete": 204}


def doing(write: Write) -> str:
    """What a write does, for messages, as the single-route methods say it."""
    return f"{write.kind} route {write.name!r}"


def no_such_endpoint(response: httpx.Response) -> bool:
    """A 405, or a 404 that is not about a route: the server has no batch endpoint."""
    if response.status_code == 405:
        return True
    return response.status_code == 404 and error_code(response) != "route_not_found"


def item_of(write: Write) -> dict[str, Any]:
    """The batch item for one write: the request it stands for and its condition."""
    if write.kind == "delete":
        item: dict[str, Any] = {"method": "DELETE", "name": write.name}
    else:
        assert write.spec is not None
        item = {
            "method": "PUT",
            "name": write.name,
            "spec": write.spec.to_dict(),
            "labels": dict(write.labels),
            "annotations": dict(write.annotations),
        }
    if write.kind == "create":
        item["ifNoneMatch"] = "*"
    elif write.expected_version is not None or write.kind == "replace":
        item["ifMatch"] = write.expected_version or "*"
    return item


def bodies(writes: Sequence[Write]) -> Iterator[tuple[list[Write], bytes]]:
    """``writes`` as request bodies of at most ``MAX_ITEMS`` items and ``MAX_BYTES`` each
    (a single write larger than that goes alone, for the server to refuse as PUT would)."""
    chunk: list[Write] = []
    encoded: list[bytes] = []
    size = 0
    for write in writes:
        item = json.dumps(item_of(write), separators=(",", ":")).encode("utf-8")
        if chunk and (len(chunk) >= MAX_ITEMS or size + len(item) + 1 > MAX_BYTES):
            yield chunk, _body(encoded)
            chunk, encoded, size = [], [], 0
        chunk.append(write)
        encoded.append(item)
        size += len(item) + 1
    if chunk:
        yield chunk, _body(encoded)


def _body(items: list[bytes]) -> bytes:
    return b'{"writes":[' + b",".join(items) + b"]}"


def outcomes_of(raw: Any, writes: Sequence[Write], url: str) -> list[WriteOutcome]:
    """One outcome per write from a batch answer, each as the single request would give it."""
    results = raw.get("results") if isinstance(raw, dict) else None
    if not isinstance(results, list):
        raise answers.not_the_api(url, DOING, "no `results` list")
    if len(results) != len(writes):
        raise answers.not_the_api(url, DOING, f"{len(results)} results for {len(writes)} writes")
    return [_outcome(result, write, url) for result, write in zip(results, writes, strict=True)]


def _outcome(result: Any, write: Write, url: str) -> WriteOutcome:
    if not isinstance(result, dict) or result.get("name") != write.name:
        got = result.get("name") if isinstance(result, dict) else None
        shown = quote(got[:100]) if isinstance(got, str) else "no route name"
        raise answers.not_the_api(
            url, DOING, f"the result for route {quote(write.name)} names {shown}"
        )
    status = result.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise answers.not_the_api(url, DOING, f"route {quote(write.name)} has no status number")
    if status >= 400:
        error = result.get("error")
        if not isinstance(error, dict) or "route" in result:
            raise answers.not_the_api(
                url, DOING, f"route {quote(write.name)} failed ({status}) without an error"
            )
        return api_error(status, error, url, doing(write), reason=f"HTTP {status}")
    if status != _SUCCESS[write.kind]:
        raise answers.not_the_api(
            url, DOING, f"{doing(write)} answered {status}, not {_SUCCESS[write.kind]}"
        )
    if write.kind == "delete":
        if "route" in result or "error" in result:
            raise answers.not_the_api(url, DOING, f"{doing(write)} answered a body")
        return None
    route = answers.live_route(result.get("route"), url)
    if route.name != write.name:
        raise answers.not_the_api(
            url, DOING, f"the result for route {quote(write.name)} holds another route"
        )
    return route


def write_each(backend: Backend, writes: Sequence[Write]) -> list[WriteOutcome]:
    """The fallback: one conditional request per write, a few at once, each on its own."""
    with ThreadPoolExecutor(FALLBACK_PARALLELISM, thread_name_prefix="routes-put") as pool:
        return list(pool.map(lambda write: _write_one(backend, write), writes))


def _write_one(backend: Backend, write: Write) -> WriteOutcome:
    try:
        return send(backend, write)
    except RoutesError as exc:
        return exc
