"""The public surface is pinned, as httpx's tests/test_exported_members.py pins its own.

A name added to or removed from a module's ``__all__`` is a decision: this test makes it a
visible one. Every listed name must exist, and nothing public may be left out of the list.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

SURFACE = {
    "reconciler": ["__version__"],
    "reconciler.model": [
        "ANNOTATION_COMMIT",
        "ANNOTATION_DIGEST",
        "ANNOTATION_PATH",
        "Condition",
        "CorsPolicy",
        "DesiredRoute",
        "HttpBasic",
        "LABEL_MANAGED_BY",
        "LABEL_MANAGED_BY_VALUE",
        "LABEL_OWNER",
        "LiveRoute",
        "PathRule",
        "RouteSet",
        "RouteSpec",
        "SENSITIVE",
        "SourceLocation",
        "SubjectMatcher",
        "TlsConfig",
        "Validation",
        "canonical_json_of",
        "digest_of",
    ],
    "reconciler.canonical": ["canonical_host", "canonical_origin"],
    "reconciler.descriptor_yaml": ["descriptor_yaml", "libyaml_text"],
    "reconciler.plan": [
        "Change",
        "FORMAT_VERSION",
        "KEPT_CODES",
        "Operation",
        "Plan",
        "Refusal",
    ],
    "reconciler.results": ["ApplyResult", "RESULTS", "RouteResult"],
    "reconciler.diagnostics": [
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
        "Diagnostic",
        "ERROR",
        "INFO",
        "WARNING",
        "diagnostic",
        "sort_key",
    ],
    "reconciler.planner": [
        "REASON_NOT_IN_CONFIGURATION",
        "RISK_ORDER",
        "PlanOptions",
        "compute_operations",
        "is_owned",
        "make_plan",
    ],
    "reconciler.spec_diff": [
        "FieldDifference",
        "RISK_ORDER",
        "compute_operations",
        "field_differences",
        "risks",
    ],
    "reconciler.descriptors.loader": [
        "MAX_FILE_BYTES",
        "SUFFIXES",
        "LoadResult",
        "load_blobs",
        "load_paths",
    ],
    "reconciler.descriptors.parallel": ["MIN_FILES", "add_files", "workers"],
    "reconciler.descriptors.spec_check": [
        "SCHEMA_CODES",
        "SpecProblem",
        "check_spec",
        "hidden_errors",
        "host_problem",
        "is_known",
        "known_spec",
        "problem_summary",
        "remember",
        "route_name_problem",
        "route_problems",
        "spec_errors",
    ],
    "reconciler.store": [
        "Hostname",
        "RouteStore",
        "RouteWrite",
        "SqliteStore",
        "StoredRoute",
        "is_postgres_url",
        "open_store",
    ],
    "reconciler.backends": ["BACKENDS", "open_backend", "scheme_of"],
    "reconciler.backends.base": [
        "Backend",
        "BaseBackend",
        "BatchWriter",
        "Capabilities",
        "StoreIdentity",
        "Write",
        "WriteOutcome",
        "send",
    ],
    "reconciler.apply.applier": ["ApplyOptions", "Progress", "apply_plan", "check_guards"],
    "reconciler.quoting": ["clean", "escape", "json_text", "quote", "unsafe_char"],
    "reconciler.retry": [
        "ATTEMPTS",
        "BACKOFF_BASE",
        "BACKOFF_CAP",
        "RetryPolicy",
        "backoff_delay",
        "parse_retry_after",
        "retry_transient",
        "run_with_retries",
    ],
    "reconciler.errors": [
        "AuthError",
        "BackendError",
        "ConfigError",
        "ConflictError",
        "EXIT_CHANGES",
        "EXIT_ERROR",
        "EXIT_OK",
        "EXIT_USAGE",
        "GuardError",
        "InvalidSpecError",
        "NotFoundError",
        "PlanError",
        "RoutesError",
        "StalePlanError",
        "TransientBackendError",
        "UsageError",
    ],
    "reconciler.render.text": [
        "NO_CHANGES",
        "diagnostic_line",
        "kept_note",
        "refusal_section",
        "render_apply_text",
        "render_change_text",
        "render_plan_header",
        "render_plan_text",
        "risk_notes",
        "summary_line",
    ],
    "reconciler.render.markdown": ["COMMENT_LIMIT", "code", "render_plan_markdown", "text"],
    "reconciler.render.drift": ["difference_line", "render_drift_markdown", "render_drift_text"],
    "reconciler.render.json": ["drift_json_chunks", "plan_json_chunks", "render_plan_json"],
    "reconciler.matching": ["Match", "RoutingTable", "clean_path", "serving_order"],
    "reconciler.traffic": [
        "KINDS",
        "Destination",
        "HostTraffic",
        "TrafficMove",
        "applied",
        "plan_traffic",
        "traffic_impact",
    ],
    "reconciler.render.traffic": [
        "HEADLINE",
        "traffic_markdown_lines",
        "traffic_risk_notes",
        "traffic_text_and_notes",
    ],
    "reconciler.render.mermaid": [
        "MAX_EDGES",
        "dot_label",
        "flowchart",
        "mermaid_label",
        "plan_edges",
        "plan_flowchart",
        "table_dot",
        "table_flowchart",
    ],
    "reconciler.render.explain": ["explanation", "render_explain_text"],
    "reconciler.descriptors.expectations": [
        "TESTS_FILE",
        "BadUrl",
        "Expectation",
        "RequestTarget",
        "load_expectations",
        "parse_url",
    ],
}


@pytest.mark.parametrize("name", sorted(SURFACE))
def test_all_is_pinned_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(SURFACE[name])
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.__all__ names {member}, which is not there"


@pytest.mark.parametrize("name", sorted(SURFACE))
def test_nothing_public_is_left_out(name: str) -> None:
    """Classes and functions defined in the module without a leading underscore are listed."""
    module = importlib.import_module(name)
    defined = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined <= set(module.__all__), sorted(defined - set(module.__all__))
