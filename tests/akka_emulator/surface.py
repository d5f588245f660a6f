"""The flags each emulated CLI accepts, command by command: the one table the emulator parses
with, and the one `tests/backends/akka/test_cli_table.py` compares with docs/akka.md.

`akka`: exactly the options of the published reference (akka/akka-sdk,
docs/src/modules/reference/pages/cli/akka-cli/akka_routes_{list,get,export,create,update,
delete}.adoc and akka_projects_hostnames_list.adoc), inherited options under EVERY.
`kalix`: no Kalix CLI reference is available; the flags are the ones the seed documents
(`kalix route create|update|get|list|export`, `--hostname`, `--path P=S`, `--remove-path P`,
`update -f FILE`, `--cors-origin`, `kalix project hostname ...`) plus `--project` and
`-o/--output`, which are ASSUMED (the Akka CLI's inherited options of the same name).
"""

from __future__ import annotations

STRING, ARRAY, DURATION, BOOLEAN = "string", "stringArray", "duration", "boolean"
EVERY = "*"  # options every command of that CLI accepts

_AKKA_PROJECT = {"--owner": STRING, "--project": STRING, "--region": STRING}
_AKKA_READ = {**_AKKA_PROJECT, "--all-regions": BOOLEAN}
_AKKA_WRITE = {
    **_AKKA_PROJECT,
    "--client-ca-secret": STRING,
    "--client-certificate-subject": ARRAY,
    "--cors-method": ARRAY,
    "--cors-origin": ARRAY,
    "--filename": STRING,
    "--force-global": BOOLEAN,
    "--force-regional": BOOLEAN,
    "--hostname": STRING,
    "--http-basic-credentials": ARRAY,
    "--http-basic-realm": STRING,
    "--path": ARRAY,
    "--server-certificate-secret": STRING,
}
_AKKA_REMOVE = {
    "--remove-client-ca-secret": BOOLEAN,
    "--remove-client-certificate-subject": BOOLEAN,  # "Remove all client certificate subjects"
    "--remove-cors-method": ARRAY,
    "--remove-cors-origin": ARRAY,
    "--remove-http-basic": BOOLEAN,  # "Remove all HTTP basic credentials"
    "--remove-path": ARRAY,
    "--remove-server-certificate-secret": BOOLEAN,
}
_KALIX_WRITE = {"--cors-origin": ARRAY, "--filename": STRING, "--hostname": STRING, "--path": ARRAY}

ACCEPTED: dict[str, dict[str, dict[str, str]]] = {
    "akka": {
        EVERY: {
            "--cache-file": STRING,
            "--config": STRING,
            "--context": STRING,
            "--disable-prompt": BOOLEAN,
            "--help": BOOLEAN,
            "--output": STRING,
            "--page-mode": STRING,
            "--quiet": BOOLEAN,
            "--timeout": DURATION,
            "--use-grpc-web": BOOLEAN,
            "--verbose": BOOLEAN,
        },
        "routes list": _AKKA_READ,
        "routes get": _AKKA_READ,
        "routes export": _AKKA_READ,
        "routes delete": _AKKA_READ,
        "routes create": _AKKA_WRITE,
        "routes update": {**_AKKA_WRITE, **_AKKA_REMOVE},
        "projects hostnames list": {"--owner": STRING, "--project": STRING},
    },
    "kalix": {
        EVERY: {"--output": STRING, "--project": STRING},
        "route list": {},
        "route get": {},
        "route export": {},
        "route delete": {},
        "route create": _KALIX_WRITE,
        "route update": {**_KALIX_WRITE, "--remove-path": ARRAY},
        "project hostname list": {},
    },
}
SHORT: dict[str, dict[str, str]] = {
    "akka": {
        "-o": "--output",
        "-q": "--quiet",
        "-v": "--verbose",
        "-f": "--filename",
        "-h": "--help",
    },
    "kalix": {"-o": "--output", "-f": "--filename"},
}
# Command words as typed -> the reference's name (cobra aliases: `akka route create` is how
# invoke-service.adoc writes `akka routes create`, `akka project hostname` likewise).
GROUPS: dict[str, dict[str, str]] = {
    "akka": {"routes": "routes", "route": "routes", "projects": "projects", "project": "projects"},
    "kalix": {"route": "route", "routes": "route", "project": "project", "projects": "project"},
}
HOSTNAMES: dict[str, dict[str, str]] = {
    "akka": {"hostnames": "hostnames", "hostname": "hostnames"},
    "kalix": {"hostname": "hostname", "hostnames": "hostname"},
}


def accepted(prog: str, command: str) -> dict[str, str]:
    """Every flag (long form) ``command`` of ``prog`` accepts, with what it takes."""
    return {**ACCEPTED[prog][EVERY], **ACCEPTED[prog][command]}
