"""Running ``git``: one helper for every call, never through a shell, with the repository's
own configuration kept from running anything.

The repository is not trusted (a pull request's checkout, a clone of someone's repo): its
config could name an fsmonitor hook, hooks or an external diff, and its refs and file
names are whatever their authors chose. So every call is an argument list, runs read-only
(``--no-optional-locks``: not even the index is refreshed), turns the known code-running
settings off, treats paths literally, and reads ``-z`` output as bytes. A failure becomes
``GitError`` with what git said.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import RoutesError, UsageError

# Settings a repository's own config could use to run a program during a read-only command.
_SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "credential.helper=",
    "protocol.allow=never",  # no lazy fetch of missing objects from a promisor remote
)
_GIT = (
    "git",
    "--no-pager",
    "--no-optional-locks",
    "--literal-pathspecs",
    *(arg for setting in _SAFE_CONFIG for arg in ("-c", setting)),
)
_ENVIRONMENT = {
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
}
_SHA = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")


class GitError(RoutesError):
    """Git could not answer: not a repository, an unknown ref, a missing path."""


class GitMissing(GitError):
    """No ``git`` program to run."""


def git_environment() -> dict[str, str]:
    """The environment git runs in: the caller's, minus what would change what git reads."""
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_EXTERNAL_DIFF", "GIT_PAGER")}
    env.update(_ENVIRONMENT)
    return env


@dataclass(frozen=True)
class Running:
    """A started git command (others can run meanwhile); ``finish`` or ``output`` waits."""

    process: subprocess.Popen[bytes]
    args: tuple[str, ...]
    cwd: Path

    def finish(self) -> tuple[int, bytes, bytes]:
        """Wait for it: its exit code, standard output and standard error."""
        out, err = self.process.communicate()
        return self.process.returncode, out, err

    def output(self) -> bytes:
        """Its standard output; a non-zero exit raises ``GitError`` with what git said."""
        code, out, err = self.finish()
        if code != 0:
            raise command_error(self.cwd, err)
        return out


def start(cwd: Path, *args: str, stdin: bool = False) -> Running:
    """Start ``git ARGS`` in ``cwd`` (stdin a pipe with ``stdin``); raises when git is missing."""
    if not cwd.is_dir():
        raise command_error(cwd, b"not a git repository")
    try:
        process = subprocess.Popen(
            [*_GIT, *args],
            cwd=cwd,
            env=git_environment(),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise GitMissing(
            "git is not installed (or not on PATH)",
            hint="install git, or drop --ref / --changed-since",
        ) from exc
    except (NotADirectoryError, PermissionError) as exc:
        raise command_error(cwd, b"not a git repository") from exc
    return Running(process, args, cwd)


def run(cwd: Path, *args: str) -> bytes:
    """``git ARGS`` in ``cwd``, its standard output; a failure raises ``GitError``."""
    return start(cwd, *args).output()


def command_error(cwd: Path, stderr: bytes) -> GitError:
    """What git said, for the user; outside a repository, advice to run inside one."""
    if b"not a git repository" in stderr:
        return GitError(
            f"not a git repository: {cwd}",
            hint="run inside your descriptor repo or drop --ref / --changed-since",
        )
    said = stderr.decode("utf-8", "replace").strip()
    return GitError(
        f"git failed in {cwd}: {said or 'no message'}",
        hint="run the same git command yourself to see what git needs",
    )


def check_ref(ref: str) -> None:
    """Refuse a ref git would read as an option (no ref name starts with ``-``)."""
    if ref.startswith("-"):
        raise UsageError(
            f"git ref {ref!r} starts with '-'",
            hint="give a branch, tag or commit; git would read this as an option",
        )


def resolve_commit(root: Path, ref: str) -> str:
    """The commit ``ref`` names, as a full hex id; ``GitError`` with advice when it names none."""
    check_ref(ref)
    verify = ("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    code, out, err = start(root, *verify).finish()
    if code == 0 and _SHA.fullmatch(out.strip()):
        return out.strip().decode("ascii")
    if b"not a git repository" in err:
        raise command_error(root, err)
    shallow = run(root, "rev-parse", "--is-shallow-repository").strip() == b"true"
    hint = (
        "this is a shallow clone: fetch more history (actions/checkout with fetch-depth: 0)"
        if shallow
        else f"check the name with `git rev-parse {ref}`, or `git fetch` it first"
    )
    raise GitError(f"unknown git ref {ref!r}", hint=hint)


def split_z(output: bytes) -> list[bytes]:
    """The NUL-terminated records of ``-z`` output."""
    fields = output.split(b"\0")
    if fields and not fields[-1]:
        fields.pop()
    return fields


def path_text(raw: bytes) -> str:
    """A path from git as the file system spells it (undecodable bytes kept as surrogates)."""
    return os.fsdecode(raw)
