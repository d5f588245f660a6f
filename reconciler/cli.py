"""The command line (DESIGN §10). The only place that prints, prompts and exits.

Heavy modules are imported inside the commands so ``routes --version`` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import click
from click.decorators import FC

from reconciler import __version__
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    GuardError,
    PlanError,
    RoutesError,
    UsageError,
)
from reconciler.quoting import clean

if TYPE_CHECKING:
    from reconciler.backends.base import Backend
    from reconciler.commands.common import Source
    from reconciler.config import Settings
    from reconciler.model import LiveRoute
    from reconciler.plan import ApplyResult, Plan, RouteResult


@dataclass(frozen=True)
class Globals:
    config: str | None
    backend: str | None
    color: bool
    verbose: int

    def settings(self) -> Settings:
        from reconciler.config import load_settings

        return load_settings(self.config, backend_flag=self.backend)


def _color_wanted(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):  # no-color.org: set and not empty
        return False
    return sys.stdout.isatty()


class _LazyGroup(click.Group):
    """Commands of optional layers (server, GitHub) are imported only when used, so
    ``routes --version`` and ``routes plan`` never pay for Starlette or GitPython."""

    lazy = {
        "serve": ("reconciler.server.cli", "serve"),
        "github": ("reconciler.integrations.github.cli", "github_group"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attr = self.lazy[cmd_name]
            try:
                command = getattr(__import__(module, fromlist=[attr]), attr)
            except (ImportError, AttributeError):
                return None
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="FILE", help="Config file (default: .routes.yaml here or above).")
@click.option(
    "--backend", metavar="URL", help="Backend URL: local[:PATH], http(s)://…, caddy+http://…, akka:"
)
@click.option("--no-color", is_flag=True, help="No ANSI colour (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", count=True, help="More detail on errors.")
@click.version_option(__version__, "--version", prog_name="routes", message="%(prog)s %(version)s")
@click.pass_context
def main_group(
    ctx: click.Context, config: str | None, backend: str | None, no_color: bool, verbose: int
) -> None:
    """Reconcile ingress route descriptors in git with live routes."""
    ctx.obj = Globals(
        config=config, backend=backend, color=_color_wanted(no_color), verbose=verbose
    )


def _format_option(*choices: str) -> Callable[[FC], FC]:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True
    )


def _echo(text: str, *, err: bool = False) -> None:
    click.echo(text.rstrip("\n"), err=err)


def _open_backend(settings: Settings) -> Backend:
    from reconciler.backends import open_backend

    return open_backend(settings.backend, settings)


# ---------------------------------------------------------------------------------- validate


@main_group.command()
@click.argument("paths", nargs=-1)
@_format_option("text", "json", "github")
@click.pass_obj
def validate(g: Globals, paths: tuple[str, ...], fmt: str) -> None:
    """Check descriptors against the schema and the semantic rules."""
    from reconciler.commands.common import load_source
    from reconciler.render import diagnostics as render

    settings = g.settings()
    source = load_source(settings, paths)
    diags = source.load.diagnostics
    if fmt == "json":
        _echo(render.render_json(diags, len(source.load.files)))
    elif fmt == "github":
        out = render.render_github(
            render.workspace_relative(diags, os.environ.get("GITHUB_WORKSPACE"))
        )
        if out:
            _echo(out)
    else:
        _echo(render.render_text(diags, len(source.load.files)))
    sys.exit(EXIT_ERROR if source.load.has_errors else EXIT_OK)


# -------------------------------------------------------------------------------------- plan


def _render_plan(plan: Plan, fmt: str, color: bool) -> str:
    if fmt == "json":
        from reconciler.render.json import render_plan_json

        return render_plan_json(plan)
    data = plan.to_dict()
    if fmt == "markdown":
        from reconciler.render.markdown import render_plan_markdown

        return render_plan_markdown(data)
    from reconciler.render.text import render_plan_text

    return render_plan_text(data, color=color)


def _refuse_broken_descriptors(plan_or_diags: Any) -> None:
    """Print error diagnostics and exit 1: a plan is never made from broken descriptors."""
    from reconciler.render.diagnostics import render_text

    diags = [d for d in plan_or_diags if d.severity == "error"]
    _echo(render_text(diags), err=True)
    raise PlanError(
        "the descriptors have errors; nothing was planned",
        hint="fix the errors above (`routes validate` lists every problem)",
    )


class _Planned(NamedTuple):
    settings: Settings
    plan: Plan
    backend: Backend
    source: Source
    live: dict[str, LiveRoute]  # what the plan was made from: drift reads nothing twice


def _plan(
    g: Globals,
    paths: Sequence[str],
    *,
    prune: bool | None,
    targets: Sequence[str] = (),
    ref: str | None = None,
    changed_since: str | None = None,
) -> _Planned:
    from reconciler.commands.common import load_source, make_plan

    settings = g.settings()
    source = load_source(settings, paths, ref=ref, changed_since=changed_since)
    if source.load.has_errors:
        _refuse_broken_descriptors(source.load.diagnostics)
    backend = _open_backend(settings)
    plan, live = make_plan(
        settings,
        source,
        backend,
        prune=settings.prune if prune is None else prune,
        targets=targets,
    )
    if plan.has_errors:
        from reconciler.render.diagnostics import render_text

        backend.close()
        errors = [d for d in plan.diagnostics if d.severity == "error"]
        _echo(render_text(errors), err=True)
        raise PlanError(
            "the plan has errors; nothing was planned",
            hint="fix the errors listed above and plan again",
        )
    return _Planned(settings, plan, backend, source, {route.name: route for route in live})


@main_group.command()
@click.argument("paths", nargs=-1)
@click.option("--out", metavar="FILE", help="Save the plan (JSON) for `routes apply FILE`.")
@_format_option("text", "markdown", "json")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option(
    "--prune/--no-prune", default=None, help="Plan deletes of owned routes not described."
)
@click.option("--target", "targets", multiple=True, metavar="NAME", help="Only plan these routes.")
@click.option("--ref", metavar="GITREF", help="Read descriptors from this git ref (no checkout).")
@click.option("--changed-since", metavar="GITREF", help="Only routes in files changed since REF.")
@click.option("--github-comment", is_flag=True, help="Upsert the plan as a PR comment.")
@click.pass_obj
def plan(
    g: Globals,
    paths: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    prune: bool | None,
    targets: tuple[str, ...],
    ref: str | None,
    changed_since: str | None,
    github_comment: bool,
) -> None:
    """Show what apply would change."""
    if ref and changed_since:
        raise UsageError("--ref and --changed-since cannot be used together")
    if github_comment:
        _github_context(pull_request=True)
    _, the_plan, backend, *_ = _plan(
        g, paths, prune=prune, targets=targets, ref=ref, changed_since=changed_since
    )
    backend.close()
    if out:
        from reconciler.apply.saved_plan import write_plan_file

        write_plan_file(the_plan, out)
    _echo(_render_plan(the_plan, fmt, g.color))
    if out and fmt == "text":
        _echo(f'\nSaved the plan to {out}. Apply exactly this plan with "routes apply {out}".')
    if github_comment:
        from reconciler.integrations.github.cli import publish_plan

        _echo(publish_plan(the_plan.to_dict(), out), err=True)
    sys.exit(EXIT_CHANGES if detailed_exitcode and the_plan.has_changes else EXIT_OK)


# ------------------------------------------------------------------------------------- apply


@main_group.command()
@click.argument("paths", nargs=-1, metavar="[PLANFILE | PATH...]")
@click.option("--auto-approve", is_flag=True, help="Skip the confirmation prompt.")
@click.option("--prune/--no-prune", default=None, help="Delete owned routes not described.")
@click.option("--max-deletes", type=click.IntRange(min=0), help="Refuse more deletes (default 10).")
@click.option("--allow-empty", is_flag=True, help="Allow pruning when no routes are described.")
@click.option("--parallelism", type=click.IntRange(min=1, max=100), help="Routes at once (10).")
@click.option("--wait", is_flag=True, help="Wait until written routes report Ready.")
@click.option("--wait-timeout", type=click.FloatRange(min=0), default=300.0, show_default=True)
@click.option("--target", "targets", multiple=True, metavar="NAME", help="Only apply these routes.")
@_format_option("text", "json")
@click.pass_obj
def apply(
    g: Globals,
    paths: tuple[str, ...],
    auto_approve: bool,
    prune: bool | None,
    max_deletes: int | None,
    allow_empty: bool,
    parallelism: int | None,
    wait: bool,
    wait_timeout: float,
    targets: tuple[str, ...],
    fmt: str,
) -> None:
    """Apply descriptors (after a confirmation) or a saved plan file."""
    from reconciler.apply import applier
    from reconciler.apply.saved_plan import is_plan_file

    if is_plan_file(paths):
        if prune is not None or targets:
            raise UsageError(
                "--prune and --target belong to the plan; a saved plan is applied as is"
            )
        from reconciler.apply.saved_plan import open_saved_plan

        settings = g.settings()
        the_plan, backend, specs = open_saved_plan(settings, paths[0])
    else:
        settings, the_plan, backend, source, _ = _plan(g, paths, prune=prune, targets=targets)
        # With --format json, stdout carries the report alone.
        _echo(_render_plan(the_plan, "text", g.color), err=fmt == "json")
        if not the_plan.has_changes:
            backend.close()
            if fmt == "json":
                from reconciler.plan import ApplyResult

                _report(ApplyResult(), fmt)
            sys.exit(EXIT_OK)
        specs = {name: route.spec for name, route in source.load.routes.items()}
    options = applier.ApplyOptions(
        parallelism=parallelism or settings.parallelism,
        wait=wait,
        wait_timeout=wait_timeout,
        journal_dir=settings.journal_dir or settings.state_dir / "journal",
        max_deletes=settings.max_deletes if max_deletes is None else max_deletes,
        allow_empty=allow_empty,
    )
    applier.check_guards(the_plan, options)
    if not is_plan_file(paths) and not auto_approve:
        _confirm(the_plan)
    with _progress(the_plan) as progress:
        result = applier.apply_plan(the_plan, backend, specs, options, progress=progress)
    backend.close()
    _report(result, fmt)


def _confirm(the_plan: Plan) -> None:
    if not sys.stdin.isatty():
        raise GuardError(
            "refusing to apply without confirmation: no terminal to ask on",
            hint="review the plan and pass --auto-approve, or apply a saved plan file",
        )
    _echo("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.")
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise GuardError("apply cancelled: the answer was not 'yes'; nothing was changed")


class _progress:
    """A progress line on stderr, only on a TTY and only for applies of more than a moment."""

    def __init__(self, the_plan: Plan) -> None:
        self.total = len(the_plan.changes)
        self.enabled = sys.stderr.isatty() and self.total >= 5

    def __enter__(self) -> Any:
        return self.update if self.enabled else None

    def update(self, result: RouteResult, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r  applying [{bar}] {done}/{total}")
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def _report(result: ApplyResult, fmt: str = "text") -> NoReturn:
    if fmt == "json":
        import json

        _echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=True))
        sys.exit(EXIT_OK if result.ok else EXIT_ERROR)
    from reconciler.render.text import render_apply_text

    _echo("")
    _echo(render_apply_text(result.to_dict()))
    sys.exit(EXIT_OK if result.ok else EXIT_ERROR)


# -------------------------------------------------------------------------------------- show


@main_group.command()
@click.argument("planfile")
@_format_option("text", "markdown", "json")
@click.pass_obj
def show(g: Globals, planfile: str, fmt: str) -> None:
    """Render a saved plan file."""
    from reconciler.apply.saved_plan import read_plan_file

    _echo(_render_plan(read_plan_file(planfile), fmt, g.color))


# ------------------------------------------------------------------------------------- drift


@main_group.command()
@click.argument("paths", nargs=-1)
@_format_option("text", "markdown", "json")
@click.option("--github-issue", is_flag=True, help="Open, update or close the drift issue.")
@click.pass_obj
def drift(g: Globals, paths: tuple[str, ...], fmt: str, github_issue: bool) -> None:
    """Compare live routes with the descriptors; exit 2 when they drifted."""
    import json

    from reconciler import drift as drifting

    if github_issue:
        _github_context(pull_request=False)

    settings, the_plan, backend, _, live = _plan(g, paths, prune=True)
    backend.close()
    applied = _journal_applied(settings)
    report = drifting.classify(the_plan, live, applied)
    if fmt == "json":
        _echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=True))
    elif fmt == "markdown":
        _echo(drifting.render_drift_markdown(report))
    else:
        _echo(drifting.render_drift_text(report))
    if github_issue:
        from reconciler.integrations.github.cli import publish_drift

        markdown = drifting.render_drift_markdown(report)
        url = publish_drift(markdown, report.drifted, target=the_plan.backend)
        if url:
            _echo(url, err=True)
    sys.exit(EXIT_CHANGES if report.drifted else EXIT_OK)


def _github_context(*, pull_request: bool) -> None:
    """Fail on missing GitHub settings before the work, not after it."""
    from reconciler.integrations.github.api import GitHubContext

    context = GitHubContext.from_env(os.environ)
    if pull_request:
        context.require_pr()


def _journal_applied(settings: Settings) -> set[str]:
    from reconciler.apply.journal import routes_applied_in_journal

    return routes_applied_in_journal(settings.journal_dir or settings.state_dir / "journal")


# ------------------------------------------------------------------------------------ export


@main_group.command()
@click.argument("names", nargs=-1)
@click.option("--dir", "directory", default="routes", show_default=True, help="Folder to write.")
@click.option("--form", type=click.Choice(["bare", "project"]), default="bare", show_default=True)
@click.option("--all", "include_unmanaged", is_flag=True, help="Also export unmanaged routes.")
@click.option("--force", is_flag=True, help="Replace existing files that differ.")
@click.pass_obj
def export(
    g: Globals,
    names: tuple[str, ...],
    directory: str,
    form: str,
    include_unmanaged: bool,
    force: bool,
) -> None:
    """Write live routes as descriptor files (planning them back gives no changes)."""
    from reconciler.commands.export import export_routes

    settings = g.settings()
    backend = _open_backend(settings)
    try:
        written = export_routes(
            settings, backend, names, Path(directory), form, include_unmanaged, force
        )
    finally:
        backend.close()
    for path in written:
        _echo(f"wrote {path}")
    _echo(f"Exported {len(written)} route(s) to {directory}.")


# -------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the command and map every error to a message and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") or a.startswith("-vv") for a in args)
    try:
        main_group.main(args=args, prog_name="routes", standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        _echo("Aborted: nothing more was changed.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except RoutesError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _echo("Interrupted: nothing more was changed.", err=True)
        sys.exit(130)
    except Exception as exc:
        if verbose:
            raise
        _echo(f"Error: internal error: {type(exc).__name__}: {clean(exc)}", err=True)
        _echo("Hint: run again with -v for details and report it as a bug.", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK)


def _shown(text: str) -> str:
    """``text`` escaped line by line; every line after the first is indented, so no line of
    an error can pass for a line of its own (a GitHub workflow command starts a line)."""
    first, *rest = text.split("\n")
    return "\n".join([clean(first), *("  " + clean(line).lstrip() for line in rest)])


def _fail(exc: RoutesError) -> NoReturn:
    # Messages quote what they were given (a file name, a backend's answer): the one place
    # errors are printed escapes whatever a terminal or a CI log would act on.
    _echo(f"Error: {_shown(exc.message)}", err=True)
    if exc.hint:
        _echo(f"Hint: {_shown(exc.hint)}", err=True)
    sys.exit(exc.exit_code)
