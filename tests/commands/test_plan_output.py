"""What the text plan and the apply prompt say before any change: the backend they are
about (the local store as an absolute path) and the owner; and where a plan is saved."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import SHOP, routes


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "routes").mkdir(parents=True)
    (repo / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (repo / "routes" / "shop.yaml").write_text(SHOP)
    return repo


def test_the_text_plan_starts_with_the_resolved_backend_and_the_owner(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, out, _ = routes(repo / "routes", "plan")  # from a sub-folder: the store is the config's
    assert code == 0
    store = (repo / ".routes" / "state.db").resolve()
    assert out.splitlines()[:3] == [f"Backend: local:{store}", "Owner:   acme/shop", ""]
    assert out.splitlines()[-1] == "Plan: 1 to add, 0 to change, 0 to destroy."
    # The JSON keeps the backend as configured: a saved plan applies from any folder.
    code, out, _ = routes(repo, "plan", "--format", "json")
    assert '"backend": "local:.routes/state.db"' in out and "Backend:" not in out


def test_a_plan_from_an_unexpected_folder_shows_which_store_it_used(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, _ = routes(elsewhere, "plan", str(repo / "routes"))
    assert code == 0
    assert out.splitlines()[0] == f"Backend: local:{elsewhere.resolve()}/.routes/state.db"
    assert out.splitlines()[1] == "Owner:   elsewhere"


def test_the_apply_prompt_names_the_backend_and_the_owner(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, out, err = routes(repo, "apply", stdin="no\n")
    assert code == 1  # no terminal: refused before asking
    assert "no terminal to ask on" in err
    assert out.startswith(f"Backend: local:{(repo / '.routes' / 'state.db').resolve()}\n")


def test_plan_out_into_a_missing_folder_says_so_and_creates_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, _, err = routes(repo, "plan", "--out", "plnas/plan.json")
    assert code == 1
    assert "cannot write plan file plnas/plan.json: folder plnas does not exist" in err
    assert "create the folder first" in err
    assert not (repo / "plnas").exists()
    (repo / "plans").mkdir()
    code, _out, err = routes(repo, "plan", "--out", "plans/plan.json")
    assert code == 0, err
    assert (repo / "plans" / "plan.json").exists()


def test_the_confirmation_question_names_the_backend_and_the_owner(tmp_path: Path) -> None:
    from reconciler.commands.apply import apply
    from reconciler.config import load_settings

    repo = _repo(tmp_path)
    said: list[str] = []
    code = apply(
        lambda: load_settings(cwd=repo),
        (),
        auto_approve=False,
        prune=None,
        max_deletes=None,
        allow_empty=False,
        parallelism=None,
        wait=False,
        wait_timeout=1.0,
        targets=(),
        fmt="text",
        color=False,
        echo=lambda text, err=False: said.append(text),
        ask=lambda prompt: "yes",
        progress=_no_progress,
    )
    assert code == 0
    store = (repo / ".routes" / "state.db").resolve()
    question = next(text for text in said if "Do you want" in text)
    assert f"Do you want to perform these actions on local:{store} (owner acme/shop)?" in question


def _no_progress(total: int):  # type: ignore[no-untyped-def]
    from contextlib import nullcontext

    return nullcontext(None)


def test_show_names_the_store_the_saved_plan_was_made_against(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert routes(repo, "plan", "--out", "plan.json")[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, _ = routes(elsewhere, "show", str(repo / "plan.json"))
    assert code == 0
    store = (repo / ".routes" / "state.db").resolve()
    assert out.splitlines()[:2] == [f"Backend: local:{store}", "Owner:   acme/shop"]


def test_plan_json_on_stdout_in_the_file_and_from_show_is_one_text(tmp_path: Path) -> None:
    import json
    import stat

    from reconciler.quoting import json_text

    repo = _repo(tmp_path)
    for index in range(30):
        (repo / "routes" / f"r{index}.yaml").write_text(SHOP.replace("shop", f"r{index}"))
    code, out, err = routes(repo, "plan", "--format", "json", "--out", "plan.json")
    assert code == 0, err
    saved = repo / "plan.json"
    assert out == saved.read_text(encoding="utf-8")
    assert out == json_text(json.loads(out)) + "\n"  # indented, ASCII, one trailing newline
    assert len(json.loads(out)["changes"]) == 31
    assert stat.S_IMODE(saved.stat().st_mode) & 0o077 == 0  # a saved plan is the user's only
    assert not [p for p in repo.iterdir() if p.name.startswith(".plan.json")]  # no temp left
    code, shown, err = routes(repo, "show", "--format", "json", "plan.json")
    assert (code, shown) == (0, out), err
    code, drifted, err = routes(repo, "drift", "--format", "json")
    report = json.loads(drifted)
    assert drifted == json_text(report) + "\n" and len(report["plan"]["changes"]) == 31
