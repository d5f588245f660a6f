"""Requests and answers checked against GitHub's own OpenAPI description.

The description is the npm package `@octokit/openapi` (GitHub's published
`api.github.com.json`), installed at test time (tests/node_tools.py), never vendored. Each
recorded exchange must name an operation of the description (method and path template);
its query parameters must be declared and of their type, required ones present; its JSON
body must match the request body schema; the fake's status must be one the operation
documents, and its JSON answer must match that status's schema.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from tests.node_tools import require

SPEC = "@octokit/openapi/generated/api.github.com.json"
_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Exchange:
    """One request the integration made and what the fake answered."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    body: Any  # parsed JSON, or None when there was none
    status: int
    answer: Any  # parsed JSON, or None
    # A fault a test injected (a 502, a redirect, a read-only token's 403): the request is
    # checked, the answer is not one the description lists.
    injected: bool = False


class GitHubDescription:
    """The operations of the description, and the checks of one exchange against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        templates = sorted(document["paths"], key=lambda t: (t.count("{"), t))
        self.paths = [(_template_pattern(t), t) for t in templates]
        self._components: dict[str, Any] = {}

    def problems(self, exchange: Exchange) -> list[str]:
        """Everything in ``exchange`` that the description does not allow."""
        where = f"{exchange.method} {exchange.path}"
        match = next(
            ((m, t) for pattern, t in self.paths if (m := pattern.fullmatch(exchange.path))),
            None,
        )
        if match is None:
            return [f"{where}: no such path in GitHub's API description"]
        found, template = match
        item = self.document["paths"][template]
        operation = item.get(exchange.method.lower())
        if operation is None:
            return [f"{where}: {template} has no {exchange.method} operation"]
        where = f"{exchange.method} {template} ({operation['operationId']})"
        problems: list[str] = []
        parameters = [self._deref(p) for p in [*item.get("parameters", []), *operation.get(
            "parameters", []
        )]]  # fmt: skip
        declared = {(p["in"], _group(p["name"])): p for p in parameters}
        for name, value in found.groupdict().items():
            problems += self._value(f"{where}: path {name}", value, declared[("path", name)])
        for name, values in exchange.query.items():
            parameter = declared.get(("query", name))
            if parameter is None:
                problems.append(f"{where}: undeclared query parameter {name!r}")
                continue
            for value in values:
                problems += self._value(f"{where}: query {name}", value, parameter)
        for (place, name), parameter in declared.items():
            if place == "query" and parameter.get("required") and name not in exchange.query:
                problems.append(f"{where}: required query parameter {name!r} missing")
        problems += self._request_body(where, operation, exchange.body)
        if not exchange.injected:
            problems += self._answer(where, operation, exchange.status, exchange.answer)
        return problems

    def _request_body(self, where: str, operation: dict[str, Any], body: Any) -> list[str]:
        spec = self._deref(operation.get("requestBody") or {})
        if body is None:
            return [f"{where}: request body required"] if spec.get("required") else []
        schema = spec.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return [f"{where}: sent a JSON body the operation does not take"]
        return self._schema(f"{where}: request body", body, schema)

    def _answer(self, where: str, operation: dict[str, Any], status: int, answer: Any) -> list[str]:
        responses = operation["responses"]
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            return [f"{where}: the fake answered {status}, not documented ({sorted(responses)})"]
        schema = self._deref(response).get("content", {}).get("application/json", {})
        if answer is None or "schema" not in schema:
            return []
        return self._schema(f"{where}: answer {status}", answer, schema["schema"])

    def _value(self, where: str, raw: str, parameter: dict[str, Any]) -> list[str]:
        schema = parameter.get("schema", {})
        value: Any = raw
        if schema.get("type") == "integer" and re.fullmatch(r"-?\d+", raw):
            value = int(raw)
        return self._schema(where, value, schema)

    def _schema(self, where: str, value: Any, schema: dict[str, Any]) -> list[str]:
        wrapped = {"allOf": [_nullable(schema, self._components, self.document)]}
        wrapped["components"] = {"schemas": self._components}
        validator = jsonschema.Draft4Validator(wrapped)
        return [
            f"{where}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}"
            for e in validator.iter_errors(value)
        ]

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = _pointer(self.document, node["$ref"])
        return node


def _pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _nullable(node: Any, components: dict[str, Any], document: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` becomes a null alternative; every
    component schema it names is converted once into ``components``."""
    if isinstance(node, list):
        return [_nullable(n, components, document) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        if name not in components:
            components[name] = {}
            components[name] = _nullable(_pointer(document, node["$ref"]), components, document)
        return {"$ref": node["$ref"]}
    converted = {
        key: (
            {k: _nullable(v, components, document) for k, v in value.items()}
            if key == "properties"
            else _nullable(value, components, document)
        )
        for key, value in node.items()
        if key not in ("nullable", "example", "examples", "description", "discriminator")
    }
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        f"(?P<{_group(p[1:-1])}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(regex)


def _group(name: str) -> str:
    return name.replace("-", "_")


@functools.cache
def github_description() -> GitHubDescription:
    """The installed description (skips, or fails under CI, when it is not installed)."""
    path = require(SPEC)
    return GitHubDescription(json.loads(path.read_text(encoding="utf-8")))
