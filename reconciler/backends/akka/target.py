"""Which CLI the ``akka:`` / ``kalix:`` backend runs, against which project, and which routes
it creates regional: from the backend URL's query and the ``akka:`` settings."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from reconciler.backends.akka.surface import AKKA, SURFACES, CliSurface
from reconciler.backends.options import AKKA_KEYS, AkkaOptions, seconds
from reconciler.errors import UsageError

DEFAULT_TIMEOUT = 30.0
TARGET_KEYS = AKKA_KEYS  # what a backend URL's query may set, as the `akka:` settings may


@dataclass(frozen=True)
class AkkaTarget:
    """Which CLI to run and which project it addresses."""

    executable: str = "akka"
    project: str | None = None
    region: str | None = None
    owner: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    surface: CliSurface = AKKA
    regional: tuple[str, ...] = ()  # route name globs created with --region (config asks)

    def common_flags(self) -> list[str]:
        """Flags of every call. Not ``--region``: routes are global unless created with it
        (invoke-service.adoc), so it goes only where a route is regional."""
        surface = self.surface
        flags = [surface.prompt_flag] if surface.prompt_flag else []
        if surface.timeout_flag:
            flags += [surface.timeout_flag, f"{self.timeout:g}s"]
        if self.project:
            flags += ["--project", self.project]
        if self.owner and surface.owner_flag:
            flags += [surface.owner_flag, self.owner]
        return flags

    def created_region(self, name: str) -> str | None:
        """The region route ``name`` is created in (None: global, the platform's default)."""
        if any(fnmatch.fnmatchcase(name, glob) for glob in self.regional):
            return self.region
        return None


def target_from(url: str, options: AkkaOptions | None) -> AkkaTarget:
    """The ``AkkaTarget`` of ``akka:?project=P&region=R&owner=O&timeout=30&regional=G1,G2``
    (or ``kalix:``); the URL's options override those of the ``akka:`` settings."""
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if scheme not in SURFACES:
        raise UsageError(f"not an akka: or kalix: backend URL: {url!r}")
    location, _, query = rest.lstrip("/").partition("?")
    if location:
        raise UsageError(
            f"unexpected {location!r} in backend URL {url!r}",
            hint=f"name the project as a query: {scheme}:?project={location}",
        )
    from_url: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in TARGET_KEYS:
            raise UsageError(
                f"unknown option {key!r} in backend URL {url!r}",
                hint=f"known options: {', '.join(TARGET_KEYS)}",
            )
        from_url[key] = value
    return _checked(_target(scheme, options or AkkaOptions(), from_url, url), url)


def _target(scheme: str, options: AkkaOptions, from_url: Mapping[str, str], url: str) -> AkkaTarget:
    timeout = options.timeout or DEFAULT_TIMEOUT
    if "timeout" in from_url:
        parsed = seconds(from_url["timeout"])
        if parsed is None:
            raise UsageError(
                f"timeout {from_url['timeout']!r} for {url!r} is not a positive number of seconds",
                hint="write e.g. timeout=30",
            )
        timeout = parsed

    def text(key: str) -> str | None:
        if key in from_url:  # the URL is the more specific setting, even when blank
            return from_url[key] or None
        value: str | None = getattr(options, key)
        return value

    regional = options.regional
    if "regional" in from_url:
        regional = tuple(g.strip() for g in from_url["regional"].split(",") if g.strip())
    return AkkaTarget(
        executable=text("executable") or scheme,
        project=text("project"),
        region=text("region"),
        owner=text("owner"),
        timeout=timeout,
        surface=SURFACES[scheme],
        regional=regional,
    )


def _checked(target: AkkaTarget, url: str) -> AkkaTarget:
    """Refuse settings the chosen CLI has no flag for, rather than dropping them silently."""
    surface = target.surface
    if target.owner and not surface.owner_flag:
        raise UsageError(
            f"`owner` is set for {url!r}, but the {surface.name} CLI documents no --owner",
            hint="remove `owner`, or use the akka: backend (the Akka CLI has --owner)",
        )
    if target.regional and not surface.region_flag:
        raise UsageError(
            f"`regional` is set for {url!r}, but the {surface.name} CLI documents no --region",
            hint="remove `regional`: routes are then created global",
        )
    if target.regional and not target.region:
        raise UsageError(
            f"`regional` names routes to create regional for {url!r}, but no `region` is set",
            hint="set `region` (e.g. region: gcp-us-east1) next to `regional`",
        )
    return target
