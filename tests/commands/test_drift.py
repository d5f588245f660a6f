"""``routes drift`` as a platform engineer meets it on day two: what drifted, field by field,
and the same classification on a fresh CI clone (no journal) as on the laptop that applied.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.integrations.github.support import FakeGitHub, env, fake
from tests.test_cli import SHOP, routes

__all__ = ["env", "fake"]  # fixtures, re-exported for pytest


def _hand_edit(repo: Path, name: str) -> None:
    """What someone does behind routes' back: retarget /carts, add an origin, add /debug."""
    db = sqlite3.connect(repo / ".routes" / "state.db")
    with db:
        spec = json.loads(db.execute("SELECT spec FROM routes WHERE name=?", (name,)).fetchone()[0])
        spec["routes"][0]["route"]["service"] = "evil-cart"
        spec["routes"].append({"prefix": "/debug", "route": {"service": "debug"}})
        spec["corsPolicy"]["allowOrigins"].append("https://evil.example")
        db.execute(
            "UPDATE routes SET spec=?, version=version+1000 WHERE name=?", (json.dumps(spec), name)
        )
    db.close()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "routes").mkdir(parents=True)
    (repo / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (repo / "routes" / "shop.yaml").write_text(SHOP)
    code, out, err = routes(repo, "apply", "--auto-approve")
    assert code == 0, out + err
    return repo


EXPECTED_LINES = [
    '      ~ path "/carts" -> live evil-cart, described shopping-cart',
    '      + path "/debug" -> debug (live only, not described)',
    '      + corsPolicy.allowOrigins "https://evil.example" (live only, not described)',
]


def test_drift_says_what_drifted_live_against_described(shop: Path) -> None:
    _hand_edit(shop, "shop")
    code, out, _ = routes(shop, "drift")
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == (
        "  changed-out-of-band  shop: live route edited outside routes; apply to restore it"
    )
    assert lines[1:4] == EXPECTED_LINES
    assert "remove-path" not in out and "set-cors" not in out

    code, out, _ = routes(shop, "drift", "--format", "json")
    (finding,) = json.loads(out)["findings"]
    assert finding["differences"] == [
        {"field": "path", "key": "/carts", "live": "evil-cart", "described": "shopping-cart"},
        {"field": "path", "key": "/debug", "live": "debug", "described": None},
        {
            "field": "corsPolicy.allowOrigins",
            "key": None,
            "live": "https://evil.example",
            "described": None,
        },
    ]

    code, out, _ = routes(shop, "drift", "--format", "markdown")
    assert '```diff\n! path "/carts" -> live evil-cart, described shopping-cart\n' in out


def test_the_drift_issue_body_shows_the_field_level_diff(
    shop: Path, fake: FakeGitHub, env: dict[str, str]
) -> None:
    _hand_edit(shop, "shop")
    code, _, err = routes(shop, "drift", "--github-issue", env=env)
    assert code == 2, err
    (issue,) = fake.issues
    body = issue["body"]
    assert "#### Differences, live against described" in body
    for line in EXPECTED_LINES:
        assert line.strip().replace("~ ", "! ", 1) in body


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_a_fresh_clone_without_a_journal_classifies_as_the_laptop_does(tmp_path: Path) -> None:
    laptop = tmp_path / "laptop"
    (laptop / "routes").mkdir(parents=True)
    (laptop / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (laptop / "routes" / "shop.yaml").write_text(SHOP)
    (laptop / "routes" / "admin.yaml").write_text(SHOP.replace("ecommerce", "admin"))
    (laptop / ".gitignore").write_text(".routes/\n")
    _git(laptop, "init", "-q", "-b", "main")
    _git(laptop, "add", "-A")
    _git(laptop, "commit", "-q", "-m", "two routes")
    state = tmp_path / "state.db"  # the shared backend both sides plan against
    code, out, err = routes(laptop, "--backend", f"local:{state}", "apply", "--auto-approve")
    assert code == 0, out + err

    # Later: a new route is merged but not applied, and someone deletes admin by hand.
    (laptop / "routes" / "new.yaml").write_text(SHOP.replace("ecommerce", "new"))
    _git(laptop, "add", "-A")
    _git(laptop, "commit", "-q", "-m", "a new route")
    with sqlite3.connect(state) as db:
        db.execute("DELETE FROM routes WHERE name='admin'")
    db.close()

    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(laptop), str(ci)], check=True)
    assert not (ci / ".routes").exists(), "a fresh runner has no journal"
    shutil.rmtree(laptop / ".routes" / "journal")  # and the laptop needs none either
    for where in (laptop, ci):
        code, out, _ = routes(where, "--backend", f"local:{state}", "drift", "--format", "json")
        assert code == 2
        found = {f["route"]: (f["kind"], f["detail"]) for f in json.loads(out)["findings"]}
        assert found["admin"][0] == "deleted-out-of-band", where
        assert found["new"][0] == "not-yet-applied", where
        assert "the last one applied" in found["admin"][1]


def test_hostile_live_values_in_the_differences_stay_inert(shop: Path) -> None:
    hostile = "x``` <img src=x> @octocat ##[error]owned"
    db = sqlite3.connect(shop / ".routes" / "state.db")
    with db:
        spec = json.loads(db.execute("SELECT spec FROM routes WHERE name='shop'").fetchone()[0])
        spec["validation"] = {
            "httpBasic": {"realm": hostile, "passwordHashes": {"u": "sha256:" + "q" * 43 + "="}}
        }
        db.execute("UPDATE routes SET spec=?, version=version+1000", (json.dumps(spec),))
    db.close()
    for fmt in ("text", "markdown", "json"):
        code, out, err = routes(shop, "drift", "--format", fmt)
        assert code == 2, err
        assert "##[error]" not in out, fmt
        assert "q" * 43 not in out, "a password hash is never shown"
    code, md, _ = routes(shop, "drift", "--format", "markdown")
    section = md[md.index("#### Differences") :]
    fence = section.split("\n")[4]
    assert fence == "````diff", "the fence outruns every backtick run in the values"
    assert section.count("````") == 2
