"""``routes export``: live routes -> descriptor files that plan back to no changes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from reconciler.backends.base import Backend
from reconciler.config import Settings
from reconciler.errors import RoutesError, UsageError
from reconciler.model import LiveRoute


def export_routes(
    settings: Settings,
    backend: Backend,
    names: Sequence[str],
    directory: Path,
    form: str,
    include_unmanaged: bool = False,
    force: bool = False,
) -> list[Path]:
    """Write one file per live route (owned ones, unless ``include_unmanaged``).

    A file that exists with other content is never overwritten without ``force``, and the
    check covers every file before the first is written: an export loses no local edit.
    """
    from reconciler.planner import PlanOptions, is_owned
    from reconciler.workflow import default_owner

    if names:
        found = backend.get_routes(names)
        missing = sorted(set(names) - set(found))
        if missing:
            raise UsageError(
                f"no live route named {', '.join(missing)} on {backend.url}",
                hint="`routes export` without names exports every owned route",
            )
        routes = [found[n] for n in sorted(found)]
    else:
        options = PlanOptions(
            owner=default_owner(settings),
            backend_url=backend.url,
            tool_version="",
            scope=settings.scope,
            labels_supported=backend.capabilities.labels,
        )
        routes = [r for r in backend.list_routes() if include_unmanaged or is_owned(r, options)]
    texts = {directory / f"{r.name}.yaml": _text(r, form) for r in routes}
    try:
        existing = {p: _read(p) for p in texts if p.exists()}
        clashes = [p for p, old in existing.items() if old != texts[p]]
        if clashes and not force:
            shown = ", ".join(str(p) for p in clashes[:5])
            more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
            raise UsageError(
                f"export would overwrite {len(clashes)} file(s) with other content: {shown}{more}",
                hint="export into another --dir, or pass --force to replace them",
            )
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in texts.items():
            if existing.get(path) != text:
                _write(path, text)
    except OSError as exc:
        raise RoutesError(f"cannot write to {directory}: {exc.strerror}") from exc
    return list(texts)


def _document(route: LiveRoute, form: str) -> dict[str, Any]:
    spec = route.spec.to_dict()
    if form == "bare":
        return spec
    return {
        "resource": "Route",
        "resourceVersion": "v1",
        "metadata": {"name": route.name},
        "spec": spec,
    }


def _text(route: LiveRoute, form: str) -> str:
    return yaml.safe_dump(_document(route, form), sort_keys=False, allow_unicode=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
