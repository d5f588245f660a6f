"""Regressions from trying to break routes as an attacker would (each failed before its fix).

Planted symlinks, tampered saved plans, hostile names over the API, journals that are not
files, and values meant to forge lines in a CI log or a pull-request comment.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.canonical import canonical_origin
from reconciler.descriptors.spec_check import spec_errors
from reconciler.model import RouteSpec
from reconciler.render.markdown import render_plan_markdown
from tests.http_server import running_server
from tests.in_process import plain_environment, run_routes

GOOD: dict[str, Any] = {
    "host": "shop.acme.org",
    "routes": [{"prefix": "/carts", "route": {"service": "shopping-cart"}}],
}


_routes = run_routes


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_environment(monkeypatch)


def _repo(folder: Path, spec: dict[str, Any] = GOOD) -> Path:
    (folder / "routes").mkdir(parents=True)
    (folder / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (folder / "routes" / "shop.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_plan_out_never_follows_a_planted_temp_symlink(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (repo / ".plan.json.tmp").symlink_to(victim)
    assert _routes(repo, "plan", "--out", "plan.json")[0] == 0
    assert victim.read_text() == "precious"
    assert not (repo / "plan.json").is_symlink()


def test_export_never_follows_a_planted_temp_symlink(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    assert _routes(repo, "apply", "--auto-approve")[0] == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (repo / "out").mkdir()
    (repo / "out" / ".shop.yaml.tmp").symlink_to(victim)
    assert _routes(repo, "export", "--dir", "out")[0] == 0
    assert victim.read_text() == "precious"
    assert not (repo / "out" / "shop.yaml").is_symlink()


def test_a_saved_create_with_a_tampered_spec_is_refused_by_show_and_apply(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    assert _routes(repo, "plan", "--out", "plan.json")[0] == 0
    plan = json.loads((repo / "plan.json").read_text())
    (change,) = plan["changes"]
    assert change["action"] == "create"
    change["spec"]["routes"].append({"prefix": "/carts", "route": {"service": "attacker"}})
    (repo / "plan.json").write_text(json.dumps(plan))
    for command in ("show", "apply"):
        status, out = _routes(repo, command, "plan.json")
        assert status == 1 and "R020" in out, out
    assert not (repo / ".routes" / "state.db").exists()


def test_a_route_name_with_a_trailing_newline_is_refused_by_the_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "state.db") as server:
        answer = httpx.put(f"{server.url}/v1/routes/evil%0A", json={"spec": GOOD})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_route_name"
        assert httpx.get(f"{server.url}/v1/routes").json()["items"] == []


@pytest.mark.parametrize("value", ["them\n::error::x", "a\x1b]0;t\x07", "b\u202ec"])
def test_label_values_that_would_reach_a_terminal_raw_are_refused(
    tmp_path: Path, value: str
) -> None:
    with running_server(tmp_path / "state.db") as server:
        body = {"spec": GOOD, "labels": {"routes/owner": value}}
        answer = httpx.put(f"{server.url}/v1/routes/shop", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.timeout(30)
def test_a_journal_that_is_not_a_file_is_skipped(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    assert _routes(repo, "apply", "--auto-approve")[0] == 0
    journal = repo / ".routes" / "journal"
    (journal / "zz-zero.jsonl").symlink_to("/dev/zero")
    os.mkfifo(journal / "zz-fifo.jsonl")
    status, out = _routes(repo, "drift")
    assert status == 0, out


def test_json_output_is_ascii(tmp_path: Path) -> None:
    spec = {**GOOD, "routes": [{**GOOD["routes"][0], "name": "caf\u00e9 \u2603"}]}
    repo = _repo(tmp_path / "repo", spec)
    status, out = _routes(repo, "plan", "--format", "json")
    assert status == 0
    assert out.isascii()
    assert json.loads(out)["changes"][0]["spec"]["routes"][0]["name"] == "caf\u00e9 \u2603"


@pytest.mark.parametrize(
    ("origin", "canonical"),
    [
        ("https://www.\u0430cme.org", "https://www.xn--cme-5cd.org"),  # Cyrillic a shows
        ("https://\uff57\uff57\uff57.acme.org", "https://www.acme.org"),  # full-width
        ("https://WWW.Acme.org./", "https://www.acme.org"),
    ],
)
def test_origins_are_canonical_so_look_alikes_show(origin: str, canonical: str) -> None:
    assert canonical_origin(origin) == canonical


@pytest.mark.parametrize(
    ("cors", "code"),
    [
        ({"allowOrigins": ["https://a.org:\u0664\u0664\u0663"]}, "R025"),  # Arabic digits
        ({"allowOrigins": ["https://a.org"], "allowMethods": ["po\u017ft"]}, "R024"),
    ],
)
def test_non_ascii_ports_and_methods_are_refused(cors: dict[str, Any], code: str) -> None:
    assert code in [p.code for p in spec_errors({**GOOD, "corsPolicy": cors})]


def test_markdown_values_cannot_forge_lines_or_hide_the_comment() -> None:
    hostile = "memory:\n::error title=forged::x <!-- @admins [x](http://e) `"
    plan = {
        "backend": hostile,
        "owner": "acme/gitops\u202e",
        "changes": [],
        "summary": {"add": 0, "change": 0, "destroy": 0, "unchanged": 0},
        "diagnostics": [{"code": "P030", "severity": "warning", "message": hostile}],
        "unmanaged": [{"route": "legacy", "host": "old.acme.org", "owner": hostile}],
    }
    text = render_plan_markdown(plan)
    assert not any(line.lstrip().startswith("::") for line in text.splitlines()), text
    assert "<!--" not in text and "@admins" not in text
    assert not re.search(r"(?<!\\)\]\(", text), text  # no link: every ] is escaped
    assert "\u202e" not in text
    assert RouteSpec.from_dict(GOOD).host == "shop.acme.org"


def test_an_owner_with_invisible_characters_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "evil\u202eteam")
    (repo / ".routes.yaml").write_text("descriptors: [routes]\n")  # owner from the folder
    status, out = _routes(repo, "plan")
    assert status == 1
    assert "owner" in out and "\u202e" not in out and "\\u202e" in out


def test_export_refuses_a_foreign_route_no_descriptor_could_hold(tmp_path: Path) -> None:
    foreign = {**GOOD, "routes": [{"prefix": "/a b", "route": {"service": "x"}}]}
    with running_server(tmp_path / "state.db") as running:
        running.store.create_route("legacy", RouteSpec.from_dict(foreign), {}, {})
        repo = _repo(tmp_path / "repo")
        status, out = _routes(repo, "--backend", running.url, "export", "--all", "--dir", "out")
    assert status == 1
    assert "R030" in out and "legacy" in out
    assert not (repo / "out").exists()


def test_state_journal_and_plan_files_are_private(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    assert _routes(repo, "plan", "--out", "plan.json")[0] == 0
    assert _routes(repo, "apply", "--auto-approve")[0] == 0
    private = [repo / "plan.json", repo / ".routes" / "state.db"]
    private += list((repo / ".routes" / "journal").glob("*.jsonl"))
    assert len(private) >= 3
    for path in private:
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
    assert _routes(repo, "export", "--dir", "out")[0] == 0
    assert (repo / "out" / "shop.yaml").stat().st_mode & 0o044  # descriptors stay shareable


def test_a_token_file_others_can_read_gets_a_warning(tmp_path: Path) -> None:
    from reconciler.commands.serve import token_file_warning

    token = tmp_path / "token"
    token.write_text("s3cret-token-value\n")
    token.chmod(0o644)
    warning = token_file_warning(str(token))
    assert warning is not None and "chmod 600" in warning and "s3cret" not in warning
    token.chmod(0o600)
    assert token_file_warning(str(token)) is None


def test_usage_errors_quote_what_was_typed_safely(tmp_path: Path) -> None:
    for args in (["##[error]cmd\x1b[2J"], ["plan", "--format", "##[error]\x1b[2J"]):
        status, out = _routes(tmp_path, *args)
        assert status == 64
        assert "##[" not in out and "\x1b" not in out, out


def test_json_output_holds_no_runner_command(tmp_path: Path) -> None:
    spec = {**GOOD, "routes": [{**GOOD["routes"][0], "name": "##[error]rule"}]}
    repo = _repo(tmp_path / "repo", spec)
    status, out = _routes(repo, "plan", "--format", "json")
    assert status == 0 and "##[" not in out
    assert json.loads(out)["changes"][0]["spec"]["routes"][0]["name"] == "##[error]rule"


def test_drift_escapes_a_foreign_route_host(tmp_path: Path) -> None:
    host = "evil.com\x1b[2j\n::error::forged\u202e | x | <!-- [c](https://e) @octocat ##[error]"
    foreign = {**GOOD, "host": host}
    with running_server(tmp_path / "state.db") as running:
        running.store.create_route("intruder", RouteSpec.from_dict(foreign), {}, {})
        repo = _repo(tmp_path / "repo")
        for fmt in ("text", "markdown"):
            _, out = _routes(repo, "--backend", running.url, "drift", "--format", fmt)
            assert "intruder" in out, out
            assert "\x1b" not in out and "\u202e" not in out and "##[" not in out, out
            assert not any(line.lstrip().startswith("::") for line in out.splitlines()), out
            if fmt == "markdown":
                assert "<!--" not in out and "@octocat" not in out
