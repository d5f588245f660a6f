"""The ``akka:`` / ``kalix:`` backend: drives the platform CLI.

Reads: names from ``routes list``, each spec from ``routes export NAME`` (the descriptor
YAML), status conditions from ``routes get NAME``; ``-o json`` where it parses, text forms
otherwise; up to 8 calls at once. Writes: ``routes create|update NAME -f FILE``, granular
``--path`` / ``--remove-…`` flags where a file update merges rather than replaces, and
``routes delete NAME``; every write is read back and compared with the planned spec.

The platform stores no labels, so ownership comes from the config's ``scope`` globs and
``LiveRoute`` labels/annotations stay empty. The CLI has no versions either: the version
is the fingerprint of the exported spec, checked by reading before each write. That check
is best-effort only: the platform offers no atomic compare-and-set, so a writer that slips
in between our read and our write is not detected until the read-back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from reconciler.backends.akka import partial
from reconciler.backends.akka.cli import cmd_output, descriptor_file
from reconciler.backends.akka.flags import (
    cleanup_after_file,
    differing_fields,
    path_flags,
    paths_only_change,
)
from reconciler.backends.akka.parse import (
    conditions_from_get,
    hostnames_from_list,
    json_output_unsupported,
    names_from_list,
    region_from_get,
    spec_from_export,
)
from reconciler.backends.akka.surface import FILE, OUTPUT
from reconciler.backends.akka.target import (
    DEFAULT_TIMEOUT,
    TARGET_KEYS,
    AkkaTarget,
    target_from,
)
from reconciler.backends.base import BaseBackend, Capabilities, StoreIdentity
from reconciler.backends.options import AkkaOptions
from reconciler.errors import (
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
)
from reconciler.model import LiveRoute, RouteSpec

READ_PARALLELISM = 8
__all__ = ["DEFAULT_TIMEOUT", "TARGET_KEYS", "AkkaBackend", "AkkaTarget", "open_akka"]


class AkkaBackend(BaseBackend):
    """Routes of one Akka (or Kalix) project, through its CLI. Version checks are best-effort."""

    capabilities = Capabilities(labels=False, conditional_writes=False)

    def __init__(self, url: str, target: AkkaTarget, env: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.target = target
        self._env = env
        self._json_works: dict[str, bool] = {}
        # Route name -> its region (None: global), as the last `routes get` showed it.
        self._regional: dict[str, str | None] = {}

    def identity(self) -> StoreIdentity:
        """The CLI and the project it addresses (the CLI's current project when none is set):
        the platform gives no store id, so a saved plan names where it goes by these."""
        project = self.target.project or "(the CLI's current project)"
        owner = f", owner {self.target.owner}" if self.target.owner else ""
        return StoreIdentity(f"{self.target.surface.name}: project {project}{owner}")

    # -- reads ---------------------------------------------------------------------------

    def list_routes(self) -> list[LiveRoute]:
        return sorted(self.get_routes(self._names()).values(), key=lambda r: r.name)

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=min(READ_PARALLELISM, len(wanted))) as pool:
            found = list(pool.map(self.get_route, wanted))
        return {route.name: route for route in found if route is not None}

    def get_route(self, name: str) -> LiveRoute | None:
        spec = self._export(name)
        if spec is None:
            return None
        try:
            output = self._read("get", name)
        except NotFoundError:
            return None  # deleted between the two calls
        self._learn_region(name, output)
        conditions = conditions_from_get(*output)
        return LiveRoute(name=name, spec=spec, version=spec.fingerprint(), conditions=conditions)

    def _names(self) -> list[str]:
        return names_from_list(*self._read("list"))

    def _export(self, name: str) -> RouteSpec | None:
        try:
            text = self._run(["export", name])
        except NotFoundError:
            return None
        return spec_from_export(
            text, where=f"`{self.target.executable} {self.target.surface.routes} export {name}`"
        )

    def _read(self, command: str, *args: str, words: tuple[str, ...] = ()) -> tuple[str, bool]:
        """Output of a read command, and whether it is JSON (tried first, once per command).

        ``words`` replace the routes command group (``projects hostnames`` for ``list``)."""
        key = " ".join((*words, command))
        if self._json_works.get(key, True):
            try:
                text = self._run([command, *args, OUTPUT, "json"], words=words)
                json.loads(text)
            except ValueError:
                self._json_works[key] = False
            except (InvalidSpecError, BackendError) as exc:
                if type(exc) not in (BackendError, InvalidSpecError):
                    raise
                if not json_output_unsupported(exc.message):
                    raise
                self._json_works[key] = False  # a CLI without `-o json` here
            else:
                self._json_works[key] = True
                return text, True
        return self._run([command, *args], words=words), False

    # -- writes --------------------------------------------------------------------------

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> LiveRoute:
        # No read first: the CLI refuses an existing name, which reads as ConflictError.
        # Global unless the config names it regional (`regional`): the platform's default.
        region = self.target.created_region(name)
        with descriptor_file(spec) as path:
            self._run(["create", name, FILE, path], region=region)
        self._regional[name] = region
        return self._verify(name, spec, "create")

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        current = self._current(name, expected_version)
        if current == spec:
            return self._verify(name, spec, "update")
        region = self._region_of(name)
        if paths_only_change(current, spec):
            self._run(["update", name, *path_flags(current, spec)], region=region)
            return self._verify(name, spec, "update")
        with descriptor_file(spec) as path:
            # First the whole descriptor: it adds and changes, so a failure here leaves the
            # route as it was, and nothing after it can leave it less protected than planned
            # by accident (the removals below are what the plan drops).
            self._run(["update", name, FILE, path], region=region)
            self._finish_file_update(name, spec, path, region)
        return self._verify(name, spec, "update")

    def _finish_file_update(
        self, name: str, spec: RouteSpec, path: str, region: str | None
    ) -> None:
        """Remove what a merging ``update -f`` kept; a failure says what was written."""
        edit = f"{self.target.executable} {self.target.surface.routes} edit {name}"
        try:
            live = self._export(name)
        except BackendError as exc:
            raise partial.read_back_failed(name, self.url, exc) from exc
        if live is None or live == spec:
            return  # the read-back in _verify reports a missing route
        cleanup = cleanup_after_file(live, spec)
        if not cleanup:
            return
        kept = cleanup.beyond(self.target.surface.can_remove)  # the Kalix form: paths only
        if kept:
            raise partial.beyond_cli(name, self.url, self.target.surface.name, kept, edit)
        try:
            self._run(["update", name, *cleanup.removals, *cleanup.resets], region=region)
        except BackendError as exc:
            raise partial.removal_failed(name, self.url, cleanup, exc) from exc
        if not cleanup.resets:
            return
        try:
            self._run(["update", name, FILE, path], region=region)
        except BackendError as exc:
            raise partial.re_add_failed(name, self.url, cleanup, edit, exc) from exc

    # -- hostnames -------------------------------------------------------------------------

    def unregistered_hosts(self, hosts: Iterable[str]) -> set[str]:
        """Hosts that are not hostnames of the project (``akka projects hostnames list``):
        the platform provisions no route for them."""
        wanted = {host.lower() for host in hosts}
        if not wanted:
            return set()
        return wanted - set(self.hostnames())

    def hostnames(self) -> dict[str, str | None]:
        """The project's hostnames, each with the CNAME target the CLI shows (or None)."""
        words = self.target.surface.hostnames
        return hostnames_from_list(*self._read(words[-1], words=words[:-1]))

    def hostname_advice(self, host: str) -> str:
        """What to do about a host that is not a hostname of the project."""
        return (
            f"register it with `{self.target.surface.hostname_add} {host}` and create the "
            "CNAME record that command prints, before applying"
        )

    def write_notes(self, name: str, spec: RouteSpec) -> list[str]:
        """Where a create puts the route: global by default, regional where config says."""
        region = self.target.created_region(name)
        if region is None:
            return []
        return [
            f"route {name!r} is created regional, in region {region} (the `regional` setting):"
            f" `{self.target.executable} {self.target.surface.routes} create {name} "
            f"--region {region}`"
        ]

    def delete_route(self, name: str, expected_version: str | None) -> None:
        self._current(name, expected_version)
        self._run(["delete", name], region=self._region_of(name))
        self._regional.pop(name, None)
        if self._export(name) is not None:
            raise BackendError(
                f"route {name} on {self.url}: `delete` succeeded but the route reads back",
                hint="someone may have re-created it; run `routes plan` to see it",
            )

    def _current(self, name: str, expected_version: str | None) -> RouteSpec:
        """The live spec, after the best-effort version check (read, compare, then write)."""
        current = self._export(name)
        if current is None:
            raise NotFoundError(f"route {name} does not exist on {self.url}")
        if expected_version is not None and current.fingerprint() != expected_version:
            raise ConflictError(
                f"route {name} on {self.url} changed since it was read",
                hint="run `routes plan` again to see the current state",
            )
        return current

    def _verify(self, name: str, planned: RouteSpec, action: str) -> LiveRoute:
        live = self.get_route(name)
        if live is None or live.spec != planned:
            fields = differing_fields(live.spec if live else None, planned)
            raise BackendError(
                f"route {name} on {self.url}: after `{action}` the route read back differs "
                f"from the plan in: {', '.join(fields)}",
                hint="someone else may have changed it meanwhile, or the CLI merged rather "
                "than replaced; run `routes plan` to see the difference",
            )
        return live

    def _learn_region(self, name: str, output: tuple[str, bool]) -> None:
        # A regional route whose output names no region is taken to be in the configured one.
        self._regional[name] = region_from_get(*output, default=self.target.region)

    def _region_of(self, name: str) -> str | None:
        """The region of a route the backend knows to be regional (None: a global route).

        Known from ``routes get -o json`` (the ``region`` field is an assumption, see
        tests/akka_emulator/emulator.py); read now if this backend has not read it yet.
        """
        if name not in self._regional:
            with contextlib.suppress(NotFoundError):
                self._learn_region(name, self._read("get", name))
        return self._regional.get(name)

    def _run(self, args: list[str], region: str | None = None, words: tuple[str, ...] = ()) -> str:
        target = self.target
        argv = [target.executable, *(words or (target.surface.routes,))]
        argv += [*args, *target.common_flags()]
        if region and target.surface.region_flag:
            argv += [target.surface.region_flag, region]
        # A CLI with --timeout enforces it itself (the grace covers its start-up); one
        # without (the Kalix form) is killed at the timeout.
        grace = 10 if target.surface.timeout_flag else 0
        return cmd_output(argv, timeout=target.timeout + grace, env=self._env)


def open_akka(url: str, options: AkkaOptions | None = None) -> AkkaBackend:
    """An ``AkkaBackend`` for ``akka:?project=P&region=R&owner=O&timeout=30`` (or ``kalix:``);
    the URL's options override those of the ``akka:`` settings."""
    return AkkaBackend(url, target_from(url, options))
