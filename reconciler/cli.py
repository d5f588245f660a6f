"""The command line: click wiring only, and the one place that prints, prompts
and exits. Each command's work is a function in ``reconciler.commands`` that returns an
exit code; ``main`` maps every error to a message and an exit code.

Command modules are imported inside the commands so ``routes --version`` starts fast.
"""

from __future__ import annotations

import gc
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.decorators import FC

from reconciler import __version__
from reconciler.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, RoutesError
from reconciler.quoting import clean
from reconciler.server.options import FAULT_KINDS, TOKEN_ENV

if TYPE_CHECKING:
    from reconciler.apply.applier import Progress
    from reconciler.config import Settings
    from reconciler.results import RouteResult

PROGRESS_MIN_CHANGES = 5  # a bar only for applies of more than a moment


@dataclass(frozen=True)
class Globals:
    config: str | None
    backend: str | None
    color: bool
    verbose: int
    cache: bool = True

    def settings(self) -> Settings:
        from dataclasses import replace

        from reconciler.config import load_settings

        settings = load_settings(self.config, backend_flag=self.backend)
        return settings if self.cache else replace(settings, descriptor_cache=False)


def _color_wanted(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):  # no-color.org: set and not empty
        return False
    return sys.stdout.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="FILE", help="Config file (default: .routes.yaml here or above).")
@click.option(
    "--backend", metavar="URL", help="Backend URL: local[:PATH], http(s)://…, caddy+http://…, akka:"
)
@click.option("--no-color", is_flag=True, help="No ANSI colour (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", count=True, help="More detail on errors.")
@click.option(
    "--no-cache", is_flag=True, help="Parse every descriptor (ROUTES_NO_CACHE=1 does the same)."
)
@click.version_option(__version__, "--version", prog_name="routes", message="%(prog)s %(version)s")
@click.pass_context
def main_group(
    ctx: click.Context,
    config: str | None,
    backend: str | None,
    no_color: bool,
    verbose: int,
    no_cache: bool,
) -> None:
    """Reconcile ingress route descriptors in git with live routes."""
    ctx.obj = Globals(
        config=config,
        backend=backend,
        color=_color_wanted(no_color),
        verbose=verbose,
        cache=not no_cache,
    )


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the subcommand: it overrides the one given before."""
    g: Globals = ctx.obj
    if param.name == "config" and value is not None:
        ctx.obj = replace(g, config=value)
    elif param.name == "backend" and value is not None:
        ctx.obj = replace(g, backend=value)
    elif param.name == "no_color" and value:
        ctx.obj = replace(g, color=False)
    elif param.name == "verbose" and value:
        ctx.obj = replace(g, verbose=g.verbose + value)


def _global_options(command: FC) -> FC:
    """``--config``, ``--backend``, ``--no-color`` and ``-v`` after the subcommand too, as
    ``routes plan --backend URL`` is written (click takes group options only before it)."""
    after: dict[str, Any] = {"expose_value": False, "callback": _set_global}
    options = [
        click.option(
            "--config", metavar="FILE", help="Config file (as before the command).", **after
        ),
        click.option(
            "--backend", metavar="URL", help="Backend URL (as before the command).", **after
        ),
        click.option("--no-color", is_flag=True, help="No ANSI colour.", **after),
        click.option("-v", "--verbose", count=True, help="More detail on errors.", **after),
    ]
    for decorate in reversed(options):
        command = decorate(command)
    return command


def _format_option(*choices: str) -> Callable[[FC], FC]:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True
    )


def _echo(text: str, *, err: bool = False) -> None:
    _print(text.rstrip("\n"), err=err)


def _write(chunks: Iterable[str]) -> None:
    # Gathered into blocks of about 64 KiB: one write per change would cost more than it
    # saves, one write for the whole plan would hold it all.
    block: list[str] = []
    size = 0
    for chunk in chunks:
        block.append(chunk)
        size += len(chunk)
        if size >= _WRITE_BLOCK:
            if not _print("".join(block), nl=False):
                return  # nobody reads the rest
            block, size = [], 0
    _print("".join(block), nl=False)


def _print(text: str, *, err: bool = False, nl: bool = True) -> bool:
    """``click.echo``; False once the reader has gone (``routes plan | head``). A closed
    pipe stops nothing: the rest of the output is dropped, the command (an apply among
    them) runs to its end and exits with its own code, whatever click's version does."""
    try:
        click.echo(text, err=err, nl=nl)
    except BrokenPipeError:
        stream = sys.stderr if err else sys.stdout
        try:  # what is still buffered, and all that follows, goes nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # not a file descriptor: nothing to point elsewhere
            pass
        return False
    return True


_WRITE_BLOCK = 1 << 16


def _ask(prompt: str) -> str:
    return str(click.prompt(prompt, default="", show_default=False))


@contextmanager
def _progress_bar(total: int) -> Iterator[Progress | None]:
    """A progress bar on stderr, only on a TTY and only for applies of more than a moment."""
    if total < PROGRESS_MIN_CHANGES or not sys.stderr.isatty():
        yield None
        return

    def elapsed_and_rate(_: object) -> str:
        # click's own clock (bar.start) and count: elapsed time and routes a second.
        elapsed = max(time.time() - bar.start, 1e-9)
        minutes, seconds = divmod(int(elapsed), 60)
        return f"{minutes:02d}:{seconds:02d} elapsed, {bar.pos / elapsed:.1f} routes/s"

    bar = click.progressbar(
        length=total,
        label="  applying",
        file=sys.stderr,
        width=30,
        fill_char="#",
        empty_char="-",
        bar_template="%(label)s [%(bar)s] %(info)s",
        show_percent=False,
        show_pos=True,
        show_eta=True,
        item_show_func=elapsed_and_rate,
    )

    def advance(result: RouteResult, done: int, total: int) -> None:
        bar.update(done - bar.pos)

    with bar:
        yield advance


@main_group.command()
@click.argument("paths", nargs=-1)
@_format_option("text", "json", "github")
@_global_options
@click.pass_obj
def validate(g: Globals, paths: tuple[str, ...], fmt: str) -> int:
    """Check descriptors against the schema and the semantic rules."""
    from reconciler.commands.validate import validate

    return validate(g.settings, paths, fmt, echo=_echo)


@main_group.command()
@click.argument("paths", nargs=-1)
@click.option("--out", metavar="FILE", help="Save the plan (JSON) for `routes apply FILE`.")
@_format_option("text", "markdown", "json")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 on changes, 1 when apply would refuse."
)
@click.option(
    "--prune/--no-prune", default=None, help="Plan deletes of owned routes not described."
)
@click.option("--target", "targets", multiple=True, metavar="NAME", help="Only plan these routes.")
@click.option("--ref", metavar="GITREF", help="Read descriptors from this git ref (no checkout).")
@click.option("--changed-since", metavar="GITREF", help="Only routes in files changed since REF.")
@click.option("--github-comment", is_flag=True, help="Upsert the plan as a PR comment.")
@click.option("--adopt", multiple=True, metavar="GLOB", help="Take over these unmanaged routes.")
@click.option("--max-deletes", type=click.IntRange(min=0), help="Apply's delete limit (10).")
@click.option("--allow-empty", is_flag=True, help="As apply will pass --allow-empty.")
@_global_options
@click.pass_obj
def plan(g: Globals, /, paths: tuple[str, ...], **flags: Any) -> int:
    """Show what apply would change."""
    from reconciler.integrations.git_status import GitFacts

    git_facts = GitFacts.start()  # git scans the working tree while Python imports
    from reconciler.commands.plan import plan

    try:
        return plan(
            g.settings, paths, color=g.color, echo=_echo, write=_write, git_facts=git_facts, **flags
        )
    finally:
        git_facts.close()


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
@click.option("--adopt", multiple=True, metavar="GLOB", help="Take over these unmanaged routes.")
@_format_option("text", "json")
@_global_options
@click.pass_obj
def apply(g: Globals, /, paths: tuple[str, ...], **flags: Any) -> int:
    """Apply descriptors (after a confirmation) or a saved plan file."""
    from reconciler.commands.apply import apply

    ask = _ask if sys.stdin.isatty() else None  # None: no terminal to ask on
    return apply(
        g.settings, paths, color=g.color, echo=_echo, ask=ask, progress=_progress_bar, **flags
    )


@main_group.command()
@click.argument("planfile")
@_format_option("text", "markdown", "json")
@_global_options
@click.pass_obj
def show(g: Globals, planfile: str, fmt: str) -> int:
    """Render a saved plan file."""
    from reconciler.commands.show import show

    return show(planfile, fmt, color=g.color, echo=_echo, write=_write)


@main_group.command()
@click.argument("paths", nargs=-1)
@_format_option("text", "markdown", "json")
@click.option("--github-issue", is_flag=True, help="Open, update or close the drift issue.")
@_global_options
@click.pass_obj
def drift(g: Globals, paths: tuple[str, ...], fmt: str, github_issue: bool) -> int:
    """Compare live routes with the descriptors; exit 2 when they drifted."""
    from reconciler.commands.drift import drift

    return drift(g.settings, paths, fmt, github_issue=github_issue, echo=_echo, write=_write)


@main_group.command()
@click.argument("names", nargs=-1)
@click.option(
    "--dir", "directory", metavar="DIR", help="Folder to write (default: routes, in a repository)."
)
@click.option("--form", type=click.Choice(["bare", "project"]), default="bare", show_default=True)
@click.option("--all", "include_unmanaged", is_flag=True, help="Also export unmanaged routes.")
@click.option("--force", is_flag=True, help="Replace existing files that differ.")
@_global_options
@click.pass_obj
def export(g: Globals, /, names: tuple[str, ...], **flags: Any) -> int:
    """Write live routes as descriptor files (planning them back gives no changes)."""
    from reconciler.commands.export import export

    return export(g.settings, names, echo=_echo, **flags)


_LIVE = click.option("--live", is_flag=True, help="Use the backend's live routes, not descriptors.")
_PATHS = click.option("--path", "paths", multiple=True, metavar="PATH", help="Descriptor path(s).")


@main_group.command()
@click.argument("urls", nargs=-1, metavar="URL...")
@_PATHS
@_LIVE
@_format_option("text", "json")
@click.pass_obj
def explain(g: Globals, /, urls: tuple[str, ...], **flags: Any) -> int:
    """Which route, rule and service serve each URL (404 when none)."""
    from reconciler.commands.explain import explain

    return explain(g.settings, urls, echo=_echo, **flags)


@main_group.command("test")
@click.argument("file", required=False)
@_PATHS
@_LIVE
@_format_option("text", "github", "json")
@click.pass_obj
def test_command(g: Globals, /, file: str | None, **flags: Any) -> int:
    """Check traffic expectations (default .routes-tests.yaml); exit 1 on any failure."""
    from reconciler.commands.traffic_tests import test

    return test(g.settings, file, echo=_echo, **flags)


@main_group.command()
@click.argument("paths", nargs=-1)
@_LIVE
@_format_option("mermaid", "dot")
@click.pass_obj
def graph(g: Globals, /, paths: tuple[str, ...], **flags: Any) -> int:
    """Draw the routing table: host -> prefix -> service."""
    from reconciler.commands.graph import graph

    return graph(g.settings, paths, echo=_echo, **flags)


@main_group.command("serve", context_settings={"show_default": True})
@click.option(
    "--db",
    metavar="FILE|URL",
    default=".routes/state.db",
    help="The store: a SQLite file, or a postgresql://USER@HOST:PORT/DATABASE URL.",
)
@click.option("--host", metavar="H", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8900, type=click.IntRange(0, 65535))
@click.option(
    "--token-file", metavar="FILE", help=f"File holding the bearer token (else ${TOKEN_ENV})."
)
@click.option("--tls-cert", metavar="FILE", help="PEM certificate chain: serve HTTPS.")
@click.option("--tls-key", metavar="FILE", help="PEM private key of --tls-cert.")
@click.option(
    "--hostnames",
    type=click.Choice(["any", "registered"]),
    help="Accept any host, or only registered hostnames (default: as the store has it).",
)
@click.option(
    "--rate-limit", metavar="N", type=float, help="Requests per second per client (429 past it)."
)
@click.option("--access-log/--no-access-log", default=True)
@click.option(
    "--faults",
    metavar="RATE",
    type=click.FloatRange(0, 1),
    help="Testing aid: fail this share of requests (0-1); also serves GET /v1/_stats.",
)
@click.option("--fault-seed", metavar="N", type=int, default=0)
@click.option(
    "--fault-kinds",
    metavar="LIST",
    default=",".join(FAULT_KINDS),
    help="Comma-separated kinds of fault to inject.",
)
@click.option(
    "--fault-slow",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    default=0.5,
    help="How late a `slow` fault answers.",
)
@click.option(
    "--fault-route",
    "fault_routes",
    metavar="NAME",
    multiple=True,
    help="Testing aid: every request for this route answers 503.",
)
def serve(**flags: Any) -> int:
    """Serve the route control-plane API over a SQLite file or a PostgreSQL database."""
    gc.enable()  # main paused it for the imports
    from reconciler.commands.serve import serve

    return serve(echo=_echo, **flags)


@main_group.group("github")
def github_group() -> None:
    """Publish plans to GitHub pull requests and Action step outputs."""


@github_group.command("comment")
@click.argument("plan_file", metavar="PLAN_FILE")
@click.option("--target", metavar="NAME", help="Which comment to keep (default: the backend).")
@click.option(
    "--pr", type=click.IntRange(min=1), help="Pull request number (default: the event's)."
)
@click.option("--outputs/--no-outputs", default=True, help="Write the step outputs too.")
def github_comment(plan_file: str, target: str | None, pr: int | None, outputs: bool) -> int:
    """Create or update the plan comment on the pull request; print its URL."""
    from reconciler.commands.github import comment

    return comment(plan_file, target=target, pr=pr, outputs=outputs, echo=_echo)


@github_group.command("outputs")
@click.argument("plan_file", metavar="PLAN_FILE")
def github_outputs(plan_file: str) -> int:
    """Write the plan to the step summary and its counts to the step outputs."""
    from reconciler.commands.github import outputs

    return outputs(plan_file)


@github_group.command("drift")
@click.argument("report_file", metavar="REPORT_FILE")
def github_drift(report_file: str) -> int:
    """Show a saved drift report (`routes drift --format json`) and write the step summary."""
    from reconciler.commands.github import drift

    return drift(report_file, echo=_echo)


@github_group.command("drift-issue")
@click.argument("report_file", metavar="REPORT_FILE")
def github_drift_issue(report_file: str) -> int:
    """Open, update or close the drift issue from a saved drift report; print its URL."""
    from reconciler.commands.github import drift_issue

    return drift_issue(report_file, echo=_echo)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the command and map every error to a message and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # A command imports its modules as it starts: thousands of functions and classes that
    # live as long as the process, which the cyclic collector would only rescan (2 % of
    # the instructions of a short plan). Commands that build thousands of routes pause it
    # anyway; `serve`, which runs for days, turns it back on.
    collecting = gc.isenabled()
    gc.disable()
    verbose = any(a in ("-v", "--verbose") or a.startswith("-vv") for a in args)
    try:
        code = main_group.main(args=args, prog_name="routes", standalone_mode=False)
    except click.Abort:
        _echo("Aborted: nothing more was changed.", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # usage errors among them: they show the usage
        _show_click_error(exc)
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
    finally:  # as it was for whoever called main (a test, in-process)
        if collecting:
            gc.enable()
    sys.exit(code if isinstance(code, int) else EXIT_OK)  # --help, --version: None or 0


def _show_click_error(exc: click.ClickException) -> None:
    """click's own layout (usage, hint, error), each line escaped: it quotes what was typed."""
    shown = io.StringIO()
    exc.show(file=shown)
    _echo("\n".join(clean(line) for line in shown.getvalue().splitlines()), err=True)


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
