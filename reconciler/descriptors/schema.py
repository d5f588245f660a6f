"""The packaged JSON Schemas (route descriptor, ``.routes.yaml``), and their violations as
located problems.

Validation runs in two steps for speed: ``conforms`` is a direct check of exactly what the
schema says (a test holds the two in agreement), and only a descriptor it rejects goes
through the jsonschema validator, whose errors are mapped to stable codes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

SCHEMA_FILE = "route-descriptor.schema.json"
# The installed package's folder (an install or a checkout, never a zip): importing
# importlib.resources costs more than a plan of one changed file spends on its own work.
PACKAGE = Path(__file__).resolve().parent.parent

_TOP = frozenset({"host", "tls", "validation", "corsPolicy", "routes"})
_TLS = frozenset({"clientValidationCa", "serverCertificate"})
_VALIDATION = frozenset({"clientCertificate", "httpBasic"})
_BASIC = frozenset({"realm", "passwordHashes"})
_CORS = frozenset({"allowOrigins", "allowMethods"})
_RULE = frozenset({"prefix", "route", "name", "enableWebsockets"})
_MATCHER = frozenset({"exact", "hasPrefix", "hasSuffix", "regex"})
_JSON_TYPES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
}
_BOUNDS = {"minimum": "at least", "exclusiveMinimum": "more than"}
_BARE_SCALARS = {
    "boolean": re.compile(r"true|false|yes|no|on|off", re.IGNORECASE),
    "integer": re.compile(r"[-+]?[0-9]+"),
    "number": re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"),
}


@dataclass(frozen=True)
class SchemaProblem:
    """One violation: a code, a message, and the path of the offending node."""

    code: str
    message: str
    path: tuple[str | int, ...]
    at_key: bool = False


@dataclass(frozen=True)
class Wording:
    """How messages name the document and its keys, and how they show a wrong value."""

    document: str = "the descriptor"
    noun: str = "field"
    # 'the string "false"' rather than '"false"', and "remove the quotes" where that fits
    spell_values: bool = False


DESCRIPTOR = Wording()


def load_schema(name: str = SCHEMA_FILE) -> dict[str, Any]:
    """A schema as packaged with ``reconciler`` (by default the route descriptor's)."""
    text = (PACKAGE / "schemas" / name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def validator(name: str = SCHEMA_FILE) -> jsonschema.protocols.Validator:
    """The one compiled Draft 2020-12 validator of a packaged schema."""
    import jsonschema  # only for descriptors the fast path rejects: a valid repo skips ~50 ms

    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(descriptor: Any) -> list[SchemaProblem]:
    """Every schema violation in ``descriptor``, most specific first within a node."""
    if conforms(descriptor):
        return []
    problems = violations(descriptor)
    problems.sort(key=lambda p: (len(p.path), [str(s) for s in p.path], p.code))
    return problems


def violations(
    document: Any, name: str = SCHEMA_FILE, wording: Wording = DESCRIPTOR
) -> list[SchemaProblem]:
    """Every violation of the packaged schema ``name`` in ``document``, in validator order."""
    return [p for error in validator(name).iter_errors(document) for p in explain(error, wording)]


def conforms(doc: Any) -> bool:
    """True exactly when ``doc`` is valid against the schema (the fast path)."""
    if type(doc) is not dict or not doc.keys() <= _TOP:
        return False
    if not _text(doc.get("host"), 1) or "routes" not in doc:
        return False
    if "tls" in doc and not _tls_ok(doc["tls"]):
        return False
    if "validation" in doc and not _validation_ok(doc["validation"]):
        return False
    if "corsPolicy" in doc and not _cors_ok(doc["corsPolicy"]):
        return False
    rules = doc["routes"]
    return type(rules) is list and bool(rules) and all(_rule_ok(rule) for rule in rules)


def _text(value: Any, min_length: int = 0) -> bool:
    return type(value) is str and len(value) >= min_length


def _secret_ok(ref: Any) -> bool:
    return type(ref) is dict and ref.keys() == {"name"} and _text(ref["name"], 1)


def _tls_ok(tls: Any) -> bool:
    return type(tls) is dict and tls.keys() <= _TLS and all(map(_secret_ok, tls.values()))


def _validation_ok(validation: Any) -> bool:
    if type(validation) is not dict or not validation.keys() <= _VALIDATION:
        return False
    if "clientCertificate" in validation:
        client = validation["clientCertificate"]
        if type(client) is not dict or client.keys() != {"subjectMatches"}:
            return False
        matchers = client["subjectMatches"]
        if type(matchers) is not list or not matchers or not all(map(_matcher_ok, matchers)):
            return False
    if "httpBasic" not in validation:
        return True
    basic = validation["httpBasic"]
    if type(basic) is not dict or not basic.keys() <= _BASIC or "passwordHashes" not in basic:
        return False
    if "realm" in basic and not _text(basic["realm"]):
        return False
    hashes = basic["passwordHashes"]
    return type(hashes) is dict and bool(hashes) and all(_text(h, 1) for h in hashes.values())


def _matcher_ok(matcher: Any) -> bool:
    return (
        type(matcher) is dict
        and len(matcher) == 1
        and matcher.keys() <= _MATCHER
        and all(_text(v, 1) for v in matcher.values())
    )


def _cors_ok(cors: Any) -> bool:
    if type(cors) is not dict or not cors.keys() <= _CORS:
        return False
    for key, values in cors.items():
        # An empty method is R024 (not an HTTP method), as it is once canonical (" " -> "").
        shortest = 0 if key == "allowMethods" else 1
        if type(values) is not list or not all(_text(v, shortest) for v in values):
            return False
    return True


def _rule_ok(rule: Any) -> bool:
    if type(rule) is not dict or not rule.keys() <= _RULE:
        return False
    prefix, route = rule.get("prefix"), rule.get("route")
    if type(prefix) is not str or not prefix.startswith("/"):
        return False
    if type(route) is not dict or route.keys() != {"service"} or not _text(route["service"], 1):
        return False
    if "name" in rule and type(rule["name"]) is not str:
        return False
    return "enableWebsockets" not in rule or type(rule["enableWebsockets"]) is bool


def explain(
    error: jsonschema.ValidationError, wording: Wording = DESCRIPTOR
) -> Iterator[SchemaProblem]:
    """One jsonschema error as problems with stable codes and messages for the user."""
    path = tuple(error.absolute_path)
    where = _dotted(path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        known = sorted(schema.get("properties", {}))
        for field in sorted(set(error.instance) - set(known), key=str):
            message = unknown_field_message(str(field), where, known, noun=wording.noun)
            yield SchemaProblem("R013", message, (*path, field), True)
    elif keyword == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else "?"
        yield SchemaProblem(
            "R014", f"{where or wording.document} is missing `{missing}`: add it", path
        )
    elif keyword == "type":
        yield SchemaProblem("R015", _type_message(error, where, wording), path)
    elif keyword == "pattern" and path and path[-1] == "prefix":
        got = json.dumps(error.instance)
        yield SchemaProblem("R012", f'prefix must start with "/" (got {got})', path)
    elif keyword in ("minProperties", "maxProperties") and "subjectMatches" in path:
        keys = ", ".join(sorted(map(str, error.instance))) or "none"
        yield SchemaProblem(
            "R017",
            f"`{where}` must have exactly one of exact, hasPrefix, hasSuffix, regex (has: {keys})",
            path,
        )
    elif keyword in ("minItems", "minLength", "minProperties"):
        yield SchemaProblem("R016", f"`{where}` must not be empty", path)
    elif keyword == "pattern" and "patternErrorMessage" in schema:
        got = _shown(error.instance, wording)
        yield SchemaProblem("R018", f"`{where}` {schema['patternErrorMessage']} (got {got})", path)
    elif keyword in _BOUNDS:
        bound, got = _BOUNDS[str(keyword)], _shown(error.instance, wording)
        message = f"`{where}` must be {bound} {error.validator_value} (got {got})"
        yield SchemaProblem("R018", message, path)
    else:
        yield SchemaProblem("R018", f"`{where}`: {error.message}", path)


_explain = explain  # the name the descriptor tests know


def _type_message(error: jsonschema.ValidationError, where: str, wording: Wording) -> str:
    value = error.validator_value
    types = [str(t) for t in (value if isinstance(value, list) else [value])]
    wanted = " or ".join(_JSON_TYPES.get(t, t) for t in types if t != "null")
    instance = error.instance
    hint = "; quote it" if wanted == "a string" and not isinstance(instance, Mapping | list) else ""
    if wording.spell_values and not hint and isinstance(instance, str) and _bare(instance, types):
        hint = "; remove the quotes"
    return f"`{where}` must be {wanted} (got {_shown(instance, wording)}){hint}"


def _bare(text: str, types: list[str]) -> bool:
    """Whether ``text`` written without quotes would be read as one of ``types``."""
    return any(t in _BARE_SCALARS and _BARE_SCALARS[t].fullmatch(text) is not None for t in types)


def _shown(value: Any, wording: Wording) -> str:
    if not wording.spell_values:
        return json.dumps(value, default=str)[:60]
    if isinstance(value, str):
        return f"the string {json.dumps(value)[:60]}"
    if value is None:
        return "an empty value"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"the number {value}"
    if isinstance(value, list | Mapping):
        return "a list" if isinstance(value, list) else "a mapping"
    return json.dumps(value, default=str)[:60]


def unknown_field_message(field: str, where: str, known: list[str], noun: str = "field") -> str:
    """'unknown field `x` (did you mean `y`?)', or the allowed fields when nothing is close."""
    import difflib  # only an unknown field asks for a close match

    close = difflib.get_close_matches(field, known, n=1, cutoff=0.6)
    place = f" in `{where}`" if where else ""
    if close:
        return f"unknown {noun} `{field}`{place} (did you mean `{close[0]}`?)"
    allowed = ", ".join(known)
    return f"unknown {noun} `{field}`{place}: remove it (allowed: {allowed})"


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
