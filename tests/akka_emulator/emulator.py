"""An emulator of the `akka` and `kalix` CLIs' route surface, for tests only.

Two profiles, by the name it runs as (AKKA_EMULATOR_PROG): `akka` and `kalix`. What each
accepts, command by command, is the one table in surface.py, which
tests/backends/akka/test_cli_table.py compares with docs/akka.md; what the read commands
print is output.py, how writes change a spec is spec_edits.py.

Source for `akka`: the published Akka CLI reference, repository akka/akka-sdk,
docs/src/modules/reference/pages/cli/akka-cli/akka_routes_{list,get,export,create,update,
delete}.adoc, akka_projects_hostnames_list.adoc, reference/pages/descriptors/
route-descriptor.adoc and operations/pages/services/invoke-service.adoc (the only page that
shows output). Source for `kalix`: the seed's Kalix form (`kalix route create|update|get|
list|export`, `--hostname`, `--path P=S`, `--remove-path P`, `update -f FILE`,
`--cors-origin`, `kalix project hostname ...`); the Kalix CLI reference is not available.

DOCUMENTED and emulated exactly (anything else fails as cobra does: `Error: unknown flag:
--x`, exit 1; a boolean flag takes no value, so `--remove-http-basic alice` leaves a stray
argument and fails with `accepts 1 arg(s), received 2`):
- the flags of surface.py's `akka` table, per command, inherited ones included; `route` is
  an alias of `routes`, `project hostname` of `projects hostnames` (invoke-service.adoc
  writes `akka route create`, `akka project hostname add`).
- update's removals are --remove-path/-cors-origin/-cors-method (per item) and the
  booleans --remove-client-ca-secret, --remove-server-certificate-secret,
  --remove-client-certificate-subject ("Remove all client certificate subjects") and
  --remove-http-basic ("Remove all HTTP basic credentials"). No per-user or per-subject
  removal exists.
- "Routes are global by default ... unless created with flag --region"; "When updating or
  deleting the resource, the --region flag needs to be passed"; --force-regional /
  --force-global move a route between the two.
- Text output: `route list` columns NAME HOSTNAME PATHS CORS ENABLED STATUS (status e.g.
  `DnsNotVerified`); `route get` prints `Route:` / `Host:` (a TAB after the colon),
  `Paths:`, then `Status:` with one block per condition (`\tHostValidation: False`, then
  `\t\tLast Transition:`, `\t\tReason:`, `\t\tMessage:`); an unverified host gives
  HostValidation False / DnsNotVerified / "Host H did not resolve to a CNAME record. It must
  be configured to be a CNAME record to REGION.akka.app" and Ready False / Validating /
  "Validating hostname". `route export` prints the bare descriptor YAML. A route's host
  "must be configured as one of the project hostnames" (route-descriptor.adoc).

ASSUMED (the reference does not settle it; knobs pick the other reading where it matters):
1. JSON shapes (`-o json`): list is an array of route objects, get one route object:
   `{"name", "hostname", "spec", "status": {"conditions": [...]}}`, with `region` on a
   regional route. AKKA_EMULATOR_JSON_NAMES=metadata: `{"metadata": {"name", "region"}, ...}`
   instead. Condition fields `type`, `status` ("True"/"False"), `reason`, `message`,
   `lastTransitionTime`. AKKA_EMULATOR_JSON=0: a CLI whose `-o json` prints the text form.
2. `update -f FILE` MERGES (AKKA_EMULATOR_FILE_UPDATE=merge, the default): path rules are
   upserted by prefix (live prefixes missing from the file stay), a section in the file
   (tls, validation, corsPolicy) replaces the live one, a section missing from the file
   stays. `deep`: sets inside sections (CORS values, subjects, HTTP basic users) merge too.
   `replace`: the file replaces the route. The backend reads back, so all three must work.
3. `-f` cannot be combined with the other route flags (the reference says "either ... or").
4. `update --path` on an existing prefix replaces its service; `--remove-path` of an absent
   prefix is an error.
5. Subject flags: a leading `*` means hasSuffix, a trailing `*` hasPrefix, else exact.
6. `--remove-http-basic` removes the realm with the users; a realm without users is dropped.
7. CORS left without origins is dropped.
8. Empty list text is `No routes found.`; a healthy condition prints `Last Transition:`
   only (no Reason / Message); the date is Go's ANSIC layout.
9. Region (AKKA_EMULATOR_REGION_REQUIRED=0 relaxes a): (a) update / delete of a regional
   route without --region (update: without --force-global) fails with "... the --region
   flag needs to be passed"; (b) update --region of a global route without
   --force-regional fails ("is a global resource"); delete --region of a global route is
   accepted; (c) list / get / export show every route whatever the --region.
10. Error texts; every failure exits 1. `delete` without --disable-prompt and without a
   terminal refuses ("if input is required ... an error will be raised").
11. `kalix` accepts, besides the seed's flags, `--project` and `-o/--output` on every
   command, and has `route delete` and `project hostname list` (the seed names neither).
12. `kalix route delete` asks nothing (the seed has no --disable-prompt); `kalix` has no
   --timeout (the default 10s applies to AKKA_EMULATOR_DELAY), no --owner, no --region.
13. `projects hostnames list` prints the columns invoke-service.adoc shows for `project
   hostname add` (HOSTNAME GENERATED REGION CNAME), or `No hostnames found.`; its JSON is an
   array of `{"hostname", "generated", "region", "cname"}` (with
   AKKA_EMULATOR_JSON_NAMES=metadata the name is under `metadata.name`).

State: a JSON file named by AKKA_EMULATOR_STATE:
  {"current_project": "shop",
   "projects": {"shop": {"owner": "acme", "regions": ["gcp-us-east1"],
                         "hostnames": null | {"host": "verified" | "unverified"},
                         "routes": {"NAME": {"spec": {...}, "updated": "..."}}}}}
`hostnames: null` accepts every host as verified (and lists none). Test knobs:
AKKA_EMULATOR_LOGGED_OUT=1 (not logged in), AKKA_EMULATOR_DELAY=SECONDS (a slow platform;
past --timeout it fails with "context deadline exceeded"), AKKA_EMULATOR_JSON=0 (a CLI
whose `-o json` prints text), AKKA_EMULATOR_LOG=FILE (appends each argv as a JSON line),
AKKA_EMULATOR_PROG=kalix.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import yaml
from output import cmd_get, cmd_hostnames, cmd_list, find_route
from spec_edits import CliError, apply_flags, file_update, read_descriptor, refuse_mixing
from surface import ARRAY, BOOLEAN, GROUPS, HOSTNAMES, SHORT, accepted

PROG = os.environ.get("AKKA_EMULATOR_PROG") or os.path.basename(sys.argv[0]) or "akka"
PROFILE = "kalix" if PROG == "kalix" else "akka"
NEEDS_NAME = {"get", "export", "create", "update", "delete"}
VERBS = {"list", "get", "export", "create", "update", "delete"}
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


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


def command_of(argv: list[str]) -> tuple[str, list[str]]:
    """The reference's name of the command (`routes update`) and the arguments after it."""
    groups, hostnames = GROUPS[PROFILE], HOSTNAMES[PROFILE]
    group = groups.get(argv[0]) if argv else None
    if group is None:
        raise CliError(f'unknown command "{argv[0] if argv else ""}" for "{PROG}"')
    if group in ("routes", "route"):
        if len(argv) < 2 or argv[1] not in VERBS:
            got = argv[1] if len(argv) > 1 else ""
            raise CliError(f'unknown command "{got}" for "{PROG} {group}"')
        return f"{group} {argv[1]}", argv[2:]
    sub = hostnames.get(argv[1]) if len(argv) > 1 else None
    if sub is None or len(argv) < 3 or argv[2] != "list":
        raise CliError(f'unknown command "{" ".join(argv[1:3])}" for "{PROG} {group}"')
    return f"{group} {sub} list", argv[3:]


def run(argv: list[str]) -> int:
    command, rest = command_of(argv)
    verb = command.split()[-1] if command.startswith("rout") else "hostnames"
    positional, flags = parse_flags(command, rest)
    if verb in NEEDS_NAME:
        if len(positional) != 1:
            raise CliError(f"accepts 1 arg(s), received {len(positional)}")
    elif positional:
        raise CliError(f'unknown command "{positional[0]}" for "{PROG} {command}"')
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
    writes = verb in ("create", "update", "delete")
    with state(writes) as data:
        project = select_project(data, flags)
        return HANDLERS[verb](project, name, flags, output)


def parse_flags(command: str, args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Cobra's parsing against the profile's table (surface.py): a boolean takes no value
    (`--flag=false` apart), anything not in the table is `unknown flag`."""
    table = accepted(PROFILE, command)
    short = SHORT[PROFILE]
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
        flag = short.get(flag, flag)
        kind = table.get(flag)
        if kind == BOOLEAN:
            flags[flag] = value.lower() != "false" if eq else True
            continue
        if kind is None:
            what = "shorthand flag" if not arg.startswith("--") else "flag"
            raise CliError(f"unknown {what}: {arg.partition('=')[0]}")
        if not eq:
            if i >= len(args):
                raise CliError(f"flag needs an argument: {arg}")
            value = args[i]
            i += 1
        if kind == ARRAY:
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
    # "Routes are global by default ... unless created with flag --region [region]".
    store(project, name, spec, region=flags.get("--region"))
    print(f"Route '{name}' was successfully created.")
    return 0


def cmd_update(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    route = find_route(project, name)
    region = placement(route, name, flags)
    spec = json.loads(json.dumps(route["spec"]))
    if "--filename" in flags:
        refuse_mixing(flags)
        spec = file_update(spec, read_descriptor(flags["--filename"]))
    else:
        spec = apply_flags(spec, flags)
    store(project, name, spec, region=region)
    print(f"Route '{name}' was successfully updated.")
    return 0


def placement(route: dict[str, Any], name: str, flags: dict[str, Any]) -> str | None:
    """Where the route lives after an update: ASSUMED rules for --region (see the top)."""
    current = route.get("region")
    region = flags.get("--region")
    if flags.get("--force-global"):
        return None
    if flags.get("--force-regional"):
        if not region:
            raise CliError("--force-regional needs --region")
        return str(region)
    if current and not region and os.environ.get("AKKA_EMULATOR_REGION_REQUIRED") != "0":
        raise CliError(
            f"route '{name}' is a regional resource in region '{current}': "
            "the --region flag needs to be passed"
        )
    if region and not current:
        raise CliError(
            f"route '{name}' is a global resource: use --force-regional to make it regional"
        )
    if region and current and region != current:
        raise CliError(f"route '{name}' not found in region '{region}'")
    return current


def cmd_delete(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    route = find_route(project, name)
    current, region = route.get("region"), flags.get("--region")
    if current and region != current and os.environ.get("AKKA_EMULATOR_REGION_REQUIRED") != "0":
        raise CliError(
            f"route '{name}' is a regional resource in region '{current}': "
            "the --region flag needs to be passed"
        )
    prompts_off = os.environ.get(f"{PROG.upper()}_DISABLE_PROMPTS", "").lower() == "true"
    # ASSUMED (12): `kalix route delete` asks nothing (no --disable-prompt in the seed).
    asks = PROFILE == "akka" and not sys.stdin.isatty()
    if asks and not flags.get("--disable-prompt") and not prompts_off:
        raise CliError(f"confirmation required to delete route '{name}': use --disable-prompt")
    del project["routes"][name]
    print(f"Route '{name}' was successfully deleted.")
    return 0


HANDLERS = {
    "hostnames": cmd_hostnames,
    "list": cmd_list,
    "get": cmd_get,
    "export": cmd_export,
    "create": cmd_create,
    "update": cmd_update,
    "delete": cmd_delete,
}


def store(
    project: dict[str, Any], name: str, spec: dict[str, Any], region: str | None = None
) -> None:
    hostnames = project.get("hostnames")
    if hostnames is not None and spec["host"] not in hostnames:
        raise CliError(
            f"hostname '{spec['host']}' is not registered for project '{project['_name']}'; "
            f"add it with '{PROG} project hostname add {spec['host']}'"
        )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    project["routes"][name] = {"spec": spec, "updated": now}
    if region:
        project["routes"][name]["region"] = region


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
