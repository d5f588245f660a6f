"""The apply journal (DESIGN §7): what a run records, one file per run, and lines that
survive a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reconciler.apply.journal import read_journal, routes_applied_in_journal
from reconciler.errors import TransientBackendError
from tests.apply.support import OWNER, SECRET_HASH, run

# -- journal --------------------------------------------------------------------------------


def test_journal_records_the_run_and_never_a_secret(mixed: Any, tmp_path: Path) -> None:
    backend, plan, specs = mixed
    backend.faults[("replace", "upd-0")] = [TransientBackendError("503 busy")]
    journal_dir = tmp_path / ".routes" / "journal"
    result = run(plan, backend, specs, journal_dir=journal_dir)
    assert result.journal is not None
    path = Path(result.journal)
    assert path.parent == journal_dir and path.suffix == ".jsonl"
    text = path.read_text(encoding="utf-8")
    assert SECRET_HASH not in text
    events = [json.loads(line) for line in text.splitlines()]
    assert events == read_journal(path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run-start" and kinds[-1] == "run-end"
    start = events[0]
    assert start["backend"] == "memory:test" and start["owner"] == OWNER
    assert {r["route"] for r in start["routes"]} == {c.route for c in plan.changes}
    results = [e for e in events if e["event"] == "result"]
    assert sorted(e["route"] for e in results) == sorted(c.route for c in plan.changes)
    assert all({"action", "outcome", "attempts", "version", "time"} <= e.keys() for e in results)
    assert [e["route"] for e in events if e["event"] == "retry"] == ["upd-0"]
    assert events[-1]["report"] == result.summary()


def test_each_run_gets_its_own_journal_file(mixed: Any, tmp_path: Path) -> None:
    backend, plan, specs = mixed
    first = run(plan, backend, specs, journal_dir=tmp_path)
    second = run(plan, backend, specs, journal_dir=tmp_path)
    assert first.journal != second.journal
    assert len(list(tmp_path.glob("*.jsonl"))) == 2


def test_no_journal_without_a_folder(mixed: Any) -> None:
    backend, plan, specs = mixed
    assert run(plan, backend, specs).journal is None


KILL_SCRIPT = """
import sys, threading
from pathlib import Path
from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.local import open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.model import RouteSpec
from reconciler.plan import Change, Plan

class Stuck(MemoryBackend):
    def create_route(self, name, spec, labels, annotations):
        if name == "stuck":
            threading.Event().wait()  # hangs until the process is killed
        return super().create_route(name, spec, labels, annotations)

specs = {n: RouteSpec.from_dict({"host": n + ".acme.org", "routes": [
    {"prefix": "/", "route": {"service": "s"}}]}) for n in ("done", "stuck")}
changes = tuple(Change(route=n, action="create", after=s.to_dict(redact=True),
                       after_fingerprint=s.fingerprint()) for n, s in specs.items())
plan = Plan(backend="memory:", owner="o", tool_version="0", changes=changes, desired_count=2)
apply_plan(plan, Stuck(), specs, ApplyOptions(parallelism=1, journal_dir=Path(sys.argv[1])))
"""


def test_sigkill_mid_run_leaves_every_completed_line_readable(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline and proc.poll() is None:
            files = list(tmp_path.glob("*.jsonl"))
            events = read_journal(files[0]) if files else []
            if any(e.get("route") == "done" for e in events):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run should still be stuck on its second route"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    (journal,) = tmp_path.glob("*.jsonl")
    lines = journal.read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]  # every line complete and parseable
    assert [e["event"] for e in parsed] == ["run-start", "result"]
    assert parsed[1]["route"] == "done" and parsed[1]["outcome"] == "applied"


def test_torn_last_line_leaves_earlier_lines_readable(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"event": "run-start"}\n{"event": "result", "rou', encoding="utf-8")
    assert read_journal(path) == [{"event": "run-start"}]


def _journal(folder: Path, name: str, results: list[tuple[str, str]], *, ended: bool) -> None:
    lines = [{"event": "run-start"}]
    lines += [
        {"event": "result", "route": r, "action": a, "outcome": "applied"} for r, a in results
    ]
    if ended:
        lines.append({"event": "run-end"})
    (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_applied_routes_are_summarised_so_old_journals_are_read_once(tmp_path: Path) -> None:
    _journal(tmp_path, "1.jsonl", [("a", "create"), ("b", "create")], ended=True)
    _journal(tmp_path, "2.jsonl", [("b", "delete")], ended=True)
    _journal(tmp_path, "3.jsonl", [("c", "create")], ended=False)  # killed, or still running
    assert routes_applied_in_journal(tmp_path) == {"a", "c"}
    summary = json.loads((tmp_path / "applied-routes.json").read_text())
    assert summary == {"journals": ["1.jsonl", "2.jsonl"], "present": ["a"]}
    (tmp_path / "1.jsonl").write_text("not read again\n")  # covered by the summary
    _journal(tmp_path, "3.jsonl", [("c", "create"), ("d", "create")], ended=True)
    assert routes_applied_in_journal(tmp_path) == {"a", "c", "d"}
    assert json.loads((tmp_path / "applied-routes.json").read_text())["journals"][-1] == "3.jsonl"


def test_a_summary_that_does_not_match_the_journals_is_ignored(tmp_path: Path) -> None:
    _journal(tmp_path, "1.jsonl", [("a", "create")], ended=True)
    _journal(tmp_path, "2.jsonl", [("b", "create")], ended=True)
    assert routes_applied_in_journal(tmp_path) == {"a", "b"}
    (tmp_path / "1.jsonl").unlink()  # journals pruned by hand
    assert routes_applied_in_journal(tmp_path) == {"b"}
    (tmp_path / "applied-routes.json").write_text('{"journals": 7}')
    assert routes_applied_in_journal(tmp_path) == {"b"}
