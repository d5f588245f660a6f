"""The "speed at scale" scenarios: local applies, memory, export and drift at 10k-50k routes.

Each is ``routes`` as a child process against a floor measured in the same run, alternating
(with the state each run starts from restored before it), medians over ``runs``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bench.gen import change_routes, generate_repo
from bench.measure import Row, Run, median_seconds, peak, run_child
from reconciler.integrations.git_status import _STATUS as GIT_STATUS  # what a plan runs

# Parse every file (libyaml) and insert one row per route in a single SQLite transaction:
# the least an apply of creates into the local store can do.
INSERT_FLOOR = """\
import json, sqlite3, sys
from pathlib import Path
import yaml
rows = []
for file in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    spec = yaml.load(file.read_bytes(), Loader=yaml.CSafeLoader)
    rows.append((file.stem, json.dumps(spec, sort_keys=True), "{}", "{}", len(rows), "", ""))
conn = sqlite3.connect(sys.argv[2], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("CREATE TABLE routes (name TEXT PRIMARY KEY, spec TEXT, labels TEXT,"
             " annotations TEXT, version INTEGER, created_at TEXT, updated_at TEXT) WITHOUT ROWID")
conn.execute("BEGIN IMMEDIATE")
conn.executemany("INSERT INTO routes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
conn.execute("COMMIT")
"""

# Parse every file and keep every document: the memory the desired set needs at least.
KEEP_FLOOR = """\
import sys
from pathlib import Path
import yaml
docs = [yaml.load(f.read_bytes(), Loader=yaml.CSafeLoader)
        for f in sorted(Path(sys.argv[1]).rglob("*.yaml"))]
"""

# Read every row of the store and write each spec as a YAML file with libyaml's emitter.
EXPORT_FLOOR = """\
import json, sqlite3, sys
from pathlib import Path
import yaml
out = Path(sys.argv[2]); out.mkdir(exist_ok=True)
conn = sqlite3.connect(sys.argv[1])
for name, spec in conn.execute("SELECT name, spec FROM routes ORDER BY name"):
    text = yaml.dump(json.loads(spec), Dumper=yaml.CSafeDumper, sort_keys=False)
    (out / f"{name}.yaml").write_text(text, encoding="utf-8")
"""

Prepare = Callable[[], None]


def alternate(
    ours: tuple[Prepare, Sequence[str]], floor: tuple[Prepare, Sequence[str]], cwd: Path, runs: int
) -> tuple[list[Run], list[Run]]:
    """``runs`` of each, alternating, each after its own ``prepare``; one warm-up each."""
    mine: list[Run] = []
    base: list[Run] = []
    for index in range(runs + 1):
        floor[0]()
        floor_run = run_child(floor[1], cwd)
        ours[0]()
        our_run = run_child(ours[1], cwd)
        if index:  # the first pair only warms the page and bytecode caches
            base.append(floor_run)
            mine.append(our_run)
    return mine, base


def ratio_row(
    scenario: str, n: int, mine: list[Run], base: list[Run], floor_name: str, goal: float
) -> Row:
    ratio = median_seconds(mine) / median_seconds(base)
    return Row(
        scenario,
        n,
        f"{median_seconds(mine):.2f} s",
        f"{median_seconds(base):.2f} s ({floor_name})",
        f"{ratio:.2f}",
        f"≤ {goal}",
        ratio <= goal,
        peak(mine),
    )


def nothing() -> None:
    return None


def local_rows(folder: Path, routes: str, sizes: Sequence[int], runs: int) -> list[Row]:
    """Apply of N creates vs parse + one insert transaction; a 1 %-changed apply vs its plan;
    peak RSS of the unchanged plan vs the parse-and-keep process; export vs libyaml; peak
    RSS of the JSON plan of N creates vs its text plan."""
    rows: list[Row] = []
    for n in sizes:
        repo = folder / f"scale-{n}"
        generate_repo(repo, n)
        state, floor_db = repo / ".routes", folder / f"floor-{n}.db"

        def fresh_store(state: Path = state) -> None:
            shutil.rmtree(state, ignore_errors=True)

        def fresh_floor(db: Path = floor_db) -> None:
            for path in db.parent.glob(db.name + "*"):
                path.unlink()

        n_runs = runs if n <= 10_000 else max(1, runs // 2)
        rows.append(_json_plan_row(repo, routes, n, n_runs))  # before any apply: all creates
        mine, base = alternate(
            (fresh_store, [routes, "apply", "--auto-approve"]),
            (fresh_floor, [sys.executable, "-c", INSERT_FLOOR, "routes", str(floor_db)]),
            repo,
            n_runs,
        )
        scenario = "`routes apply --auto-approve`, creates, local"
        rows.append(ratio_row(scenario, n, mine, base, "parse + 1 insert transaction", 1.5))
        keep = [sys.executable, "-c", KEEP_FLOOR, "routes"]
        unchanged, kept = alternate((nothing, [routes, "plan"]), (nothing, keep), repo, n_runs)
        rss = peak(unchanged) / peak(kept)
        rows.append(
            Row(
                "peak RSS of `routes plan`, all unchanged, local",
                n,
                f"{peak(unchanged):.0f} MiB",
                f"{peak(kept):.0f} MiB (parse, keep every document)",
                f"{rss:.2f}",
                "≤ 1.3",
                rss <= 1.3,
                peak(unchanged),
            )
        )
        rows.append(_export_row(folder, repo, routes, n, n_runs))
        rows.append(_changed_apply_row(repo, routes, n, n_runs))
        shutil.rmtree(repo)
    return rows


def _json_plan_row(repo: Path, routes: str, n: int, runs: int) -> Row:
    """Peak RSS of ``routes plan --format json`` (streamed) vs the text plan of the same."""
    json_runs, text_runs = alternate(
        (nothing, [routes, "plan", "--format", "json"]), (nothing, [routes, "plan"]), repo, runs
    )
    ratio = peak(json_runs) / peak(text_runs)
    return Row(
        "peak RSS of `routes plan --format json`, all creates, local",
        n,
        f"{peak(json_runs):.0f} MiB, {median_seconds(json_runs):.1f} s",
        f"{peak(text_runs):.0f} MiB, {median_seconds(text_runs):.1f} s (the text plan)",
        f"{ratio:.2f}",
        "≤ 1.2",
        ratio <= 1.2,
        peak(json_runs),
    )


def _export_row(folder: Path, repo: Path, routes: str, n: int, runs: int) -> Row:
    out, floor_out = folder / "exported", folder / "exported-floor"
    db = repo / ".routes" / "state.db"
    mine, base = alternate(
        (
            lambda: shutil.rmtree(out, ignore_errors=True),
            [routes, "export", "--dir", str(out)],
        ),
        (
            lambda: shutil.rmtree(floor_out, ignore_errors=True),
            [sys.executable, "-c", EXPORT_FLOOR, str(db), str(floor_out)],
        ),
        repo,
        runs,
    )
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(floor_out, ignore_errors=True)
    return ratio_row("`routes export`, local", n, mine, base, "rows -> libyaml emitter", 1.2)


def _changed_apply_row(repo: Path, routes: str, n: int, runs: int) -> Row:
    db = repo / ".routes" / "state.db"
    saved = db.with_name("saved.db")
    shutil.copy(db, saved)
    changed = change_routes(repo, max(1, n // 100))

    def restore() -> None:
        for path in db.parent.glob("state.db*"):
            path.unlink()
        shutil.copy(saved, db)

    mine, base = alternate(
        (restore, [routes, "apply", "--auto-approve"]), (restore, [routes, "plan"]), repo, runs
    )
    label = f"`routes apply`, {len(changed)} routes (1 %) changed, local"
    return ratio_row(label, n, mine, base, "`routes plan` of it", 1.2)


def drift_row(folder: Path, routes: str, n: int, journals: int, runs: int) -> Row:
    """``routes drift`` with ``journals`` earlier apply journals vs with one."""
    repo = folder / f"drift-{n}"
    generate_repo(repo, n)
    run_child([routes, "apply", "--auto-approve"], repo)
    journal_dir = repo / ".routes" / "journal"
    (first,) = journal_dir.glob("*.jsonl")
    history = folder / "history"
    history.mkdir(exist_ok=True)
    for index in range(journals - 1):
        shutil.copy(first, history / f"20200101T000000.{index:06d}Z-1.jsonl")

    def only_one() -> None:
        for path in journal_dir.glob("2020*"):
            path.unlink()

    def with_history() -> None:
        for path in history.glob("*.jsonl"):
            shutil.copy(path, journal_dir / path.name)

    mine, base = alternate(
        (with_history, [routes, "drift"]), (only_one, [routes, "drift"]), repo, runs
    )
    shutil.rmtree(repo)
    shutil.rmtree(history)
    scenario = f"`routes drift`, {journals} apply journals of {n:,} routes each"
    # drift exits 0 without drift; both sides see the same store
    return ratio_row(scenario, n, mine, base, "the same with 1 journal", 1.1)


def changed_since_rows(folder: Path, routes: str, sizes: Sequence[int], runs: int) -> list[Row]:
    """``routes plan --changed-since HEAD~1`` (one file changed) vs ``routes --version``."""
    # Both sides mostly import: byte-compile the package first, as an install does (with
    # PYTHONDONTWRITEBYTECODE set, every run would compile the whole plan path again).
    import compileall

    import reconciler

    compileall.compile_dir(Path(reconciler.__file__).parent, quiet=1)
    rows: list[Row] = []
    for n in sizes:
        repo = folder / f"git-{n}"
        generate_repo(repo, n)
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "routes"]):
            subprocess.run([*git, *args], cwd=repo, check=True)
        change_routes(repo, 1)
        subprocess.run([*git, "commit", "-qam", "one route changed"], cwd=repo, check=True)
        mine, base = alternate(
            (nothing, [routes, "plan", "--changed-since", "HEAD~1"]),
            (nothing, [routes, "--version"]),
            repo,
            runs,
        )
        label = "`routes plan --changed-since HEAD~1`, 1 file changed"
        rows.append(ratio_row(label, n, mine, base, "`routes --version`", 2.0))
        # What no plan of a working tree can skip, each alone against the same floor: git
        # scanning the tree (the very status the plan runs), and Python importing what a
        # plan of one file needs. Informational: they show where the time above goes.
        for label, args in (
            ("`git status` of the same tree (the plan runs it)", ["git", *GIT_STATUS]),
            ("importing what that plan needs, nothing run", [sys.executable, "-c", IMPORTS]),
        ):
            alone, base = alternate((nothing, args), (nothing, [routes, "--version"]), repo, runs)
            row = ratio_row(label, n, alone, base, "`routes --version`", 2.0)
            rows.append(replace(row, goal="—", met=None))
        shutil.rmtree(repo)
    return rows


IMPORTS = (
    "import reconciler.cli, reconciler.config, reconciler.commands.plan, "
    "reconciler.integrations.git, reconciler.descriptors.loader, reconciler.backends.local, "
    "reconciler.store.sqlite, reconciler.planner, reconciler.render.text"
)


# List every route through the API, page by page, and parse the descriptor files: the least
# a plan over http does.
LIST_FLOOR = """\
import os, sys
from pathlib import Path
import httpx, yaml
for file in sorted(Path(sys.argv[2]).rglob("*.yaml")):
    yaml.load(file.read_bytes(), Loader=yaml.CSafeLoader)
headers = {"Authorization": "Bearer " + os.environ["ROUTES_TOKEN"]}
with httpx.Client(base_url=sys.argv[1], headers=headers) as client:
    token = None
    while True:
        params = {"pageSize": 500, **({"pageToken": token} if token else {})}
        page = client.get("/v1/routes", params=params).json()
        token = page["nextPageToken"]
        if not token:
            break
"""


def http_plan_row(folder: Path, routes: str, n: int, runs: int) -> Row:
    """``routes plan`` (all unchanged) through ``routes serve`` vs listing + parsing."""
    from bench import http_apply

    repo = folder / f"http-{n}"
    generate_repo(repo, n)
    run_child([routes, "apply", "--auto-approve"], repo)
    db = repo / ".routes" / "state.db"
    os.environ["ROUTES_TOKEN"] = http_apply.TOKEN
    try:
        with http_apply.server(folder, db) as url:
            mine, base = alternate(
                (nothing, [routes, "--backend", url, "plan"]),
                (nothing, [sys.executable, "-c", LIST_FLOOR, url, "routes"]),
                repo,
                runs,
            )
    finally:
        del os.environ["ROUTES_TOKEN"]
    shutil.rmtree(repo)
    label = "`routes plan`, all unchanged, over http (`routes serve`)"
    return ratio_row(label, n, mine, base, "list via HTTP + libyaml parse", 1.2)
