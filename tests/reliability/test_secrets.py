"""Secrets never leak: every command, with a bearer token and basic-auth password hashes in
play, and every byte it prints, logs, journals or saves searched for them."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx

from tests.reliability.support import record, routes_env, run_routes, serve, spec, write_repo

TOKEN = "tok-3f9a1c7e5b2d4f60a8c9e1b3d5f7a9c2"
WRONG_TOKEN = "tok-wrong-0e8d6c4b2a0f9e7d5c3b1a90"
HASHES = [
    "sha256:" + base64.b64encode(hashlib.sha256(word).digest()).decode()
    for word in (b"hunter2", b"correct horse", b"drifted in by hand")
]
# The base64 body of each hash alone must not appear either (a renderer could drop the prefix).
SECRETS = [TOKEN, WRONG_TOKEN, *HASHES, *(h.split(":", 1)[1] for h in HASHES)]


def guarded(index: int, *hashes: str) -> dict[str, object]:
    body = spec(index, "guarded")
    body["validation"] = {
        "httpBasic": {
            "realm": "Staff",
            "passwordHashes": {f"user{n}": h for n, h in enumerate(hashes)},
        }
    }
    return body


def test_no_command_prints_logs_journals_or_saves_a_secret(tmp_path: Path) -> None:
    outputs: dict[str, str] = {}
    with serve(tmp_path / "state.db", TOKEN) as (server, url):
        repo = write_repo(
            tmp_path / "repo",
            {"open": spec(1), "staff": guarded(2, HASHES[0], HASHES[1])},
            url,
            prune=True,
        )
        env = routes_env(TOKEN)

        def run(label: str, *args: str, expect: tuple[int, ...] = (0,), token: str = TOKEN) -> str:
            done = run_routes(list(args), repo, routes_env(token) if token != TOKEN else env)
            assert done.returncode in expect, f"{label}: {done.stdout}\n{done.stderr}"
            outputs[label] = done.stdout + done.stderr
            return done.stdout

        for fmt in ("text", "json", "github"):
            run(f"validate {fmt}", "validate", "--format", fmt)
        for fmt in ("text", "markdown", "json"):
            run(f"plan {fmt}", "plan", "--format", fmt, "--detailed-exitcode", expect=(2,))
        run("plan --out", "plan", "--out", "plan.json")
        for fmt in ("text", "markdown", "json"):
            run(f"show {fmt}", "show", "plan.json", "--format", fmt)
        run("apply plan", "apply", "plan.json")
        write_repo(
            repo,
            {"open": spec(1, "moved"), "staff": guarded(2, HASHES[1]), "new": spec(3)},
            url,
            prune=True,
        )
        run("apply json", "apply", "--auto-approve", "--format", "json")
        run("apply -v", "-v", "apply", "--auto-approve", "--format", "text")
        # Someone swaps a password hash by hand: drift must notice without showing it.
        headers = {"Authorization": f"Bearer {TOKEN}"}
        live = httpx.get(f"{url}/v1/routes/staff", headers=headers).json()
        live["spec"]["validation"]["httpBasic"]["passwordHashes"] = {"user0": HASHES[2]}
        body = {k: live[k] for k in ("spec", "labels", "annotations")}
        assert httpx.put(f"{url}/v1/routes/staff", json=body, headers=headers).status_code == 200
        for fmt in ("text", "markdown", "json"):
            run(f"drift {fmt}", "drift", "--format", fmt, expect=(2,))
        run("plan after drift", "plan", "--format", "json", "--out", "drift-plan.json")
        exported = run("export", "export", "--dir", "exported", "--all")
        assert "staff" in exported
        run("wrong token", "-v", "plan", expect=(1,), token=WRONG_TOKEN)
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        outputs["serve log"] = server.stderr.read()
    assert "PUT /v1/routes/staff" in outputs["serve log"], "the access log was on"

    searched = dict(outputs)
    for file in [repo / "plan.json", repo / "drift-plan.json"]:
        searched[str(file)] = file.read_text(encoding="utf-8")
    journal_files = sorted((repo / ".routes" / "journal").glob("*.jsonl"))
    assert len(journal_files) == 2  # the third apply had nothing to do
    for file in journal_files:
        searched[str(file)] = file.read_text(encoding="utf-8")
    leaks = [(where, s[:12]) for where, text in searched.items() for s in SECRETS if s in text]
    assert not leaks, f"secrets found: {leaks}"
    assert "(sensitive value)" in outputs["plan text"]
    # The descriptor files export writes must hold the hash, or they would not round-trip.
    assert HASHES[2] in (repo / "exported" / "staff.yaml").read_text(encoding="utf-8")
    record("secrets-never-leak", places_searched=len(searched), secrets_found=0)
