"""How the emulated CLIs change a route spec: `-f FILE` (read, validated, merged or
replacing, per AKKA_EMULATOR_FILE_UPDATE) and the route flags of create / update. The
ASSUMED readings are numbered as in emulator.py's list."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import yaml

SPEC_VALUE = {
    "--hostname",
    "--client-ca-secret",
    "--server-certificate-secret",
    "--http-basic-realm",
}
SPEC_ARRAY = {
    "--path",
    "--cors-origin",
    "--cors-method",
    "--client-certificate-subject",
    "--http-basic-credentials",
}
REMOVE_ARRAY = {"--remove-path", "--remove-cors-origin", "--remove-cors-method"}
REMOVE_BOOL = {
    "--remove-client-ca-secret",
    "--remove-server-certificate-secret",
    "--remove-client-certificate-subject",  # "Remove all client certificate subjects"
    "--remove-http-basic",  # "Remove all HTTP basic credentials"
}
DESCRIPTOR_KEYS = {"host", "routes", "tls", "validation", "corsPolicy"}
RULE_KEYS = {"prefix", "route", "name", "enableWebsockets"}


class CliError(Exception):
    pass


def file_update(spec: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """`update -f`: ASSUMED to merge (AKKA_EMULATOR_FILE_UPDATE=merge, the default): path
    rules upserted by prefix, a section in the file replaces the live one, a section missing
    from the file stays. `deep`: like merge, but CORS values, subjects and HTTP basic users
    are merged too. `replace`: the file replaces the whole route."""
    mode = os.environ.get("AKKA_EMULATOR_FILE_UPDATE", "merge")
    if mode == "replace":
        return incoming
    spec["host"] = incoming["host"]
    by_prefix = {rule["prefix"]: rule for rule in spec["routes"]}
    for rule in incoming["routes"]:
        by_prefix[rule["prefix"]] = rule
    spec["routes"] = list(by_prefix.values())
    for section in ("tls", "validation", "corsPolicy"):
        if section not in incoming:
            continue
        if mode == "deep" and section in spec:
            spec[section] = deep_merge(spec[section], incoming[section])
        else:
            spec[section] = incoming[section]
    return spec


def deep_merge(live: Any, incoming: Any) -> Any:
    if isinstance(live, dict) and isinstance(incoming, dict):
        merged = dict(live)
        for key, value in incoming.items():
            merged[key] = deep_merge(live[key], value) if key in live else value
        return merged
    if isinstance(live, list) and isinstance(incoming, list):
        return live + [item for item in incoming if item not in live]
    return incoming


def refuse_mixing(flags: dict[str, Any]) -> None:
    mixed = sorted(f for f in flags if f in SPEC_VALUE | SPEC_ARRAY | REMOVE_ARRAY | REMOVE_BOOL)
    # ASSUMED: -f and the route flags cannot be combined (the reference says "either").
    if mixed:
        raise CliError(f"--filename cannot be combined with {', '.join(mixed)}")


def read_descriptor(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            spec = yaml.safe_load(handle)
    except OSError as exc:
        raise CliError(f"open {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"invalid route spec in {path}: {exc}") from exc
    validate(spec)
    return spec


def validate(spec: Any) -> None:
    if not isinstance(spec, dict):
        raise CliError("invalid route spec: not a mapping")
    unknown = sorted(set(spec) - DESCRIPTOR_KEYS)
    if unknown:
        raise CliError(f"invalid route spec: unknown field '{unknown[0]}'")
    if not spec.get("host"):
        raise CliError("invalid route spec: host is required")
    if not spec.get("routes"):
        raise CliError("invalid route spec: a route must have at least one path")
    for rule in spec["routes"]:
        if set(rule) - RULE_KEYS:
            raise CliError(
                f"invalid route spec: unknown field '{sorted(set(rule) - RULE_KEYS)[0]}'"
            )
        if not str(rule.get("prefix", "")).startswith("/"):
            raise CliError("invalid route spec: prefix must start with /")
        if not (rule.get("route") or {}).get("service"):
            raise CliError(f"invalid route spec: route.service is required for {rule['prefix']}")


def apply_flags(spec: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    if "--hostname" in flags:
        spec["host"] = flags["--hostname"]
    rules = {rule["prefix"]: rule for rule in spec["routes"]}
    for item in flags.get("--path", []):
        prefix, eq, service = item.partition("=")
        if not eq or not prefix.startswith("/") or not service:
            raise CliError(f"invalid path '{item}': use /prefix=service")
        rules.setdefault(prefix, {"prefix": prefix})["route"] = {"service": service}
    for prefix in flags.get("--remove-path", []):
        if rules.pop(prefix, None) is None:
            raise CliError(f"path '{prefix}' not found in route")
    spec["routes"] = list(rules.values())
    cors = spec.setdefault("corsPolicy", {})
    for key, add, remove in (
        ("allowOrigins", "--cors-origin", "--remove-cors-origin"),
        ("allowMethods", "--cors-method", "--remove-cors-method"),
    ):
        values = [v for v in cors.get(key, []) if v not in flags.get(remove, [])]
        values += [v for v in flags.get(add, []) if v not in values]
        cors[key] = values
    if not cors.get("allowOrigins"):
        spec.pop("corsPolicy")
    tls = spec.setdefault("tls", {})
    for key, add, remove in (
        ("clientValidationCa", "--client-ca-secret", "--remove-client-ca-secret"),
        ("serverCertificate", "--server-certificate-secret", "--remove-server-certificate-secret"),
    ):
        if flags.get(remove):
            tls.pop(key, None)
        if add in flags:
            tls[key] = {"name": flags[add]}
    if not tls:
        spec.pop("tls")
    apply_validation_flags(spec, flags)
    validate(spec)
    return spec


def apply_validation_flags(spec: dict[str, Any], flags: dict[str, Any]) -> None:
    validation = spec.setdefault("validation", {})
    client = validation.setdefault("clientCertificate", {})
    matches = [m for m in client.get("subjectMatches", [])]
    if flags.get("--remove-client-certificate-subject"):
        matches = []  # "Remove all client certificate subjects"
    matches += [subject(item) for item in flags.get("--client-certificate-subject", [])]
    client["subjectMatches"] = matches
    if not matches:
        validation.pop("clientCertificate")
    basic = validation.setdefault("httpBasic", {})
    hashes = dict(basic.get("passwordHashes", {}))
    if flags.get("--remove-http-basic"):
        hashes = {}  # "Remove all HTTP basic credentials"
        basic.pop("realm", None)
    if "--http-basic-realm" in flags:
        basic["realm"] = flags["--http-basic-realm"]
    for item in flags.get("--http-basic-credentials", []):
        user, eq, password = item.partition("=")
        if not eq or not user:
            raise CliError("invalid HTTP basic credentials: use USER=PASSWORD")
        digest = base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()
        hashes[user] = f"sha256:{digest}"
    basic["passwordHashes"] = hashes
    if not hashes:
        validation.pop("httpBasic")  # a realm without users means nothing
    if not validation:
        spec.pop("validation")


def subject(item: str) -> dict[str, str]:
    if item.startswith("*"):
        return {"hasSuffix": item[1:]}
    if item.endswith("*"):
        return {"hasPrefix": item[:-1]}
    return {"exact": item}
