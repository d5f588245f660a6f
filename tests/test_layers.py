"""The layering rules, read from every import of every module (AST, not text).

The pipeline points inward: the pure core imports nothing outward; descriptors, store,
backends, apply, render, server and integrations import the core and their own stage;
only commands and the CLI wire stages together. Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"

# Modules every stage may use: values, errors and small neutral helpers.
SHARED = (
    "reconciler.model",
    "reconciler.canonical",
    "reconciler.matching",
    "reconciler.plan",
    "reconciler.results",
    "reconciler.diagnostics",
    "reconciler.errors",
    "reconciler.quoting",
    "reconciler.retry",
    "reconciler.regular_files",
    "reconciler.gcpause",
)
CORE = (
    *SHARED,
    "reconciler.planner",
    "reconciler.renames",
    "reconciler.spec_diff",
    "reconciler.drift",
    "reconciler.traffic",
)
THIRD_PARTY_OUTWARD = (
    "click",
    "httpx",
    "git",
    "starlette",
    "uvicorn",
    "sqlite3",
    "psycopg",
    "psycopg_pool",
    "jsonschema",
)
DATABASES = ("sqlite3", "psycopg", "psycopg_pool")  # the store's own business

# stage -> what it may import from reconciler (besides itself), and third-party it must not.
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "core": (CORE, THIRD_PARTY_OUTWARD),
    "reconciler.render": (CORE, THIRD_PARTY_OUTWARD),
    "reconciler.descriptors": (
        SHARED,
        ("click", "httpx", "git", "starlette", "uvicorn", *DATABASES),
    ),
    "reconciler.store": (
        (*SHARED, "reconciler.descriptors.spec_check", "reconciler.descriptors.schema"),
        ("click", "httpx", "git", "starlette", "uvicorn"),
    ),
    "reconciler.backends": (
        (
            *SHARED,
            "reconciler.backends.base",
            "reconciler.backends.options",
            "reconciler.store",
            "reconciler.descriptors.spec_check",
        ),
        ("click", "git", "starlette", "uvicorn", *DATABASES),
    ),
    "reconciler.server": (
        (
            *SHARED,
            "reconciler.store",
            "reconciler.descriptors.spec_check",
            "reconciler.descriptors.schema",
        ),
        ("click", "git", *DATABASES),
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    return _imports_in(path.read_text(), _module_name(path), path.name == "__init__.py")


def _imports_in(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``source``, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from reconciler.x import y` may name a module y: check both.
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _stage(module: str) -> str | None:
    if module in CORE:
        return "core"
    for stage in RULES:
        if stage != "core" and (module == stage or module.startswith(stage + ".")):
            return stage
    return None


def _own(module: str, stage: str) -> str:
    """The part of the tree a module may import freely: its own backend, or its stage."""
    if stage == "reconciler.backends":
        parts = module.split(".")
        return ".".join(parts[:3])  # reconciler.backends.caddy, ... (a flat module: itself)
    return stage


MODULES = sorted(PACKAGE.rglob("*.py"))


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) for p in MODULES])
def test_each_module_imports_only_what_its_stage_may(path: Path) -> None:
    module = _module_name(path)
    stage = _stage(module)
    if stage is None:
        return  # commands, cli, config, apply, integrations wire stages together
    allowed, forbidden = RULES[stage]
    own = _own(module, stage)
    for line, name in _imports(path):
        where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        if name.startswith("reconciler"):
            assert _within(name, (*allowed, own)) or name == "reconciler", where
        else:
            assert not _within(name, forbidden), where


def test_the_reader_sees_lazy_relative_and_aliased_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "def f():\n    from reconciler.backends.caddy import backend\n"
        "from .. import config as c\n"
        "import httpx as h\n"
    )
    names = [name for _, name in _imports_in(source, "reconciler.backends.memory", False)]
    assert "reconciler.backends.caddy.backend" in names
    assert "reconciler.config" in names
    assert "httpx" in names
