"""Shared pieces of the reliability tests, and the figures they record for docs/reliability.md.

With ``ROUTES_RELIABILITY=1`` every reliability test appends what it measured (faults
injected, requests made, crashes survived, fuzz cases, data lost) to
``.routes-reliability/figures.jsonl``; ``python -m tests.reliability.support`` adds them up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import yaml

from tests.pg_cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = ROOT / ".routes-reliability"
FIGURES = FIGURES_DIR / "figures.jsonl"
OWNER = "acme/gitops"


def record(test: str, **figures: int) -> None:
    """Append one test's figures when ``ROUTES_RELIABILITY`` is set; print them for ``-s``."""
    line = json.dumps({"test": test, **figures}, sort_keys=True)
    print(f"\nreliability: {line}")
    if not os.environ.get("ROUTES_RELIABILITY"):
        return
    FIGURES_DIR.mkdir(exist_ok=True)
    with FIGURES.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def spec(index: int, service: str = "svc", *, host: str | None = None) -> dict[str, Any]:
    """A small valid route descriptor, distinct per index and service."""
    return {
        "host": host or f"r{index:03d}.acme.org",
        "routes": [
            {"prefix": "/", "route": {"service": f"{service}-{index}"}},
            {"prefix": "/api", "route": {"service": f"{service}-api"}},
        ],
    }


def write_repo(
    folder: Path, specs: Mapping[str, Mapping[str, Any]], backend: str, **config: Any
) -> Path:
    """A descriptor folder: ``.routes.yaml`` plus one bare descriptor file per route."""
    routes = folder / "routes"
    routes.mkdir(parents=True, exist_ok=True)
    for old in routes.glob("*.yaml"):
        old.unlink()
    for name, body in specs.items():
        (routes / f"{name}.yaml").write_text(yaml.safe_dump(dict(body)), encoding="utf-8")
    settings = {"backend": backend, "descriptors": ["routes"], "owner": OWNER, **config}
    (folder / ".routes.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return folder


def routes_env(token: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for a ``routes`` subprocess: no colour, the token if any."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTES_")}
    env.update(NO_COLOR="1", **extra)
    if token is not None:
        env["ROUTES_TOKEN"] = token
    return env


def routes_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def run_routes(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in ``cwd`` and wait for it."""
    return subprocess.run(
        routes_cmd(*args),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def journals(folder: Path) -> list[list[dict[str, Any]]]:
    """The events of every journal under ``folder/.routes/journal``, oldest first."""
    runs = []
    for path in sorted((folder / ".routes" / "journal").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        runs.append([json.loads(line) for line in lines if line.strip().endswith("}")])
    return runs


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def serve(
    db: Path | str, token: str, *flags: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``routes serve`` in a child process on a free loopback port; ``db`` a file or a URL."""
    process = subprocess.Popen(
        routes_cmd("serve", "--db", str(db), "--port", "0", *flags),
        env=routes_env(ROUTES_SERVER_TOKEN=token, **(env or {})),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = _listening_url(process.stderr)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


@contextmanager
def replicas(
    cluster: Cluster, token: str, *flags: str, count: int = 2, seeded: bool = False
) -> Iterator[tuple[str, list[tuple[subprocess.Popen[str], str]]]]:
    """``count`` ``routes serve`` processes on different ports over one fresh PostgreSQL
    database, as deployed: the password in ``PGPASSWORD``, not on the command line.
    ``seeded`` gives replica i ``--fault-seed i``. Yields the database URL (with its
    password, for the test's own reads) and the replicas."""
    url = cluster.database()
    bare = url.replace(f":{quote(cluster.password, safe='')}@", "@")
    with contextlib.ExitStack() as stack:
        running = [
            stack.enter_context(
                serve(
                    bare,
                    token,
                    *flags,
                    *(("--fault-seed", str(index)) if seeded else ()),
                    env={"PGPASSWORD": cluster.password},
                )
            )
            for index in range(count)
        ]
        yield url, running


def _listening_url(stderr: IO[str] | None) -> str:
    assert stderr is not None
    lines = []
    for _ in range(5):  # warnings (a readable token file, ...) may come first
        line = stderr.readline()
        lines.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return found[1]
        if not line:
            break
    raise AssertionError(f"routes serve did not start: {lines!r}")


def totals(path: Path = FIGURES) -> dict[str, int]:
    """Every recorded figure summed over the tests that recorded it."""
    summed: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        for key, value in json.loads(line).items():
            if key != "test" and isinstance(value, int):
                summed[key] += value
    return dict(sorted(summed.items()))


if __name__ == "__main__":
    if not FIGURES.exists():
        sys.exit(f"no figures yet: run ROUTES_RELIABILITY=1 pytest first ({FIGURES})")
    for line in FIGURES.read_text(encoding="utf-8").splitlines():
        print(line)
    print(json.dumps(totals(), indent=2))
