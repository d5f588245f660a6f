"""Stable diagnostic codes (DESIGN §4): one table the README's code list is generated from.

Codes never change meaning once released; a retired code stays reserved. ``R0xx`` are errors
in the descriptors, ``W1xx`` warnings, ``I2xx`` information.
"""

from __future__ import annotations

from reconciler.plan import Diagnostic

ERROR = "error"
WARNING = "warning"
INFO = "info"

CODES: dict[str, tuple[str, str]] = {
    "R001": (ERROR, "YAML syntax error"),
    "R002": (ERROR, "duplicate mapping key"),
    "R003": (ERROR, "anchors/aliases expand past the size limit, or nest recursively"),
    "R004": (ERROR, "file larger than 1 MiB"),
    "R005": (ERROR, "file is not valid UTF-8"),
    "R006": (ERROR, "document is not a mapping"),
    "R007": (ERROR, "path leaves the descriptor root through a symlink"),
    "R008": (ERROR, "path does not exist"),
    "R009": (ERROR, "invalid route name"),
    "R010": (ERROR, "duplicate route name"),
    "R011": (ERROR, "malformed project-descriptor document (resource: Route)"),
    "R012": (ERROR, 'prefix must start with "/"'),
    "R013": (ERROR, "unknown field"),
    "R014": (ERROR, "missing required field"),
    "R015": (ERROR, "wrong value type"),
    "R016": (ERROR, "empty value where one is required"),
    "R017": (ERROR, "subject matcher needs exactly one of exact, hasPrefix, hasSuffix, regex"),
    "R018": (ERROR, "value violates the route descriptor schema"),
    "R019": (ERROR, "unsupported YAML feature (tag or complex key)"),
    "R020": (ERROR, "duplicate prefix in one route"),
    "R021": (ERROR, "validation.clientCertificate without tls.clientValidationCa"),
    "R022": (ERROR, "invalid regular expression in a subject matcher"),
    "R023": (ERROR, "invalid password hash"),
    "R024": (ERROR, "invalid HTTP method"),
    "R025": (ERROR, "invalid CORS origin"),
    "R026": (ERROR, "invalid host name"),
    "R027": (ERROR, "wildcard host name"),
    "R028": (ERROR, "more than one bare route descriptor in one file"),
    "R029": (ERROR, "file or folder cannot be read"),
    "R030": (ERROR, "prefix is not a URL path (RFC 3986 characters, percent-encoding)"),
    "R031": (ERROR, "service name is not a DNS label"),
    "R032": (ERROR, "control or invisible characters in a name, realm or matcher"),
    "R033": (ERROR, "invalid secret name"),
    "W101": (WARNING, "prefix shadowed by a shorter prefix of another route on the same host"),
    "W102": (WARNING, "two or more routes on one host"),
    "W103": (WARNING, "CORS allows any origin (*)"),
    "W104": (WARNING, "CORS policy without origins (CORS stays off)"),
    "W105": (WARNING, "empty descriptor file"),
    "I201": (INFO, "document of another resource kind skipped"),
}


def diagnostic(
    code: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    route: str | None = None,
) -> Diagnostic:
    """A ``Diagnostic`` whose severity comes from ``CODES`` so the two never disagree."""
    return Diagnostic(
        code=code,
        severity=CODES[code][0],
        message=message,
        file=file,
        line=line,
        column=column,
        route=route,
    )


def sort_key(diag: Diagnostic) -> tuple[str, int, int, str]:
    """Order by file, line, column, then code (files first, path-less ones last)."""
    return (diag.file or "\uffff", diag.line or 0, diag.column or 0, diag.code)
