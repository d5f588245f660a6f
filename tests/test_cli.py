"""The command line, black-box: a real `routes` process, a real SQLite file, real files.

Each test reads like a session a platform engineer would have, and asserts what they see:
output lines, exit codes, files on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HASH = "sha256:" + "q" * 43 + "="  # 32 bytes of base64: a well-formed, recognisable hash

SHOP = """\
host: ecommerce.acme.org
corsPolicy:
  allowOrigins: [https://www.acme.org]
  allowMethods: [GET, POST]
routes:
- prefix: /carts
  route: {service: shopping-cart}
- prefix: /product
  route: {service: product-info}
"""

ADMIN = f"""\
host: admin.acme.org
validation:
  httpBasic:
    realm: Admin
    passwordHashes: {{admin: "{HASH}"}}
routes:
- prefix: /
  route: {{service: admin}}
"""


def routes(cwd: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    """Run the real CLI; return (exit code, stdout, stderr)."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("ROUTES_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        env=full_env,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def plan_body(out: str) -> str:
    """The text plan without its ``Backend:`` / ``Owner:`` header, which must be there."""
    header, _, body = out.partition("\n\n")
    assert header.startswith("Backend: ") and "\nOwner:   " in header, out
    return body.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "shop.yaml").write_text(SHOP)
    (tmp_path / "routes" / "admin.yaml").write_text(ADMIN)
    return tmp_path


def edit_live(repo: Path, name: str, service: str) -> None:
    """A hand edit of the live state, behind routes' back."""
    db = sqlite3.connect(repo / ".routes" / "state.db")
    spec = json.loads(db.execute("SELECT spec FROM routes WHERE name=?", (name,)).fetchone()[0])
    spec["routes"][0]["route"]["service"] = service
    db.execute(
        "UPDATE routes SET spec=?, version=version+1000 WHERE name=?", (json.dumps(spec), name)
    )
    db.commit()
    db.close()


def test_quickstart_plans_the_shop_example_without_writing_anything(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "shop", tmp_path / "shop")
    code, out, _ = routes(tmp_path, "--config", "shop/.routes.yaml", "plan")
    assert code == 0
    assert out.rstrip().endswith("to add, 0 to change, 0 to destroy.")
    assert not (tmp_path / "shop" / ".routes").exists(), "plan must not create the state file"


def test_plan_apply_plan_again_is_empty(repo: Path) -> None:
    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert code == 2
    assert '  # route "shop" will be created' in out
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in out

    code, out, _ = routes(repo, "apply", "--auto-approve")
    assert code == 0, out
    assert "Apply complete: 2 applied" in out

    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert (code, plan_body(out)) == (0, "No changes. Live routes match the descriptors.")


def set_live_text(repo: Path, name: str, text: str) -> None:
    with sqlite3.connect(repo / ".routes" / "state.db") as db:
        db.execute("UPDATE routes SET spec=? WHERE name=?", (text, name))


@pytest.mark.parametrize("warm", [True, False], ids=["cache-warm", "no-cache"])
def test_a_live_row_is_read_as_the_descriptor_only_when_it_is_that_very_text(
    repo: Path, warm: bool
) -> None:
    # A row byte-for-byte the canonical text of a loaded spec is that spec; one byte more
    # and it is parsed and validated like any other answer.
    assert routes(repo, "apply", "--auto-approve")[0] == 0
    flags = () if warm else ("--no-cache",)
    with sqlite3.connect(repo / ".routes" / "state.db") as db:
        text = db.execute("SELECT spec FROM routes WHERE name='shop'").fetchone()[0]
    spec = json.loads(text)
    set_live_text(repo, "shop", json.dumps(spec, indent=1))  # another text, the same spec
    code, out, _ = routes(repo, *flags, "plan", "--detailed-exitcode")
    assert (code, plan_body(out)) == (0, "No changes. Live routes match the descriptors.")
    set_live_text(repo, "shop", json.dumps(spec | {"extra": True}, sort_keys=True))
    code, out, err = routes(repo, *flags, "plan")
    assert code == 1 and "shop" in err and "unreadable" in err and "Traceback" not in err
    spec["host"] = "{http.request.host}"
    set_live_text(repo, "shop", json.dumps(spec, sort_keys=True, separators=(",", ":")))
    code, out, err = routes(repo, *flags, "plan")
    assert code == 1 and "shop" in err and "Traceback" not in err


def test_update_renders_terraform_style(repo: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    (repo / "routes" / "shop.yaml").write_text(
        SHOP.replace("shopping-cart", "carts-v2")
        .replace("/product", "/inventory")
        .replace("product-info", "inventory")
    )
    code, out, _ = routes(repo, "plan")
    assert code == 0
    assert '  ~ route "shop" {' in out
    assert '        host = "ecommerce.acme.org"' in out
    assert '      + path "/inventory" -> inventory' in out
    assert '      - path "/product" -> product-info' in out
    assert '      ~ path "/carts" -> shopping-cart => carts-v2' in out
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out


def test_apply_without_a_terminal_refuses_and_writes_nothing(repo: Path) -> None:
    code, _, err = routes(repo, "apply", stdin="yes\n")
    assert code == 1
    assert "--auto-approve" in err
    assert not (repo / ".routes" / "state.db").exists()


def test_saved_plan_is_applied_exactly_and_refused_when_stale(repo: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("shopping-cart", "carts-v2"))
    code, _, _ = routes(repo, "plan", "--out", "plan.json")
    assert code == 0
    plan = json.loads((repo / "plan.json").read_text())
    assert [c["route"] for c in plan["changes"]] == ["shop"]

    edit_live(repo, "shop", "someone-else")
    code, out, err = routes(repo, "apply", "plan.json")
    assert code == 1
    assert "plan is stale: route shop changed since the plan was made" in err
    code, out, _ = routes(repo, "plan")
    assert "someone-else => carts-v2" in out, "a stale plan must write nothing"


def test_saved_plan_with_password_hash_applies_without_the_hash_in_the_file(repo: Path) -> None:
    code, out, _ = routes(repo, "plan", "--out", "plan.json")
    assert code == 0
    assert HASH not in out and HASH not in (repo / "plan.json").read_text()
    assert "(sensitive value)" in out

    code, out, err = routes(repo, "apply", "plan.json")
    assert code == 0, err
    # Planned before the store existed (no store id yet): once a store exists there, the
    # plan cannot tell it from one swapped in, so it is refused and asks for a new plan.
    code, out, err = routes(repo, "apply", "plan.json")
    assert code == 1 and "was made for the store" in err
    code, out, _ = routes(repo, "plan", "--out", "plan.json")
    assert "No changes" in out
    code, out, _ = routes(repo, "apply", "plan.json")
    assert code == 0 and "0 applied" in out
    journal = "".join(p.read_text() for p in (repo / ".routes" / "journal").glob("*.jsonl"))
    assert HASH not in journal and HASH[7:20] not in journal

    # A new hash is planned; then it changes again before the apply. The plan holds nothing
    # derived from a secret, only that the hash changes: apply writes the descriptors' hash
    # of now, as the reviewed plan said (a hash that would not change is refused instead).
    (repo / "routes" / "admin.yaml").write_text(ADMIN.replace("q" * 43, "r" * 43))
    code, out, _ = routes(repo, "plan", "--out", "plan2.json")
    assert "1 to change" in out and "r" * 43 not in out
    (repo / "routes" / "admin.yaml").write_text(ADMIN.replace("q" * 43, "s" * 43))
    code, _, err = routes(repo, "apply", "plan2.json")
    assert code == 0, err
    assert "s" * 43 in (repo / ".routes" / "state.db").read_bytes().decode("latin-1")
    # Planned to change, then the descriptors go back to what is live: nothing to write.
    (repo / "routes" / "admin.yaml").write_text(ADMIN.replace("q" * 43, "t" * 43))
    code, out, _ = routes(repo, "plan", "--out", "plan3.json")
    (repo / "routes" / "admin.yaml").write_text(ADMIN.replace("q" * 43, "s" * 43))
    code, out, err = routes(repo, "apply", "plan3.json")
    assert code == 0 and "0 applied, 1 already applied" in out, err


def test_prune_guards(repo: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    (repo / "routes" / "admin.yaml").unlink()
    code, out, _ = routes(repo, "plan")
    assert "P010" in out and "No changes" in out, "without --prune a missing route is kept"

    code, out, err = routes(repo, "apply", "--auto-approve", "--prune", "--max-deletes", "0")
    assert code == 1 and "--max-deletes" in err
    code, out, _ = routes(repo, "apply", "--auto-approve", "--prune")
    assert code == 0 and "1 to destroy" in out

    (repo / "routes" / "shop.yaml").unlink()
    code, _, err = routes(repo, "apply", "--auto-approve", "--prune")
    assert code == 1 and "--allow-empty" in err
    code, _, _ = routes(repo, "plan", "--prune", "--detailed-exitcode")
    assert code == 1, "apply would refuse this plan (the desired set is empty)"
    code, _, _ = routes(repo, "plan", "--prune", "--allow-empty", "--detailed-exitcode")
    assert code == 2
    code, _, _ = routes(repo, "apply", "--auto-approve", "--prune", "--allow-empty")
    assert code == 0


def test_drift_classifies_findings(repo: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    code, out, _ = routes(repo, "drift")
    assert code == 0 and "No drift" in out

    edit_live(repo, "shop", "hand-edited")
    (repo / "routes" / "new.yaml").write_text(SHOP.replace("ecommerce", "new"))
    db = sqlite3.connect(repo / ".routes" / "state.db")
    db.execute("DELETE FROM routes WHERE name='admin'")
    db.commit()
    db.close()
    code, out, _ = routes(repo, "drift", "--format", "json")
    assert code == 2
    kinds = {f["route"]: f["kind"] for f in json.loads(out)["findings"]}
    assert kinds == {
        "shop": "changed-out-of-band",
        "admin": "deleted-out-of-band",
        "new": "not-yet-applied",
    }


def test_export_then_plan_is_empty(repo: Path, tmp_path: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    for form in ("bare", "project"):
        code, out, _ = routes(repo, "export", "--dir", f"exported-{form}", "--form", form)
        assert code == 0 and "Exported 2 route(s)" in out
        code, out, _ = routes(repo, "plan", f"exported-{form}", "--detailed-exitcode")
        assert (code, plan_body(out)) == (0, "No changes. Live routes match the descriptors.")


def test_show_renders_a_saved_plan_in_every_format(repo: Path) -> None:
    routes(repo, "plan", "--out", "plan.json")
    code, text, _ = routes(repo, "show", "plan.json")
    assert code == 0 and "Plan: 2 to add" in text
    code, md, _ = routes(repo, "show", "plan.json", "--format", "markdown")
    assert code == 0 and "<details>" in md
    code, raw, _ = routes(repo, "show", "plan.json", "--format", "json")
    assert json.loads(raw)["summary"]["add"] == 2
    from reconciler.apply.saved_plan import plan_schema_errors

    assert plan_schema_errors(json.loads(raw)) == []
    assert json.loads(raw) == json.loads((repo / "plan.json").read_text())


@pytest.mark.parametrize(
    "args",
    [["plan", "--bogus"], ["plan", "--format", "xml"], ["apply", "--parallelism", "0"], ["nope"]],
)
def test_usage_errors_exit_64(repo: Path, args: list[str]) -> None:
    code, _, err = routes(repo, *args)
    assert code == 64, err


def test_bad_inputs_are_located_errors(repo: Path) -> None:
    (repo / "routes" / "broken.yaml").write_text(
        "host: a.acme.org\nroutes:\n  - prefix: carts\n    route: {service: x}\n"
    )
    code, out, _ = routes(repo, "validate")
    assert code == 1
    assert 'routes/broken.yaml:3:13: error R012: prefix must start with "/" (got "carts")' in out
    code, _, err = routes(repo, "plan")
    assert code == 1 and "R012" in err and "nothing was planned" in err


def test_not_a_plan_file_and_missing_plan_file(repo: Path) -> None:
    (repo / "junk.json").write_text('{"hello": 1}')
    code, _, err = routes(repo, "apply", "junk.json")
    assert code == 1 and "not a valid plan file" in err
    code, _, err = routes(repo, "show", "missing.json")
    assert code == 1 and "not found" in err


def test_plan_warns_when_a_host_is_not_registered(repo: Path) -> None:
    from reconciler.backends.local import SqliteStore

    store = SqliteStore(repo / ".routes" / "state.db")
    store.add_hostname("ecommerce.acme.org")
    store.set_hostname_mode("registered")
    store.close()
    code, out, _ = routes(repo, "plan")
    assert code == 0
    assert "P030" in out and "admin.acme.org is not a registered hostname" in out
    assert "ecommerce.acme.org is not" not in out

    routes(repo, "apply", "--auto-approve")
    code, out, _ = routes(repo, "plan")
    assert "route 'admin' is not Ready: HostnameNotRegistered" in out


def test_github_annotations_name_repository_paths(repo: Path) -> None:
    """In an Action with working-directory, annotations must still point at repo paths."""
    (repo / "routes" / "broken.yaml").write_text("host: a.acme.org\nroutes: []\n")
    code, out, _ = routes(
        repo / "routes",
        "--config",
        "../.routes.yaml",
        "validate",
        "--format",
        "github",
        env={"GITHUB_WORKSPACE": str(repo.parent)},
    )
    assert code == 1
    assert f"::error file={repo.name}/routes/broken.yaml,line=2," in out


BAD = REPO / "tests" / "fixtures" / "bad"
ERROR_FIXTURES = sorted(
    p.name
    for p in BAD.iterdir()
    if p.name
    not in {
        "cors-any-origin.yaml",
        "cors-no-origins.yaml",
        "empty.yaml",
        "other-resource.yaml",
        "shadowed",
    }
)


@pytest.mark.parametrize("name", ERROR_FIXTURES)
def test_every_bad_input_exits_1_with_a_located_error(tmp_path: Path, name: str) -> None:
    """The user's view of DESIGN §4: exit 1, `file:line:col: error CODE: …`, no traceback."""
    shutil.copytree(BAD, tmp_path / "bad", symlinks=True)
    code, out, _ = routes(tmp_path, "validate", f"bad/{name}")
    assert code == 1, out
    located = [line for line in out.splitlines() if ": error R0" in line]
    assert located, out
    where = located[0].split(": error")[0]
    file, line, column = where.rsplit(":", 2)
    assert file.startswith(f"bad/{name}") and int(line) >= 1 and int(column) >= 1


def test_big_and_symlinked_inputs_are_located_errors(tmp_path: Path) -> None:
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "huge.yaml").write_text("host: a.acme.org\n# " + "x" * (1 << 20) + "\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text(SHOP)
    (tmp_path / "routes" / "escape.yaml").symlink_to(outside)
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\n")
    code, out, _ = routes(tmp_path, "validate")
    assert code == 1
    assert "routes/huge.yaml:1:1: error R004" in out
    assert "routes/escape.yaml:1:1: error R007" in out


def run_in_terminal(cwd: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (stdin, stdout, stderr), answer its prompt."""
    import pty
    import select

    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen, answered = b"", False
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"Enter a value:" in seen:
            os.write(master, answer.encode() + b"\n")
            answered = True
    os.close(master)
    return proc.wait(timeout=30), seen.decode(errors="replace")


def test_apply_on_a_terminal_asks_and_only_yes_applies(repo: Path) -> None:
    code, out = run_in_terminal(repo, ["apply"], "no")
    assert code == 1 and "Only 'yes' will be accepted" in out and "nothing was changed" in out
    assert not (repo / ".routes" / "state.db").exists()

    for index in range(6):  # enough routes for the progress bar
        (repo / "routes" / f"extra-{index}.yaml").write_text(SHOP.replace("ecommerce", f"x{index}"))
    code, out = run_in_terminal(repo, ["apply"], "yes")
    assert code == 0, out
    assert "applying [" in out and "8/8" in out
    assert "elapsed, " in out and " routes/s" in out, "the bar shows elapsed time and rate"
    assert "Apply complete: 8 applied" in out


def test_prune_with_a_target_is_not_an_empty_desired_set(repo: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    (repo / "routes" / "admin.yaml").unlink()
    code, out, err = routes(repo, "apply", "--auto-approve", "--prune", "--target", "admin")
    assert code == 0, err
    assert "0 to add, 0 to change, 1 to destroy" in out


def test_a_plan_made_with_backend_local_applies_with_the_default_backend(repo: Path) -> None:
    (repo / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\nbackend: local\n")
    routes(repo, "plan", "--out", "plan.json")
    (repo / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    code, _, err = routes(repo, "apply", "plan.json")
    assert code == 0, err
    assert json.loads((repo / "plan.json").read_text())["backend"] == "local:.routes/state.db"


def test_an_http_backend_url_without_a_host_is_a_usage_error(repo: Path) -> None:
    code, _, err = routes(repo, "--backend", "http://", "plan")
    assert code == 64 and "names no host" in err


def test_a_pull_request_that_only_deletes_a_file_can_prune(repo: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "0")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "routes")
    routes(repo, "apply", "--auto-approve")
    git("checkout", "-q", "-b", "pr")
    git("rm", "-q", "routes/admin.yaml")
    code, out, err = routes(repo, "plan", "--changed-since", "main", "--prune", "--out", "p.json")
    assert code == 0, err
    assert "0 to add, 0 to change, 1 to destroy" in out
    code, out, err = routes(repo, "apply", "p.json")
    assert code == 1 and "was made with --prune, but this apply does not prune" in err
    code, out, err = routes(repo, "apply", "p.json", "--prune")
    assert code == 0, err
    assert '  route "admin" (delete): deleted' in out and "1 deleted." in out


def test_changed_since_sees_the_branch_and_the_working_tree_however_it_is_spelled(
    repo: Path,
) -> None:
    # Committed, uncommitted and untracked changes count, whichever way the command line is
    # spelled and from whichever folder it runs.
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "routes")
    routes(repo, "apply", "--auto-approve")
    git("checkout", "-q", "-b", "pr")
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("shopping-cart", "cart"))
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "cart")
    (repo / "routes" / "admin.yaml").write_text(ADMIN.replace("service: admin", "service: adm"))
    (repo / "routes" / "new.yaml").write_text(SHOP.replace("ecommerce", "new"))
    shown = []
    for cwd, args in [
        (repo, ("plan", "--changed-since", "main")),
        (repo, ("--config", ".routes.yaml", "plan", "--changed-since=main")),
        (repo / "routes", ("--no-color", "plan", "--changed-since", "main", "-v")),
        (repo, ("plan", "--changed-since", "main", "--changed-since", "pr")),
    ]:
        code, out, err = routes(cwd, *args)
        assert code == 0, err
        shown.append(plan_body(out))
    assert shown[0] == shown[1] == shown[2], shown
    assert 'route "shop" will be updated' in shown[0] and 'route "admin"' in shown[0]
    assert 'route "new" will be created' in shown[0]
    assert 'route "shop"' not in shown[3] and 'route "admin"' in shown[3]
    code, _, err = routes(repo, "plan", "--changed-since", "-x")
    assert code == 64 and "starts with '-'" in err


def test_a_name_taken_by_an_unmanaged_route_is_an_error_not_a_takeover(repo: Path) -> None:
    from reconciler.backends.local import SqliteStore
    from reconciler.model import RouteSpec

    store = SqliteStore(repo / ".routes" / "state.db")
    legacy = {"host": "old.acme.org", "routes": [{"prefix": "/", "route": {"service": "old"}}]}
    store.create_route("shop", RouteSpec.from_dict(legacy), {}, {})
    store.close()
    code, out, err = routes(repo, "plan")
    assert code == 1
    assert "P001" in err and "shop" in err
    assert "No changes" not in out + err
    code, _, err = routes(repo, "apply", "--auto-approve")
    assert code == 1
    store = SqliteStore(repo / ".routes" / "state.db")
    assert store.get_route("shop").spec.host == "old.acme.org"  # type: ignore[union-attr]
    assert store.get_route("admin") is None, "nothing is applied from a plan with errors"
    store.close()


def test_credentials_in_a_backend_url_are_refused_and_never_echoed(repo: Path) -> None:
    code, out, err = routes(repo, "--backend", "http://admin:hunter2@127.0.0.1:9/", "plan")
    assert code == 64 and "ROUTES_TOKEN" in err
    assert "hunter2" not in out + err


def test_a_dangling_descriptor_symlink_is_a_located_error(repo: Path) -> None:
    (repo / "routes" / "gone.yaml").symlink_to(repo / "routes" / "missing-target.yaml")
    code, out, _ = routes(repo, "validate")
    assert code == 1
    assert "routes/gone.yaml:1:1: error R029" in out and "dangling symlink" in out


def test_export_never_overwrites_a_different_file_without_force(repo: Path) -> None:
    routes(repo, "apply", "--auto-approve")
    edited = SHOP + "# a local edit\n"
    (repo / "routes" / "shop.yaml").write_text(edited)
    code, _, err = routes(repo, "export", "--dir", "routes")
    assert code == 64 and "would overwrite" in err and "--force" in err
    assert (repo / "routes" / "shop.yaml").read_text() == edited
    assert not list((repo / "routes").glob(".*.tmp"))
    code, out, _ = routes(repo, "export", "--dir", "routes", "--force")
    assert code == 0 and (repo / "routes" / "shop.yaml").read_text() != edited
    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert code == 0, out


# -- hostile input ------------------------------------------------------------------------------


def test_a_labels_row_of_the_wrong_json_type_is_an_error_naming_route_and_file(
    repo: Path,
) -> None:
    routes(repo, "apply", "--auto-approve")
    db = sqlite3.connect(repo / ".routes" / "state.db")
    db.execute("UPDATE routes SET labels = '[1,2]' WHERE name = 'shop'")
    db.commit()
    db.close()
    for command in (["plan"], ["export", "--dir", "out"], ["drift"]):
        code, _, err = routes(repo, *command)
        assert code == 1, err
        assert "internal error" not in err
        assert "route 'shop' in" in err and "state.db is unreadable" in err
        assert "labels must be a JSON object of strings, not a list" in err
        assert "Hint: delete the route's row or restore" in err


def _deep_plan(repo: Path) -> str:
    """A plan that would be valid but for one value nested 990 levels deep."""
    routes(repo, "plan", "--out", "plan.json")
    the_plan = json.loads((repo / "plan.json").read_text())
    the_plan["diagnostics"] = "@@deep@@"
    deep = "[" * 990 + "1" + "]" * 990
    return json.dumps(the_plan).replace('"@@deep@@"', f'[{{"code": "R001", "message": {deep}}}]')


@pytest.mark.parametrize("shape", ["objects-100k", "arrays-100k", "inside-a-plan-990"])
def test_a_plan_file_nested_too_deeply_is_not_a_valid_plan_file(repo: Path, shape: str) -> None:
    text = {
        "objects-100k": '{"a": ' * 100_000 + "1" + "}" * 100_000,
        "arrays-100k": "[" * 100_000 + "]" * 100_000,
    }.get(shape) or _deep_plan(repo)
    (repo / "deep.json").write_text(text)
    for command in ("apply", "show"):
        code, out, err = routes(repo, command, "deep.json")
        assert code == 1, out + err
        assert "deep.json is not a valid plan file: it nests too deeply" in err
        assert "internal error" not in err
    assert not (repo / ".routes" / "state.db").exists()


@pytest.mark.timeout(20)
def test_a_fifo_or_device_as_a_descriptor_path_is_refused_at_once(repo: Path) -> None:
    os.mkfifo(repo / "routes" / "pipe.yaml")
    code, out, _ = routes(repo, "validate")
    assert code == 1
    assert "routes/pipe.yaml:1:1: error R029: routes/pipe.yaml cannot be read (a FIFO" in out
    code, out, _ = routes(repo, "validate", "routes/pipe.yaml")
    assert code == 1 and "routes/pipe.yaml:1:1: error R029" in out
    code, _, err = routes(repo, "plan", "routes/pipe.yaml")
    assert code == 1 and "R029" in err and "nothing was planned" in err
    if os.path.exists("/dev/null"):
        code, out, _ = routes(repo, "validate", "/dev/null")
        assert code == 1 and "/dev/null:1:1: error R029" in out and "character device" in out


@pytest.mark.timeout(20)
@pytest.mark.parametrize("command", ["apply", "show"])
def test_a_fifo_or_device_as_a_plan_path_is_refused_at_once(repo: Path, command: str) -> None:
    os.mkfifo(repo / "plan.json")
    code, _, err = routes(repo, command, "plan.json")
    assert code == 1
    assert "plan.json is a FIFO, not a plan file" in err
    assert "Hint: pass the file written by `routes plan --out FILE`" in err
    if os.path.exists("/dev/null"):
        code, _, err = routes(repo, "show", "/dev/null")
        assert code == 1 and "/dev/null is a character device, not a plan file" in err


def _many_routes(repo: Path, count: int) -> None:
    for index in range(count):
        (repo / "routes" / f"svc-{index:03d}.yaml").write_text(
            f"host: svc-{index}.acme.org\nroutes:\n"
            + "".join(f"- prefix: /p{n}\n  route: {{service: s{n}}}\n" for n in range(6))
        )


def _read_a_little(repo: Path, *args: str) -> tuple[int, str]:
    """Run the CLI, read 10 bytes of its output and close the pipe, as `| head -c 10` does;
    the exit code and what it printed to stderr."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ROUTES_BACKEND", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=60), err


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_reader_that_stops_reading_changes_no_exit_code(repo: Path, fmt: str) -> None:
    _many_routes(repo, 300)  # a plan far bigger than a pipe holds
    assert _read_a_little(repo, "plan", "--format", fmt) == (0, "")
    assert _read_a_little(repo, "plan", "--format", fmt, "--detailed-exitcode") == (2, "")


def test_an_apply_piped_into_head_still_writes_every_route(repo: Path) -> None:
    _many_routes(repo, 300)
    assert _read_a_little(repo, "apply", "--auto-approve") == (0, "")
    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert code == 0, out


def test_main_leaves_the_garbage_collector_as_it_found_it_and_serve_collects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from reconciler import cli
    from reconciler.commands import serve as serve_command

    seen: list[bool] = []
    monkeypatch.setattr(serve_command, "serve", lambda **_: seen.append(gc.isenabled()) or 0)
    assert gc.isenabled()
    for args in (["--version"], ["serve"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(args)
        assert exit_.value.code == 0
        assert gc.isenabled()
    assert seen == [True]  # a server running for days collects as any process does
