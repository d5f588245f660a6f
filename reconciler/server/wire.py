"""The JSON shapes of the control-plane API: errors, routes, bodies, headers.

Everything here is pure: request text in, values or ``ApiError`` out. The app turns an
``ApiError`` into ``{"error": {"code", "message", "details"}}`` with its status code.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.canonical import canonical_host
from reconciler.descriptors.spec_check import route_name_problem, spec_errors
from reconciler.model import RouteSpec
from reconciler.quoting import quote, unsafe_char
from reconciler.store import Hostname, StoredRoute

MAX_BODY = 1024 * 1024
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ETAG = re.compile(r'^(?:W/)?"([^"]*)"$')
_BODY_KEYS = {"spec", "labels", "annotations"}
_READ_ONLY_KEYS = {"name", "version", "status", "createdAt", "updatedAt"}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ApiError(Exception):
    """An answer other than success: status, stable code, message and details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The ``{"error": …}`` document."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


@dataclass(frozen=True)
class RouteWrite:
    """A validated PUT body."""

    spec: RouteSpec
    labels: dict[str, str]
    annotations: dict[str, str]


def route_json(route: StoredRoute) -> dict[str, Any]:
    """A stored route as the API shows it."""
    return {
        "name": route.name,
        "spec": route.spec.to_dict(),
        "labels": dict(route.labels),
        "annotations": dict(route.annotations),
        "version": route.version,
        "status": {"conditions": [c.to_dict() for c in route.conditions]},
        "createdAt": route.created_at,
        "updatedAt": route.updated_at,
    }


def hostname_json(hostname: Hostname) -> dict[str, str]:
    return {"hostname": hostname.hostname, "createdAt": hostname.created_at}


def etag(version: str) -> str:
    return f'"{version}"'


def check_route_name(name: str) -> str:
    """``name`` if it is a valid route name, else a 400 that says what a name may be."""
    if route_name_problem(name) is None:
        return name
    shown = json.dumps(name[:80], ensure_ascii=True)
    raise ApiError(
        400,
        "invalid_route_name",
        f"{shown} is not a route name: use 1-63 characters of a-z, 0-9 and '-', "
        "starting and ending with a letter or digit",
    )


def page_size_of(raw: str | None) -> int:
    """The ``pageSize`` query parameter: 1 to 1000, default 100."""
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ApiError(
            400,
            "invalid_page_size",
            f"pageSize must be a whole number from 1 to {MAX_PAGE_SIZE} (got {raw[:20]!r})",
        )
    return int(raw)


def encode_page_token(last_name: str) -> str:
    return base64.urlsafe_b64encode(last_name.encode("utf-8")).decode("ascii").rstrip("=")


def decode_page_token(token: str | None) -> str | None:
    """The route name a ``pageToken`` continues after; 400 for anything we did not issue."""
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        name = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        name = ""
    if route_name_problem(name) is not None:
        raise ApiError(
            400,
            "invalid_page_token",
            "pageToken is not one this server issued: start again without it",
        )
    return name


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, no duplicate keys, no lone surrogate; else a 400."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen[key] = value
        return seen

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        text = raw.decode("utf-8")
        body = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ApiError(400, "malformed_json", "the request body nests too deeply") from None
    if _SURROGATE_ESCAPE.search(text):  # UTF-8 text cannot hold one any other way
        _refuse_lone_surrogates(body)
    return body


def _refuse_lone_surrogates(body: Any) -> None:
    """A 400 naming the first string, key or value, that holds a lone surrogate.

    ``json`` turns a ``\\ud800`` escape without its partner into a string that cannot be
    written as UTF-8, so the store, the log and the answer itself would fail on it later.
    """
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            raise _lone_surrogate(where or "the body", value, where)
        if isinstance(value, dict):
            for key in value:
                if _LONE_SURROGATE.search(key):
                    raise _lone_surrogate(f"a key of {where or 'the body'}", key, where)
            pending.extend((f"{where}/{_escape(k)}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((f"{where}/{i}", v) for i, v in reversed(list(enumerate(value))))


def _lone_surrogate(what: str, text: str, where: str) -> ApiError:
    shown = json.dumps(text[:80], ensure_ascii=True)
    message = (
        f"{what} holds a lone surrogate ({shown}), which is not Unicode text: send the "
        'character as UTF-8, or a character beyond U+FFFF as a pair such as "\\ud83d\\ude00"'
    )
    return ApiError(400, "malformed_json", message, [{"pointer": where, "message": message}])


def route_write(body: Any) -> RouteWrite:
    """Validate a PUT body: 422 ``invalid_request`` for its shape, ``invalid_spec`` for the spec.

    ``invalid_spec`` pointers are JSON pointers into the spec (``/routes/0/prefix``).
    """
    if not isinstance(body, dict):
        raise _invalid_request("", "the body must be a JSON object with a `spec`")
    unknown = sorted(set(body) - _BODY_KEYS - _READ_ONLY_KEYS)
    if unknown:
        raise _invalid_request(f"/{_escape(unknown[0])}", f"unknown field `{unknown[0]}`")
    if "spec" not in body:
        raise _invalid_request("/spec", "`spec` is required: the route descriptor")
    labels = _string_map(body, "labels")
    annotations = _string_map(body, "annotations")
    problems = [
        {"pointer": pointer(p.path), "code": p.code, "message": p.message}
        for p in spec_errors(body["spec"], refer=pointer)
    ]
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ApiError(422, "invalid_spec", f"the route spec is invalid ({count})", problems)
    return RouteWrite(RouteSpec.from_dict(body["spec"]), labels, annotations)


def hostname_of(body: Any) -> str:
    """The canonical hostname of a POST /v1/hostnames body; 422 when it is not a hostname."""
    raw = body.get("hostname") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"hostname"} or not isinstance(raw, str):
        raise _invalid_request("/hostname", 'the body must be {"hostname": "<dns name>"}')
    return check_hostname(raw, pointer_="/hostname")


def check_hostname(raw: str, *, pointer_: str = "") -> str:
    """The canonical form of a DNS hostname; 422 (or 400 in a path) when it is not one."""
    host = canonical_host(raw)
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_DNS_LABEL.fullmatch(lbl) for lbl in labels):
        shown = json.dumps(raw[:80], ensure_ascii=True)
        message = f"{shown} is not a DNS hostname (e.g. shop.acme.org)"
        if not pointer_:
            raise ApiError(400, "invalid_hostname", message)
        raise ApiError(
            422, "invalid_hostname", message, [{"pointer": pointer_, "message": message}]
        )
    return host


def if_match_version(raw: str | None) -> str | None:
    """The version an ``If-Match`` header asks for (``*`` for any); 400 when unreadable."""
    if raw is None:
        return None
    value = raw.strip()
    if value == "*":
        return "*"
    found = _ETAG.match(value)
    if found is None:
        raise ApiError(
            400,
            "invalid_header",
            'If-Match must be one entity tag such as "7" (quotes included) or *',
        )
    if value.startswith("W/"):
        # If-Match compares strongly (RFC 9110 13.1.1): a weak tag matches no version, and
        # kept whole it can never equal one the store issues, so the write answers 412.
        return value
    return found.group(1)


def is_weak(version: str | None) -> bool:
    """True for what ``if_match_version`` returns for a weak tag (``W/"7"``)."""
    return version is not None and version.startswith("W/")


def etags_of(raw: str) -> set[str]:
    """The versions named by an ``If-None-Match`` list (``*`` kept as ``*``)."""
    tags: set[str] = set()
    for part in raw.split(","):
        part = part.strip()
        found = _ETAG.match(part)
        tags.add("*" if part == "*" else found.group(1) if found else part)
    return tags


def pointer(path: tuple[str | int, ...]) -> str:
    """An RFC 6901 JSON pointer for a path of keys and indexes."""
    return "".join("/" + _escape(str(step)) for step in path)


def _escape(step: str) -> str:
    return step.replace("~", "~0").replace("/", "~1")


def _invalid_request(where: str, message: str) -> ApiError:
    return ApiError(422, "invalid_request", message, [{"pointer": where, "message": message}])


def _string_map(body: Mapping[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid_request(f"/{key}", f"`{key}` must be an object of strings")
    for name, item in value.items():
        if not isinstance(item, str) or not name or len(name) > 253:
            raise _invalid_request(
                f"/{key}/{_escape(name)}", f"`{key}` keys must be 1-253 characters, values strings"
            )
        if unsafe_char(name) is not None or unsafe_char(item) is not None:
            # Labels are shown to reviewers (the owner of an unmanaged route, say).
            raise _invalid_request(
                f"/{key}/{_escape(name)}",
                f"`{key}` keys and values must be printable: {quote(name)} = {quote(item[:80])}",
            )
    return dict(value)
