"""An emulator of the `akka routes` / `kalix routes` CLI surface, for tests only.

Written from the public references (no network was available while writing it):
  https://doc.akka.io/reference/cli/akka-cli/akka_routes.html
  https://doc.akka.io/reference/akka-cli/akka_routes_list.html
  https://doc.akka.io/reference/akka-cli/akka_routes_get.html
  https://doc.akka.io/reference/akka-cli/akka_routes_export.html
  https://doc.akka.io/reference/akka-cli/akka_routes_create.html
  https://doc.akka.io/reference/akka-cli/akka_routes_update.html
  https://doc.akka.io/reference/akka-cli/akka_routes_delete.html
  https://doc.akka.io/reference/descriptors/route-descriptor.html
  https://doc.akka.io/operations/services/invoke-service.html  (managing routes)
  https://docs.kalix.io/reference/kalix/kalix_routes.html  (the same surface as `kalix routes`)

Documented and emulated: the subcommands list / get / export / create / update / delete
(alias `route`); per-command --project, --region, --owner; inherited --disable-prompt,
-o/--output (text, json, json-compact), --timeout DURATION, -q, -v, --config, --context,
--cache-file, --use-grpc-web; create/update -f/--filename, --hostname, --path PREFIX=SERVICE,
--cors-origin, --cors-method, --client-ca-secret, --client-certificate-subject (`*` for
prefix/suffix matching), --http-basic-credentials USER=PASSWORD; delete --all-regions.
Unknown flags are rejected as cobra does (`Error: unknown flag: --x`, exit 1).

CONFIRMED later against the stored doc.akka.io reference pages for `akka routes`, `create`,
`update` and `delete`: create/update take -f/--filename, --hostname, --cors-origin,
--cors-method, --client-ca-secret, --client-certificate-subject (`*` for prefix/suffix
matching) and --http-basic-credentials USER=PASSWORD; delete takes --all-regions; every
command takes --owner, --project, --region and the inherited --disable-prompt, -o/--output
(text, json, json-compact, go-template=), -q, -v, --timeout DURATION (default 10s),
--config, --context, --cache-file, --use-grpc-web. Newer CLIs also offer
`akka routes apply -f FILE` (create or update from an exported descriptor).

ASSUMED (not confirmed against the docs while writing):
- update's removal flags: --remove-path PREFIX, --remove-cors-origin, --remove-cors-method,
  --remove-client-ca-secret, --remove-server-certificate-secret (booleans),
  --remove-client-certificate-subject, --remove-http-basic-credentials USER; and
  --server-certificate-secret on create/update.
- `update -f FILE` MERGES: path rules are upserted by prefix (live prefixes missing from the
  file stay), a top-level section in the file (tls, validation, corsPolicy) replaces the live
  one, a section missing from the file stays. `-f` cannot be combined with other route flags.
- Output texts and the JSON shapes (list: an array of objects with "name"; get: an object
  with "spec" and "status.conditions"); condition reasons DnsNotVerified / HostNotValidated.
- Error texts; every failure exits 1. `delete` without --disable-prompt and without a
  terminal refuses (the docs: "if input is required ... an error will be raised").

State: a JSON file named by AKKA_EMULATOR_STATE:
  {"current_project": "shop",
   "projects": {"shop": {"owner": "acme", "regions": ["gcp-us-east1"],
                         "hostnames": null | {"host": "verified" | "unverified"},
                         "routes": {"NAME": {"spec": {...}, "updated": "..."}}}}}
`hostnames: null` accepts every host as verified. Test knobs: AKKA_EMULATOR_LOGGED_OUT=1
(not logged in), AKKA_EMULATOR_DELAY=SECONDS (a slow platform; past --timeout it fails with
"context deadline exceeded"), AKKA_EMULATOR_JSON=0 (a CLI whose `-o json` prints text),
AKKA_EMULATOR_LOG=FILE (appends each argv as a JSON line), AKKA_EMULATOR_PROG=kalix.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import yaml

PROG = os.environ.get("AKKA_EMULATOR_PROG") or os.path.basename(sys.argv[0]) or "akka"
INHERITED_VALUE = {"--output", "--timeout", "--config", "--context", "--cache-file"}
INHERITED_BOOL = {"--disable-prompt", "--quiet", "--verbose", "--use-grpc-web"}
SHORT = {"-o": "--output", "-q": "--quiet", "-v": "--verbose", "-f": "--filename"}
PROJECT_FLAGS = {"--project", "--region", "--owner"}
SPEC_VALUE = {"--hostname", "--client-ca-secret", "--server-certificate-secret"}
SPEC_ARRAY = {
    "--path",
    "--cors-origin",
    "--cors-method",
    "--client-certificate-subject",
    "--http-basic-credentials",
}
REMOVE_ARRAY = {
    "--remove-path",
    "--remove-cors-origin",
    "--remove-cors-method",
    "--remove-client-certificate-subject",
    "--remove-http-basic-credentials",
}
REMOVE_BOOL = {"--remove-client-ca-secret", "--remove-server-certificate-secret"}
COMMANDS: dict[str, tuple[set[str], set[str], set[str]]] = {
    # command: (single-value flags, repeatable flags, boolean flags)
    "list": (PROJECT_FLAGS, set(), set()),
    "get": (PROJECT_FLAGS, set(), set()),
    "export": (PROJECT_FLAGS, set(), set()),
    "create": (PROJECT_FLAGS | SPEC_VALUE | {"--filename"}, SPEC_ARRAY, set()),
    "update": (PROJECT_FLAGS | SPEC_VALUE | {"--filename"}, SPEC_ARRAY | REMOVE_ARRAY, REMOVE_BOOL),
    "delete": (PROJECT_FLAGS, set(), {"--all-regions"}),
}
NEEDS_NAME = {"get", "export", "create", "update", "delete"}
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DESCRIPTOR_KEYS = {"host", "routes", "tls", "validation", "corsPolicy"}
RULE_KEYS = {"prefix", "route", "name", "enableWebsockets"}


class CliError(Exception):
    pass


def main(argv: list[str]) -> int:
    _log(argv)
    try:
        return run(argv)
    except CliError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


def _log(argv: list[str]) -> None:
    path = os.environ.get("AKKA_EMULATOR_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps([PROG, *argv]) + "\n")


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in ("routes", "route"):
        raise CliError(f'unknown command "{argv[0] if argv else ""}" for "{PROG}"')
    if len(argv) < 2 or argv[1] not in COMMANDS:
        got = argv[1] if len(argv) > 1 else ""
        raise CliError(f'unknown command "{got}" for "{PROG} routes"')
    command = argv[1]
    positional, flags = parse_flags(command, argv[2:])
    if command in NEEDS_NAME:
        if len(positional) != 1:
            raise CliError(f"accepts 1 arg(s), received {len(positional)}")
    elif positional:
        raise CliError(f'unknown command "{positional[0]}" for "{PROG} routes {command}"')
    output = str(flags.get("--output", "text"))
    if output not in ("text", "json", "json-compact") and not output.startswith("go-template="):
        raise CliError(f'invalid output format "{output}"')
    timeout = parse_duration(str(flags.get("--timeout", "10s")))
    if os.environ.get("AKKA_EMULATOR_LOGGED_OUT") == "1":
        raise CliError(
            f"you are not logged in; log in with '{PROG} auth login', "
            f"or set {PROG.upper()}_TOKEN to a refresh token"
        )
    delay = float(os.environ.get("AKKA_EMULATOR_DELAY") or 0)
    if delay:
        time.sleep(min(delay, timeout))
        if delay > timeout:
            raise CliError("rpc error: code = DeadlineExceeded desc = context deadline exceeded")
    name = positional[0] if positional else ""
    if name and not NAME_RE.match(name):
        raise CliError(f"invalid route name '{name}': use 1-63 of a-z, 0-9 and '-'")
    writes = command in ("create", "update", "delete")
    with state(writes) as data:
        project = select_project(data, flags)
        return HANDLERS[command](project, name, flags, output)


def parse_flags(command: str, args: list[str]) -> tuple[list[str], dict[str, Any]]:
    single, array, boolean = COMMANDS[command]
    single = single | INHERITED_VALUE
    boolean = boolean | INHERITED_BOOL
    positional: list[str] = []
    flags: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        flag, eq, value = arg.partition("=")
        flag = SHORT.get(flag, flag)
        if flag in boolean:
            flags[flag] = value.lower() != "false" if eq else True
            continue
        if flag not in single and flag not in array:
            kind = "shorthand flag" if not arg.startswith("--") else "flag"
            raise CliError(f"unknown {kind}: {arg.partition('=')[0]}")
        if not eq:
            if i >= len(args):
                raise CliError(f"flag needs an argument: {arg}")
            value = args[i]
            i += 1
        if flag in array:
            flags.setdefault(flag, []).append(value)
        else:
            flags[flag] = value
    return positional, flags


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not match:
        raise CliError(f'invalid argument "{text}" for "--timeout" flag: invalid duration')
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


@contextlib.contextmanager
def state(write: bool) -> Iterator[dict[str, Any]]:
    path = os.environ.get("AKKA_EMULATOR_STATE")
    if not path:
        raise CliError("AKKA_EMULATOR_STATE is not set (the emulator needs a state file)")
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        yield data
        for project in data.get("projects", {}).values():
            project.pop("_name", None)
        if write:
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, path)


def select_project(data: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    name = flags.get("--project") or data.get("current_project")
    if not name:
        raise CliError(f"no project specified; use --project or '{PROG} config set project NAME'")
    project = data.get("projects", {}).get(name)
    if project is None:
        raise CliError(f"project '{name}' not found")
    owner = flags.get("--owner")
    if owner and owner != project.get("owner"):
        raise CliError(f"project '{name}' not found for owner '{owner}'")
    region = flags.get("--region")
    if region and region not in project.get("regions", []):
        raise CliError(f"region '{region}' is not a region of project '{name}'")
    project.setdefault("routes", {})
    project["_name"] = name
    return project


def find_route(project: dict[str, Any], name: str) -> dict[str, Any]:
    route = project["routes"].get(name)
    if route is None:
        raise CliError(f"route '{name}' not found in project '{project['_name']}'")
    return route


def conditions(project: dict[str, Any], route: dict[str, Any]) -> list[dict[str, str]]:
    host = route["spec"]["host"]
    hostnames = project.get("hostnames")
    verified = hostnames is None or hostnames.get(host) == "verified"
    when = route["updated"]
    if verified:
        return [
            {
                "type": "HostValidation",
                "status": "True",
                "reason": "",
                "message": "",
                "lastTransitionTime": when,
            },
            {
                "type": "Ready",
                "status": "True",
                "reason": "",
                "message": "",
                "lastTransitionTime": when,
            },
        ]
    return [
        {
            "type": "HostValidation",
            "status": "False",
            "reason": "DnsNotVerified",
            "message": f"DNS records for {host} have not been verified",
            "lastTransitionTime": when,
        },
        {
            "type": "Ready",
            "status": "False",
            "reason": "HostNotValidated",
            "message": "the route's host has not been validated",
            "lastTransitionTime": when,
        },
    ]


def emit_json(value: Any, output: str) -> None:
    if os.environ.get("AKKA_EMULATOR_JSON") == "0":
        raise _TextInstead
    print(json.dumps(value, indent=None if output == "json-compact" else 2))


class _TextInstead(Exception):
    pass


def cmd_list(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    routes = sorted(project["routes"].items())
    if output != "text":
        with contextlib.suppress(_TextInstead):
            emit_json(
                [
                    {
                        "name": n,
                        "hostname": r["spec"]["host"],
                        "status": {"conditions": conditions(project, r)},
                    }
                    for n, r in routes
                ],
                output,
            )
            return 0
    if not routes:
        print("No routes found.")
        return 0
    rows = [("NAME", "HOSTNAME", "STATUS")]
    for route_name, route in routes:
        ready = conditions(project, route)[-1]["status"] == "True"
        rows.append((route_name, route["spec"]["host"], "Ready" if ready else "NotReady"))
    print_table(rows, indent="")
    return 0


def cmd_get(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    route = find_route(project, name)
    spec = route["spec"]
    conds = conditions(project, route)
    if output != "text":
        with contextlib.suppress(_TextInstead):
            emit_json({"name": name, "spec": spec, "status": {"conditions": conds}}, output)
            return 0
    print(f"Name:       {name}")
    print(f"Hostname:   {spec['host']}")
    print("Paths:")
    for rule in spec["routes"]:
        print(f"  {rule['prefix']:<24} {rule['route']['service']}")
    cors = spec.get("corsPolicy")
    if cors:
        print(f"CORS:       {', '.join(cors.get('allowOrigins', []))}")
    print(f"Status:     {'Ready' if conds[-1]['status'] == 'True' else 'NotReady'}")
    print("Conditions:")
    print_table(
        [("TYPE", "STATUS", "REASON", "MESSAGE")]
        + [(c["type"], c["status"], c["reason"], c["message"]) for c in conds],
        indent="  ",
    )
    return 0


def print_table(rows: list[tuple[str, ...]], indent: str) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print((indent + "   ".join(cells)).rstrip())


def cmd_export(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    route = find_route(project, name)
    print(yaml.safe_dump(route["spec"], sort_keys=False), end="")
    return 0


def cmd_create(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    if name in project["routes"]:
        raise CliError(f"route '{name}' already exists in project '{project['_name']}'")
    if "--filename" in flags:
        refuse_mixing(flags)
        spec = read_descriptor(flags["--filename"])
    else:
        if "--hostname" not in flags or "--path" not in flags:
            raise CliError("a route needs a file (-f) or at least --hostname and one --path")
        spec = apply_flags({"host": flags["--hostname"], "routes": []}, flags)
    store(project, name, spec)
    print(f"Route '{name}' was successfully created.")
    return 0


def cmd_update(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    route = find_route(project, name)
    spec = json.loads(json.dumps(route["spec"]))
    if "--filename" in flags:
        refuse_mixing(flags)
        incoming = read_descriptor(flags["--filename"])
        spec["host"] = incoming["host"]
        by_prefix = {rule["prefix"]: rule for rule in spec["routes"]}
        for rule in incoming["routes"]:
            by_prefix[rule["prefix"]] = rule  # merged, as a full-file update may do
        spec["routes"] = list(by_prefix.values())
        for section in ("tls", "validation", "corsPolicy"):
            if section in incoming:
                spec[section] = incoming[section]
    else:
        spec = apply_flags(spec, flags)
    store(project, name, spec)
    print(f"Route '{name}' was successfully updated.")
    return 0


def cmd_delete(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    find_route(project, name)
    prompts_off = os.environ.get(f"{PROG.upper()}_DISABLE_PROMPTS", "").lower() == "true"
    if not flags.get("--disable-prompt") and not prompts_off and not sys.stdin.isatty():
        raise CliError(f"confirmation required to delete route '{name}': use --disable-prompt")
    del project["routes"][name]
    print(f"Route '{name}' was successfully deleted.")
    return 0


HANDLERS = {
    "list": cmd_list,
    "get": cmd_get,
    "export": cmd_export,
    "create": cmd_create,
    "update": cmd_update,
    "delete": cmd_delete,
}


def refuse_mixing(flags: dict[str, Any]) -> None:
    mixed = sorted(f for f in flags if f in SPEC_VALUE | SPEC_ARRAY | REMOVE_ARRAY | REMOVE_BOOL)
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
    for item in flags.get("--remove-client-certificate-subject", []):
        matches = [m for m in matches if m != subject(item)]
    matches += [subject(item) for item in flags.get("--client-certificate-subject", [])]
    client["subjectMatches"] = matches
    if not matches:
        validation.pop("clientCertificate")
    basic = validation.setdefault("httpBasic", {})
    hashes = dict(basic.get("passwordHashes", {}))
    for user in flags.get("--remove-http-basic-credentials", []):
        hashes.pop(user, None)
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


def store(project: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
    hostnames = project.get("hostnames")
    if hostnames is not None and spec["host"] not in hostnames:
        raise CliError(
            f"hostname '{spec['host']}' is not registered for project '{project['_name']}'; "
            f"add it with '{PROG} project hostname add {spec['host']}'"
        )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    project["routes"][name] = {"spec": spec, "updated": now}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
