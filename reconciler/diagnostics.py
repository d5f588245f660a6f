"""Diagnostics: the located finding, and the one table of stable codes (README lists them).

Codes never change meaning once released; a retired code stays reserved. ``R0xx`` are errors
in the descriptors, ``W1xx`` warnings, ``I2xx`` information.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Diagnostic:
    """A located finding: stable ``code``, ``severity`` (error | warning | info), a message
    that says what to change, and where it comes from."""

    code: str
    severity: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    route: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }
        for key in ("file", "line", "column", "route"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Diagnostic:
        return cls(
            code=raw["code"],
            severity=raw["severity"],
            message=raw["message"],
            file=raw.get("file"),
            line=raw.get("line"),
            column=raw.get("column"),
            route=raw.get("route"),
        )


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
    "R034": (ERROR, "validation.httpBasic without a realm (the platform requires one)"),
    "W101": (WARNING, "prefix shadowed by a shorter prefix of another route on the same host"),
    "W102": (WARNING, "two or more routes on one host"),
    "W103": (WARNING, "CORS allows any origin (*)"),
    "W104": (WARNING, "CORS policy without origins (CORS stays off)"),
    "W105": (WARNING, "empty descriptor file"),
    "I201": (INFO, "document of another resource kind skipped"),
    # From the planner and the plan workflow, about live state rather than a file's text.
    "P001": (ERROR, "a described route's name belongs to an unmanaged live route: not taken over"),
    "P010": (INFO, "an owned live route is no longer described: kept (plan with `--prune`)"),
    "P011": (INFO, "an owned live route matches a `protected` glob: never deleted"),
    "P012": (INFO, "a deleted and a created route serve the same: looks like a rename"),
    "P013": (WARNING, "a new route serves what a kept, undescribed route serves: a rename?"),
    "P020": (WARNING, "`--target` names a route that is neither described nor live"),
    "P021": (WARNING, "`--adopt` matches no unmanaged live route that a descriptor describes"),
    "P030": (WARNING, "the route's host is not registered or not validated: it will not be Ready"),
    # From a backend that cannot enforce a feature of a route faithfully.
    "B001": (ERROR, "the backend cannot enforce a feature of this route faithfully"),
    "B002": (INFO, "how the backend writes this route (e.g. created regional, in which region)"),
    # From the traffic expectations file (.routes-tests.yaml).
    "T001": (ERROR, "a traffic expectation fails: the URL reaches another service (or none)"),
    "T002": (ERROR, "invalid traffic expectation (not `https://host/path: service` or `: 404`)"),
}

CODE_UNMANAGED_CLASH = "P001"
CODE_KEPT_WITHOUT_PRUNE = "P010"
CODE_PROTECTED = "P011"
CODE_UNKNOWN_TARGET = "P020"
CODE_ADOPT_UNMATCHED = "P021"
CODE_LOOKS_RENAMED = "P013"
CODE_RENAMED = "P012"
CODE_NOT_READY = "P030"
CODE_UNENFORCEABLE = "B001"
CODE_WRITE_NOTE = "B002"


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


__all__ = [
    "CODES",
    "CODE_ADOPT_UNMATCHED",
    "CODE_KEPT_WITHOUT_PRUNE",
    "CODE_LOOKS_RENAMED",
    "CODE_NOT_READY",
    "CODE_PROTECTED",
    "CODE_RENAMED",
    "CODE_UNENFORCEABLE",
    "CODE_UNKNOWN_TARGET",
    "CODE_UNMANAGED_CLASH",
    "CODE_WRITE_NOTE",
    "ERROR",
    "INFO",
    "WARNING",
    "Diagnostic",
    "diagnostic",
    "sort_key",
]


def sort_key(diag: Diagnostic) -> tuple[str, int, int, str]:
    """Order by file, line, column, then code (files first, path-less ones last)."""
    return (diag.file or "\uffff", diag.line or 0, diag.column or 0, diag.code)
