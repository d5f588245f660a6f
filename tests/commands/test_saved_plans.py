"""Saved plans: exactly what was reviewed, or nothing.

Every attack on a plan file, and every change of the world between plan and apply that
the reviewer did not see, ends in exit 1 with zero writes, counted on the store itself:
its version counter (every write bumps it) and its rows. The promises stay: a fresh plan
applies, a half-applied one applies again, routes the plan does not touch change freely.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from reconciler.descriptors.cache import DOCUMENT_FIELDS, sign, user_secret
from tests.in_process import plain_environment, run_routes


def password_hash(password: str) -> str:
    return "sha256:" + base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()


SECRET = password_hash("Winter2024!")

SHOP = """\
host: shop.acme.org
routes:
- prefix: /carts
  route: {service: cart}
- prefix: /
  route: {service: storefront}
"""
BLOG = """\
host: blog.acme.org
routes:
- prefix: /
  route: {service: blog}
"""
ADMIN = f"""\
host: admin.acme.org
validation:
  httpBasic:
    realm: Admin
    passwordHashes: {{ops: "{SECRET}"}}
routes:
- prefix: /
  route: {{service: admin}}
"""


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_environment(monkeypatch)


def make_repo(root: Path, owner: str = "acme/shop", config: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".routes.yaml").write_text(f"descriptors: [routes]\nowner: {owner}\n{config}")
    (root / "routes").mkdir(exist_ok=True)
    (root / "routes" / "shop.yaml").write_text(SHOP)
    (root / "routes" / "blog.yaml").write_text(BLOG)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose routes are applied, with shop then changed in the descriptors."""
    root = make_repo(tmp_path / "repo-one", config="protected: [keep-*]\n")
    code, out = run_routes(root, "apply", "--auto-approve")
    assert code == 0, out
    (root / "routes" / "shop.yaml").write_text(SHOP.replace("service: cart", "service: cart-v2"))
    return root


def store(root: Path) -> Path:
    return root / ".routes" / "state.db"


def snapshot(root: Path) -> tuple[Any, ...]:
    """Everything a write would change: the version counter and every row."""
    with sqlite3.connect(store(root)) as db:
        seq = db.execute("SELECT value FROM meta WHERE key = 'version_seq'").fetchone()
        rows = db.execute("SELECT * FROM routes ORDER BY name").fetchall()
    return seq, rows


def plan_file(root: Path, *args: str, name: str = "plan.json") -> dict[str, Any]:
    code, out = run_routes(root, "plan", "--out", name, *args)
    assert code == 0, out
    return json.loads((root / name).read_text())


def save(root: Path, plan: dict[str, Any], name: str = "plan.json") -> None:
    (root / name).write_text(json.dumps(plan))


def refused(root: Path, *args: str, name: str = "plan.json") -> str:
    """Apply the plan file: it must exit 1 and write nothing; the message."""
    before = snapshot(root)
    code, out = run_routes(root, "apply", name, *args)
    assert code == 1, out
    assert snapshot(root) == before, "a refused apply wrote to the store"
    assert "Traceback" not in out
    return out


def label(root: Path, name: str, labels: dict[str, str] | None) -> None:
    """A hand edit of a route's labels behind routes' back (as through the API)."""
    with sqlite3.connect(store(root)) as db:
        db.execute("UPDATE routes SET labels = ? WHERE name = ?", (json.dumps(labels or {}), name))


def live_service(root: Path, name: str, prefix: str) -> str:
    with sqlite3.connect(store(root)) as db:
        spec = json.loads(db.execute("SELECT spec FROM routes WHERE name=?", (name,)).fetchone()[0])
    return next(r["route"]["service"] for r in spec["routes"] if r["prefix"] == prefix)


def the_change(plan: dict[str, Any], route: str) -> dict[str, Any]:
    return next(c for c in plan["changes"] if c["route"] == route)


# -- the promises hold ----------------------------------------------------------------------


def test_a_fresh_saved_plan_applies_and_applies_again_as_already_applied(repo: Path) -> None:
    plan_file(repo)
    code, out = run_routes(repo, "apply", "plan.json")
    assert code == 0, out
    assert live_service(repo, "shop", "/carts") == "cart-v2"
    code, out = run_routes(repo, "apply", "plan.json")
    assert code == 0 and "0 applied, 1 already applied" in out


def test_routes_the_plan_does_not_touch_may_change_freely(repo: Path) -> None:
    plan_file(repo)
    code, _ = run_routes(repo, "apply", "--auto-approve", "routes/blog.yaml")
    (repo / "routes" / "blog.yaml").write_text(BLOG)  # unchanged descriptors, as planned
    with sqlite3.connect(store(repo)) as db:  # someone retargets blog by hand
        spec = json.loads(db.execute("SELECT spec FROM routes WHERE name='blog'").fetchone()[0])
        spec["routes"][0]["route"]["service"] = "blog-v9"
        db.execute("UPDATE routes SET spec = ? WHERE name = 'blog'", (json.dumps(spec),))
    code, out = run_routes(repo, "apply", "plan.json")
    assert code == 0, out
    assert live_service(repo, "shop", "/carts") == "cart-v2"
    assert live_service(repo, "blog", "/") == "blog-v9"


def test_a_live_change_since_planning_makes_the_plan_stale(repo: Path) -> None:
    plan_file(repo)
    with sqlite3.connect(store(repo)) as db:
        spec = json.loads(db.execute("SELECT spec FROM routes WHERE name='shop'").fetchone()[0])
        spec["routes"][0]["route"]["service"] = "hotfix"
        db.execute("UPDATE routes SET spec = ? WHERE name = 'shop'", (json.dumps(spec),))
    out = refused(repo)
    assert "plan is stale: route shop changed since the plan was made" in out


# -- tampered plan files --------------------------------------------------------------------


def test_an_edited_after_is_refused_although_show_renders_the_reviewed_change(repo: Path) -> None:
    plan = plan_file(repo)
    change = the_change(plan, "shop")
    change["after"]["routes"].append({"prefix": "/admin-debug", "route": {"service": "x"}})
    for rule in change["after"]["routes"]:
        if rule["prefix"] == "/carts":
            rule["route"]["service"] = "attacker-exfil"
    change["after_fingerprint"] = "sha256:" + "0" * 64
    save(repo, plan)
    code, shown = run_routes(repo, "show", "plan.json")
    # show renders what apply would write: the edit is in sight, not the reviewed line only
    assert code == 0 and "/admin-debug" in shown and "attacker-exfil" in shown
    out = refused(repo)
    assert "route shop" in out and "/admin-debug" in out
    assert "does not match a fresh plan" in out


def test_an_edited_operations_list_cannot_hide_what_after_says(repo: Path) -> None:
    plan = plan_file(repo)
    change = the_change(plan, "shop")
    change["after"]["routes"].append({"prefix": "/exfil", "route": {"service": "evil"}})
    change["operations"] = [op for op in change["operations"] if op["op"] != "add-path"]
    save(repo, plan)
    code, shown = run_routes(repo, "show", "plan.json")
    assert code == 0 and "/exfil" in shown and "evil" in shown
    refused(repo)


def test_an_added_delete_of_a_described_route_is_refused(repo: Path) -> None:
    plan = plan_file(repo)
    plan["changes"].append(
        {
            **the_change(plan, "shop"),
            "route": "blog",
            "action": "delete",
            "reason": "not-in-configuration",
            "before": None,
            "after": None,
            "spec": {
                "host": "blog.acme.org",
                "routes": [{"prefix": "/", "route": {"service": "blog"}}],
            },
            "operations": [],
            "risks": ["delete"],
            "labels": {},
            "annotations": {},
            "after_fingerprint": None,
        }
    )
    plan["summary"]["destroy"] = 1
    save(repo, plan)
    out = refused(repo)
    assert "route blog" in out and "deletes it" in out


def _delete_entry(name: str, host: str) -> dict[str, Any]:
    return {
        "route": name,
        "action": "delete",
        "reason": "not-in-configuration",
        "file": None,
        "line": None,
        "before": None,
        "after": None,
        "spec": {"host": host, "routes": [{"prefix": "/", "route": {"service": "svc"}}]},
        "live_version": "1",
        "live_fingerprint": "sha256:" + "1" * 64,
        "after_fingerprint": None,
        "operations": [],
        "risks": ["delete"],
        "labels": {},
        "annotations": {},
    }


def _seed(root: Path, name: str, labels: dict[str, str]) -> None:
    """A live route written by someone else (the API would do the same)."""
    spec = {"host": f"{name}.acme.org", "routes": [{"prefix": "/", "route": {"service": "svc"}}]}
    with sqlite3.connect(store(root)) as db:
        db.execute(
            "INSERT INTO routes VALUES (?, ?, ?, '{}', 900, '2026-01-01T00:00:00Z',"
            " '2026-01-01T00:00:00Z')",
            (name, json.dumps(spec), json.dumps(labels)),
        )


def test_deletes_of_unmanaged_and_protected_routes_in_a_no_prune_plan_are_refused(
    repo: Path,
) -> None:
    _seed(repo, "legacy", {})
    _seed(repo, "keep-core", {"managed-by": "routes", "routes/owner": "acme/shop"})
    plan = plan_file(repo)
    assert plan["options"]["prune"] is False
    plan["changes"] += [
        _delete_entry("legacy", "legacy.acme.org"),
        _delete_entry("keep-core", "keep-core.acme.org"),
    ]
    save(repo, plan)
    out = refused(repo)
    assert "legacy" in out and "keep-core" in out
    # with prune flipped on as well, and --prune given, the guards of now still refuse both
    plan["options"]["prune"] = True
    save(repo, plan)
    out = refused(repo, "--prune")
    assert "legacy" in out and "keep-core" in out and "protected" in out


def test_a_flipped_prune_cannot_turn_deletes_on(repo: Path) -> None:
    (repo / "routes" / "blog.yaml").unlink()  # blog is owned and no longer described
    plan = plan_file(repo)
    assert [c["action"] for c in plan["changes"]] == ["update"]
    plan["options"]["prune"] = True
    plan["changes"].append(_delete_entry("blog", "blog.acme.org"))
    save(repo, plan)
    out = refused(repo)
    assert "was made with --prune, but this apply does not prune" in out


def test_labels_in_the_plan_cannot_give_a_route_away(repo: Path) -> None:
    plan = plan_file(repo)
    the_change(plan, "shop")["labels"]["routes/owner"] = "attacker/repo"
    save(repo, plan)
    out = refused(repo)
    assert "route shop" in out and "`labels`" in out


def test_a_host_the_loader_refuses_is_refused_in_a_plan_file(repo: Path) -> None:
    plan = plan_file(repo)
    the_change(plan, "shop")["after"]["host"] = "{http.request.host}"
    save(repo, plan)
    out = refused(repo)
    assert "not a valid plan file" in out and "shop" in out


# -- the world changed since planning -------------------------------------------------------


@pytest.mark.parametrize("labels", [None, {"managed-by": "routes", "routes/owner": "other/team"}])
def test_ownership_changed_after_planning_is_refused(
    repo: Path, labels: dict[str, str] | None
) -> None:
    plan_file(repo)
    label(repo, "shop", labels)
    out = refused(repo)
    assert "shop" in out and "planning again now finds" in out


def test_a_plan_from_another_repository_does_not_land_on_this_store(tmp_path: Path) -> None:
    one = make_repo(tmp_path / "repo-one")
    two = make_repo(tmp_path / "repo-two", owner="acme/shop")
    for root in (one, two):
        assert run_routes(root, "apply", "--auto-approve")[0] == 0
    (one / "routes" / "shop.yaml").write_text(SHOP.replace("cart}", "cart-v2}"))
    (two / "routes" / "shop.yaml").write_text(SHOP.replace("cart}", "cart-v2}"))
    plan_file(one)
    shutil.copy(one / "plan.json", two / "plan.json")
    out = refused(two)
    assert "was made for the store" in out
    assert str(store(one).resolve()) in out and str(store(two).resolve()) in out


def test_a_copied_store_or_a_store_swapped_in_is_not_the_planned_one(tmp_path: Path) -> None:
    one = make_repo(tmp_path / "repo-one")
    assert run_routes(one, "apply", "--auto-approve")[0] == 0
    (one / "routes" / "shop.yaml").write_text(SHOP.replace("cart}", "cart-v2}"))
    plan_file(one)
    copy = tmp_path / "repo-copy"
    shutil.copytree(one, copy)
    assert "was made for the store" in refused(copy)
    # the same path, another store (its id differs): refused too
    other = make_repo(tmp_path / "other")
    assert run_routes(other, "apply", "--auto-approve")[0] == 0
    shutil.copy(store(other), store(one))
    out = refused(one)
    assert "was made for the store" in out and "store id" in out


def test_a_plan_for_another_owner_is_refused(repo: Path) -> None:
    plan_file(repo)
    (repo / ".routes.yaml").write_text(
        "descriptors: [routes]\nowner: team-b/repo\nprotected: [keep-*]\n"
    )
    out = refused(repo)
    assert "made for owner" in out and "acme/shop" in out and "team-b/repo" in out


def test_descriptors_changed_since_planning_are_refused(repo: Path) -> None:
    plan_file(repo)
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("cart}", "cart-v3}"))
    out = refused(repo)
    assert "the descriptors it was made from are not here" in out


# -- no password oracle ---------------------------------------------------------------------


def test_plan_files_and_journals_hold_nothing_to_test_a_password_guess_with(tmp_path: Path) -> None:
    """Two stores whose only difference is the password: their plans and journals are the
    same but for ids, times and the digest of the files (which holds the hash as the
    repository does); no digest in them is the spec's, whatever the guess."""
    texts = []
    for password in ("Winter2024!", "Summer2025?"):
        root = make_repo(tmp_path / password[:6])
        (root / "routes" / "admin.yaml").write_text(ADMIN.replace(SECRET, password_hash(password)))
        plan = plan_file(root)
        assert run_routes(root, "apply", "plan.json")[0] == 0
        journal = "".join(p.read_text() for p in (root / ".routes" / "journal").glob("*.jsonl"))
        (root / "routes" / "admin.yaml").write_text(
            ADMIN.replace(SECRET, password_hash(password + "x"))
        )
        update = plan_file(root, name="update.json")
        assert "httpBasic.passwordHashes.ops" in json.dumps(update["changes"])
        for document in (plan, update):
            document.pop("store")
            for change in document["changes"]:  # creates in parallel: versions in any order
                change.pop("live_version")
        texts.append(json.dumps([plan, update], sort_keys=True))
        texts.append(_without_times(journal, root))
    assert texts[0] == texts[2], "the plans differ with the password"
    assert texts[1] == texts[3], "the journals differ with the password"
    everything = texts[0] + texts[1]
    for guess in ("Winter2024!", "Summer2025?", "password"):
        assert password_hash(guess) not in everything
        assert password_hash(guess)[7:20] not in everything


def _without_times(journal: str, root: Path) -> str:
    """The journal without times, versions and the file digest, its lines sorted (routes
    are applied in parallel, so results land in any order)."""
    text = journal.replace(str(root), "ROOT")
    text = re.sub(r'"(time|version|source_digest)": [^,}]+', "", text)
    return "\n".join(sorted(text.splitlines()))


# -- what the file names: paths, pruning scope, store id, done routes ------------------------


def test_source_paths_outside_the_repository_are_refused(repo: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil" / "routes"
    evil.mkdir(parents=True)
    (evil / "shop.yaml").write_text(SHOP.replace("service: cart", "service: attacker-svc"))
    (evil / "blog.yaml").write_text(BLOG)
    code, out = run_routes(repo, "plan", str(evil), "--out", "plan.json")
    assert code == 0, out
    out = refused(repo)
    assert "outside the repository" in out


def test_a_pruning_plan_must_cover_every_descriptor(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "pruning", config="prune: true\n")
    assert run_routes(root, "apply", "--auto-approve")[0] == 0
    (root / "routes" / "shop.yaml").write_text(SHOP.replace("service: cart", "service: v2"))
    code, out = run_routes(root, "plan", "routes/shop.yaml", "--out", "plan.json")
    assert code == 0 and "1 to destroy" in out  # blog is outside the narrowed paths
    out = refused(root)
    assert "not the config's `descriptors`" in out


def test_a_store_id_removed_from_the_file_does_not_match_a_store_that_has_one(
    repo: Path,
) -> None:
    plan = plan_file(repo)
    plan["store"]["id"] = None
    save(repo, plan)
    assert "was made for the store" in refused(repo)


def test_a_tampered_change_of_a_route_already_in_place_is_refused_not_reported_done(
    repo: Path,
) -> None:
    plan_file(repo)
    assert run_routes(repo, "apply", "plan.json")[0] == 0
    plan = json.loads((repo / "plan.json").read_text())
    change = the_change(plan, "shop")
    change["after"]["host"] = "evil.example.com"
    save(repo, plan, "t2.json")
    assert "route shop" in refused(repo, name="t2.json")


def test_a_poisoned_descriptor_cache_cannot_change_what_a_saved_plan_writes(repo: Path) -> None:
    (repo / "routes" / "admin.yaml").write_text(ADMIN)
    plan_file(repo)  # fills .routes/cache/ with the admin entry
    path = repo / ".routes" / "cache" / "descriptors.json"
    document = json.loads(path.read_bytes().partition(b"\n")[2])
    for entry in document["entries"].values():
        for doc in entry[0]:
            if doc[DOCUMENT_FIELDS.index("name")] == "admin":
                spec = json.loads(doc[DOCUMENT_FIELDS.index("spec")])
                spec["validation"]["httpBasic"]["passwordHashes"]["ops"] = password_hash("attacker")
                doc[DOCUMENT_FIELDS.index("spec")] = json.dumps(
                    spec, sort_keys=True, separators=(",", ":")
                )
    body = json.dumps(document, separators=(",", ":"))
    key = user_secret()  # signed as only this user could: the worst a cache can be
    assert key is not None
    path.write_text(sign(key, body.encode()) + "\n" + body)
    code, out = run_routes(repo, "apply", "plan.json")
    assert code == 0, out
    with sqlite3.connect(store(repo)) as db:
        spec = db.execute("SELECT spec FROM routes WHERE name = 'admin'").fetchone()[0]
    assert password_hash("attacker") not in spec and SECRET in spec
