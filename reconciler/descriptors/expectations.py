"""Traffic expectations (``.routes-tests.yaml``) and request URLs -> located values.

The file is one YAML mapping, ``URL: service`` or ``URL: 404``::

    https://ecommerce.acme.org/carts/42: shopping-cart
    https://ecommerce.acme.org/admin: 404

Nothing here raises for bad input: every problem is a located diagnostic (``T002``, or the
loader's YAML and file codes), and an entry with a problem is left out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.canonical import canonical_host
from reconciler.descriptors.files import MAX_FILE_BYTES, TESTS_FILE, too_big
from reconciler.descriptors.spec_rules import host_problem
from reconciler.descriptors.yaml_nodes import locate, parse_documents, position
from reconciler.diagnostics import Diagnostic, diagnostic
from reconciler.quoting import quote, unsafe_char
from reconciler.regular_files import open_regular

__all__ = [
    "TESTS_FILE",
    "BadUrl",
    "Expectation",
    "RequestTarget",
    "load_expectations",
    "parse_url",
]

_SERVICE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PATH_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")


class BadUrl(ValueError):
    """A request URL that cannot be explained; the message says why and what to write."""


@dataclass(frozen=True)
class RequestTarget:
    """A request as matched: the URL as written, its canonical host and its path."""

    url: str
    host: str
    path: str


@dataclass(frozen=True)
class Expectation:
    """``url`` must be served by ``service`` (None: must be a 404), written at file:line."""

    target: RequestTarget
    service: str | None
    file: str
    line: int
    column: int


def parse_url(url: str) -> RequestTarget:
    """``https://host/path`` (http too; query and port ignored), or ``BadUrl``."""
    if unsafe_char(url) is not None or " " in url:
        raise BadUrl(f"URL {quote(url)} holds spaces or control characters: percent-encode them")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise BadUrl(f"URL {quote(url)} cannot be read ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise BadUrl(f"URL {quote(url)} is not http(s)://HOST/PATH: write it in full")
    if parts.username is not None or parts.password is not None:
        raise BadUrl(f"URL {quote(url)} holds a user name or password: leave them out")
    problem = host_problem(parts.hostname)
    if problem is not None:
        raise BadUrl(problem[1])
    path = parts.path or "/"
    if not _PATH_CHARS.fullmatch(path):
        raise BadUrl(f"path {quote(path)} is not a URL path: percent-encode other characters")
    return RequestTarget(url=url, host=canonical_host(parts.hostname), path=path)


def load_expectations(path: Path, display: str) -> tuple[list[Expectation], list[Diagnostic]]:
    """The expectations in the file at ``path`` (shown as ``display``), and its problems."""
    problems: list[Diagnostic] = []

    def report(code: str, message: str, line: int = 1, column: int = 1) -> None:
        problems.append(diagnostic(code, message, file=display, line=line, column=column))

    try:
        with open_regular(path) as stream:
            content = stream.read(MAX_FILE_BYTES + 1)
            size = os.fstat(stream.fileno()).st_size
    except OSError as exc:
        report("R029", f"{display} cannot be read ({exc.strerror or exc}): fix or remove it")
        return [], problems
    if len(content) > MAX_FILE_BYTES:
        return [], [too_big(display, size)]
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        report("R005", "the file is not UTF-8: save it as UTF-8", line)
        return [], problems
    documents, problem = parse_documents(content)
    if problem is not None:
        report(problem.code, problem.message, problem.line, problem.column)
        return [], problems
    if len(documents) != 1 or not isinstance(documents[0].value, dict):
        report("T002", "the file must be one mapping of `https://host/path: service` (or `: 404`)")
        return [], problems
    document = documents[0]
    found = []
    for url, expected in document.value.items():
        line, column = locate(document.root, [str(url)], key=True)
        service, why = _expected(expected)
        try:
            target = parse_url(str(url))
        except BadUrl as exc:
            why = str(exc)
        if why is not None:
            report("T002", f"{quote(str(url))}: {why}", line, column)
            continue
        found.append(Expectation(target, service, display, line, column))
    if not found and not problems:
        report("T002", "the file holds no expectation", *position(document.root))
    return found, problems


def _expected(value: object) -> tuple[str | None, str | None]:
    """(service or None for 404, problem or None)."""
    if value == 404 or value == "404":
        return None, None
    if isinstance(value, str) and _SERVICE.fullmatch(value):
        return value, None
    return None, f"expected a service name (a DNS label) or 404, got {quote(str(value))}"
