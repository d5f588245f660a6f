"""The exception tree. Each error carries a message written for the user and an exit code.

Foreign exceptions (sqlite3, httpx, subprocess, git) are translated into these at the edge
where they happen; ``cli.py`` is the one place that turns them into output and exit codes.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CHANGES",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "AuthError",
    "BackendError",
    "ConfigError",
    "ConflictError",
    "GuardError",
    "InvalidSpecError",
    "NotFoundError",
    "PlanError",
    "RoutesError",
    "StalePlanError",
    "TransientBackendError",
    "UsageError",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = 64


class RoutesError(Exception):
    """Base of every error a user can meet. ``hint`` says what to do about it."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(RoutesError):
    """Bad flags or arguments: never reads as "changes"."""

    exit_code = EXIT_USAGE


class ConfigError(RoutesError):
    """The configuration file or environment is wrong."""


class PlanError(RoutesError):
    """A plan could not be made, read or is not safe to apply."""


class StalePlanError(PlanError):
    """Live state changed since the saved plan was made."""


class GuardError(PlanError):
    """A safety guard (max deletes, empty desired set, protected routes) refused the apply."""


class BackendError(RoutesError):
    """The backend failed in a way retrying will not fix."""


class TransientBackendError(BackendError):
    """A failure worth retrying: connect errors, timeouts, 429, 500, 502, 503, 504."""

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class NotFoundError(BackendError):
    """The route does not exist on the backend."""


class ConflictError(BackendError):
    """A conditional write lost: the route exists already or its version moved on."""


class AuthError(BackendError):
    """The backend refused our credentials."""


class InvalidSpecError(BackendError):
    """The backend rejected a route spec as invalid."""

    def __init__(
        self, message: str, *, hint: str | None = None, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.details = details or []
