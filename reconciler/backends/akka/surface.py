"""Which CLI the backend drives and exactly what it may send to it (docs/akka.md, "Every
flag routes sends").

Every flag the backend puts on a command line is spelled here or in ``flags.py``; the test
``tests/backends/akka/test_cli_table.py`` reads docs/akka.md's table and fails on any flag
literal of these modules the table does not list as sent.

``akka:`` follows the published Akka CLI reference (``akka routes …``, ``akka projects
hostnames list``). ``kalix:`` follows the seed's Kalix form (``kalix route …`` with
``--hostname``, ``--path``, ``--remove-path``, ``-f``, ``--cors-origin``, ``kalix project
hostname …``); the Kalix CLI reference itself is not available, so ``--project`` and
``-o json`` there are assumptions, and nothing else is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE = "-f"
OUTPUT = "-o"
PROJECT = "--project"
OWNER = "--owner"
REGION = "--region"
TIMEOUT = "--timeout"
DISABLE_PROMPT = "--disable-prompt"
PATH = "--path"
REMOVE_PATH = "--remove-path"
REMOVE_CORS_ORIGIN = "--remove-cors-origin"
REMOVE_CORS_METHOD = "--remove-cors-method"
REMOVE_CLIENT_CA = "--remove-client-ca-secret"
REMOVE_SERVER_CERTIFICATE = "--remove-server-certificate-secret"
REMOVE_SUBJECTS = "--remove-client-certificate-subject"  # boolean: removes all subjects
REMOVE_HTTP_BASIC = "--remove-http-basic"  # boolean: removes all credentials


@dataclass(frozen=True)
class CliSurface:
    """The commands and flags of one CLI that the backend uses (None: the CLI has none)."""

    name: str
    routes: str  # the command group: `akka routes`, `kalix route`
    hostnames: tuple[str, ...]  # the command that lists the project's hostnames
    hostname_add: str  # the command that registers one, for advice
    removals: frozenset[str]  # what `update` can remove
    prompt_flag: str | None = None
    timeout_flag: str | None = None
    owner_flag: str | None = None
    region_flag: str | None = None

    def can_remove(self, flag: str) -> bool:
        return flag in self.removals


AKKA = CliSurface(
    name="akka",
    routes="routes",
    hostnames=("projects", "hostnames", "list"),
    hostname_add="akka projects hostnames add",
    removals=frozenset(
        {
            REMOVE_PATH,
            REMOVE_CORS_ORIGIN,
            REMOVE_CORS_METHOD,
            REMOVE_CLIENT_CA,
            REMOVE_SERVER_CERTIFICATE,
            REMOVE_SUBJECTS,
            REMOVE_HTTP_BASIC,
        }
    ),
    prompt_flag=DISABLE_PROMPT,
    timeout_flag=TIMEOUT,
    owner_flag=OWNER,
    region_flag=REGION,
)
KALIX = CliSurface(
    name="kalix",
    routes="route",
    hostnames=("project", "hostname", "list"),
    hostname_add="kalix project hostname add",
    removals=frozenset({REMOVE_PATH}),
)
SURFACES = {"akka": AKKA, "kalix": KALIX}
