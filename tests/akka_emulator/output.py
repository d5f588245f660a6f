"""What the emulated CLIs print for the read commands: `route list`, `route get` (the
documented text forms of invoke-service.adoc, or the ASSUMED JSON shapes) and `projects
hostnames list`. The numbered ASSUMED readings are those of emulator.py's list."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from typing import Any

from spec_edits import CliError


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
    region = route.get("region") or project.get("regions", ["us-east1"])[0]
    return [
        {
            "type": "HostValidation",
            "status": "False",
            "reason": "DnsNotVerified",
            "message": f"Host {host} did not resolve to a CNAME record. It must be configured "
            f"to be a CNAME record to {region.removeprefix('gcp-')}.akka.app",
            "lastTransitionTime": when,
        },
        {
            "type": "Ready",
            "status": "False",
            "reason": "Validating",
            "message": "Validating hostname",
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
            emit_json([json_route(project, n, r) for n, r in routes], output)
            return 0
    if not routes:
        print("No routes found.")
        return 0
    rows = [("NAME", "HOSTNAME", "PATHS", "CORS ENABLED", "STATUS")]
    for route_name, route in routes:
        spec = route["spec"]
        ready = conditions(project, route)[-1]["status"] == "True"
        host_check = conditions(project, route)[0]
        rows.append(
            (
                route_name,
                spec["host"],
                ",".join(rule["prefix"] for rule in spec["routes"]),
                "true" if spec.get("corsPolicy") else "false",
                "Ready" if ready else host_check["reason"] or "NotReady",
            )
        )
    print_table(rows, indent="")
    return 0


def json_route(project: dict[str, Any], name: str, route: dict[str, Any]) -> dict[str, Any]:
    """ASSUMED JSON shape (undocumented): `name` at the top, or under `metadata` with
    AKKA_EMULATOR_JSON_NAMES=metadata; a regional route carries `region`."""
    conds = conditions(project, route)
    out: dict[str, Any] = {"spec": route["spec"], "status": {"conditions": conds}}
    if os.environ.get("AKKA_EMULATOR_JSON_NAMES") == "metadata":
        out = {"metadata": {"name": name}, **out}
        if route.get("region"):
            out["metadata"]["region"] = route["region"]
    else:
        out = {"name": name, "hostname": route["spec"]["host"], **out}
        if route.get("region"):
            out["region"] = route["region"]
    return out


def cmd_get(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    route = find_route(project, name)
    spec = route["spec"]
    conds = conditions(project, route)
    if output != "text":
        with contextlib.suppress(_TextInstead):
            emit_json(json_route(project, name, route), output)
            return 0
    # The documented form (invoke-service.adoc): TAB after `Route:` / `Host:`, condition
    # blocks indented with one TAB, their fields with two.
    print(f"Route: \t{name}")
    print(f"Host: \t{spec['host']}")
    print()
    print("Paths:")
    for rule in spec["routes"]:
        print(f"         {rule['prefix']:<34}{rule['route']['service']}")
    print()
    print("Status:")
    for cond in conds:
        print(f"\t{cond['type']}: {cond['status']}")
        print(f"\t\tLast Transition: \t{transition_text(cond['lastTransitionTime'])}")
        if cond["reason"]:  # ASSUMED: a healthy condition prints no Reason / Message
            print(f"\t\tReason: \t{cond['reason']}")
        if cond["message"]:
            print(f"\t\tMessage: \t{cond['message']}")
    return 0


def transition_text(when: str) -> str:
    """`Tue Nov  9 16:45:53 2021`, the documented date form (Go's ANSIC layout)."""
    parsed = datetime.datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ")
    return parsed.strftime("%a %b ") + f"{parsed.day:>2}" + parsed.strftime(" %H:%M:%S %Y")


def print_table(rows: list[tuple[str, ...]], indent: str) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print((indent + "   ".join(cells)).rstrip())


def cmd_hostnames(project: dict[str, Any], name: str, flags: dict[str, Any], output: str) -> int:
    """`projects hostnames list`: the columns `project hostname add` prints in
    invoke-service.adoc (HOSTNAME GENERATED REGION CNAME), ASSUMED to be those of `list`."""
    region = project.get("regions", ["gcp-us-east1"])[0].removeprefix("gcp-")
    rows = [
        {"hostname": host, "generated": False, "region": region, "cname": f"{region}.akka.app"}
        for host in sorted(project.get("hostnames") or {})
    ]
    if output != "text":
        with contextlib.suppress(_TextInstead):
            names = os.environ.get("AKKA_EMULATOR_JSON_NAMES") == "metadata"
            emit_json([json_hostname(row, names) for row in rows], output)
            return 0
    if not rows:
        print("No hostnames found.")
        return 0
    table = [("HOSTNAME", "GENERATED", "REGION", "CNAME")]
    table += [(r["hostname"], "false", r["region"], r["cname"]) for r in rows]
    print_table(table, indent="")
    return 0


def json_hostname(row: dict[str, Any], metadata: bool) -> dict[str, Any]:
    """ASSUMED JSON shape of a hostname: its fields, the name as `hostname` (or under
    `metadata.name` with AKKA_EMULATOR_JSON_NAMES=metadata)."""
    if metadata:
        return {
            "metadata": {"name": row["hostname"]},
            **{k: v for k, v in row.items() if k != "hostname"},
        }
    return row
