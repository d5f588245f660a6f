"""The one subprocess helper of the Akka / Kalix backend (pre-commit's ``cmd_output`` style).

Every call of the ``akka`` / ``kalix`` executable goes through :func:`cmd_output`, so every
failure reads the same: the command (secrets redacted), its exit code and its stderr, as
the matching ``reconciler.errors`` class with a hint that says what to do. Descriptors
reach it in a private temporary file (:func:`descriptor_file`), never on the command line.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import yaml

from reconciler.errors import (
    AuthError,
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    TransientBackendError,
)
from reconciler.model import SENSITIVE, RouteSpec

# Flags whose value is a secret, as ``--flag VALUE`` or ``--flag=VALUE``.
SECRET_FLAGS = frozenset(
    {"--token", "--refresh-token", "--password", "--http-basic-credentials", "--secret"}
)
_SECRET_WORDS = re.compile(r"(token|password|secret|credential)", re.IGNORECASE)
_STDERR_LIMIT = 2000

# stderr patterns -> error class; the first match wins, so the specific ones come first.
_CLASSIFY: tuple[tuple[re.Pattern[str], type[BackendError]], ...] = (
    (
        re.compile(
            r"not (logged|signed) in|unauthenticated|auth login|token.*(expired|invalid)", re.I
        ),
        AuthError,
    ),
    (re.compile(r"permission denied|forbidden", re.I), AuthError),
    (re.compile(r"already exists", re.I), ConflictError),
    (
        re.compile(
            r"deadline exceeded|timed? ?out|unavailable|try again|connection (refused|reset)", re.I
        ),
        TransientBackendError,
    ),
    (re.compile(r"project '[^']*' not found|unknown project|no project", re.I), BackendError),
    (re.compile(r"not found", re.I), NotFoundError),
    (re.compile(r"invalid|must |required", re.I), InvalidSpecError),
)
_HINTS: Mapping[type[BackendError], str] = {
    AuthError: "log in with `{exe} auth login`, or set {env} to a token from "
    "`{exe} auth tokens create --type=refresh --scopes=execution` (see docs/akka.md)",
    ConflictError: "the route exists already; run `routes plan` again to see it",
    TransientBackendError: "the platform did not answer in time; retry, or raise `timeout` "
    "in the backend URL / the `akka:` config",
    NotFoundError: "check the route name, and --project / --region in the backend URL",
    InvalidSpecError: "fix the route descriptor; `routes validate` checks it locally",
    BackendError: "check the project with `{exe} projects list` and the `project` / `owner` "
    "in the backend URL or the `akka:` config",
}


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the values of secret flags replaced, fit to show a user."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            shown.append(SENSITIVE)
            hide_next = False
        elif "=" in arg and arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            secret = flag in SECRET_FLAGS or bool(_SECRET_WORDS.search(flag))
            shown.append(f"{flag}={SENSITIVE}" if secret else arg)
        else:
            shown.append(arg)
            hide_next = arg in SECRET_FLAGS or (
                arg.startswith("--") and bool(_SECRET_WORDS.search(arg))
            )
    return shown


def format_command(argv: Sequence[str]) -> str:
    """The command as a user could paste it, secrets redacted."""
    return shlex.join(redact_argv(argv))


def _scrub(text: str, argv: Sequence[str]) -> str:
    """Remove secret flag values from the CLI's own output before it is shown."""
    for shown, value in zip(redact_argv(argv), argv, strict=True):
        secret = value.split("=", 1)[1] if value.startswith("--") and "=" in value else value
        if shown != value and len(secret) > 3:
            text = text.replace(secret, SENSITIVE)
    text = text.strip()
    return text if len(text) <= _STDERR_LIMIT else text[:_STDERR_LIMIT] + " …"


def _hint(kind: type[BackendError], executable: str) -> str:
    env = f"{os.path.basename(executable).upper()}_TOKEN"
    return _HINTS[kind].format(exe=os.path.basename(executable), env=env)


def cmd_output(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run the CLI and return its stdout; any failure raises a ``BackendError`` that shows the
    redacted command, its exit code and its stderr."""
    executable = argv[0]
    resolved = shutil.which(executable, path=(env or os.environ).get("PATH"))
    shown = format_command(argv)
    if resolved is None:
        raise BackendError(
            f"`{executable}` was not found on PATH (needed for `{shown}`)",
            hint=f"install the {executable} CLI and put it on PATH (see docs/akka.md)",
        )
    try:
        done = subprocess.run(
            [resolved, *argv[1:]],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TransientBackendError(
            f"`{shown}` timed out after {timeout:g}s",
            hint=_hint(TransientBackendError, executable),
        ) from exc
    except OSError as exc:
        raise BackendError(
            f"`{shown}` could not be started: {exc.strerror}",
            hint=f"check that {resolved} is an executable {executable} CLI",
        ) from exc
    if done.returncode == 0:
        return done.stdout
    stderr = _scrub(done.stderr or done.stdout, argv) or "(no output)"
    kind = classify(stderr)
    raise kind(
        f"`{shown}` failed with exit code {done.returncode}: {stderr}",
        hint=_hint(kind, executable),
    )


def classify(stderr: str) -> type[BackendError]:
    """The error class a CLI failure message stands for."""
    for pattern, kind in _CLASSIFY:
        if pattern.search(stderr):
            return kind
    return BackendError


@contextmanager
def descriptor_file(spec: RouteSpec) -> Iterator[str]:
    """A private temporary descriptor file (it may hold password hashes), removed after use."""
    fd, path = tempfile.mkstemp(prefix="routes-", suffix=".yaml")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(spec.to_dict(), handle, sort_keys=False)
        yield path
    finally:
        os.unlink(path)
