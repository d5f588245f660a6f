"""Black-box checks of DESIGN's CLI contract (§2-§10) found wanting in an acceptance review.

Each test runs the real `routes` process in a temporary folder, as a user would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.test_cli import routes

ROUTE = """\
host: {host}
routes:
- prefix: /
  route: {{service: {service}}}
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@acme.org", "-c", "user.name=ci", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def git_repo(folder: Path, remote: str | None) -> None:
    git(folder, "init", "-q")
    if remote:
        git(folder, "remote", "add", "origin", remote)
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "descriptors")


def write_route(folder: Path, name: str, service: str = "a") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(ROUTE.format(host=f"{name}.acme.org", service=service))


def test_export_finds_the_routes_apply_wrote_for_the_git_remote_owner(tmp_path: Path) -> None:
    # The owner defaults to the git remote's owner/repo: export must resolve it the same way
    # as apply, or it exports nothing from a repository with a remote.
    write_route(tmp_path / "routes", "shop")
    git_repo(tmp_path, "https://github.com/acme/gitops.git")
    code, _, err = routes(tmp_path, "apply", "routes", "--auto-approve")
    assert code == 0, err
    code, out, err = routes(tmp_path, "export", "--dir", "exported")
    assert code == 0, err
    assert "Exported 1 route(s) to exported." in out
    code, out, _ = routes(tmp_path, "plan", "exported")
    assert (code, out.strip().splitlines()[-1]) == (
        0,
        "No changes. Live routes match the descriptors.",
    )


def test_a_saved_plan_applies_whatever_its_file_is_called(tmp_path: Path) -> None:
    # `plan --out FILE` takes any name; `apply FILE` must apply it, not read it as YAML.
    write_route(tmp_path / "routes", "shop")
    code, _, err = routes(tmp_path, "plan", "routes", "--out", "shop.tfplan")
    assert code == 0, err
    code, out, err = routes(tmp_path, "apply", "shop.tfplan")
    assert code == 0, err
    assert "Apply complete: 1 applied" in out
    code, out, _ = routes(tmp_path, "plan", "routes")
    assert out.strip().splitlines()[-1] == "No changes. Live routes match the descriptors."


def test_an_unreadable_descriptor_path_is_a_located_error_not_a_crash(tmp_path: Path) -> None:
    write_route(tmp_path / "routes", "shop")
    (tmp_path / "routes" / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "routes" / "cycle").symlink_to("cycle")
    code, out, err = routes(tmp_path, "validate", "routes")
    assert code == 1
    assert "internal error" not in err
    lines = out.splitlines()
    assert any(line.startswith("routes/loop.yaml:1:1: error R029: ") for line in lines), out
    assert any(line.startswith("routes/cycle:1:1: error R029: ") for line in lines), out


def plan_on_a_terminal(cwd: Path, *args: str, no_color: str | None) -> str:
    """`routes ARGS plan routes` with stdout on a pseudo-terminal; what it printed."""
    import os
    import pty
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ROUTES_BACKEND")}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    master, slave = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "plan", "routes"],
        cwd=cwd,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
        check=True,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert not proc.stderr
    return seen.decode()


def test_colour_only_on_a_terminal_and_never_with_no_color_or_the_flag(tmp_path: Path) -> None:
    write_route(tmp_path / "routes", "shop")
    assert "\x1b[" in plan_on_a_terminal(tmp_path, no_color=None)
    assert "\x1b[" not in plan_on_a_terminal(tmp_path, no_color="1")
    assert "\x1b[" not in plan_on_a_terminal(tmp_path, "--no-color", no_color=None)
    # no-color.org: an empty NO_COLOR does not turn colour off.
    assert "\x1b[" in plan_on_a_terminal(tmp_path, no_color="")
    assert "\x1b[" not in routes(tmp_path, "plan", "routes", env={"NO_COLOR": ""})[1]


def test_the_default_owner_is_the_repository_folder_name_without_a_remote(
    tmp_path: Path,
) -> None:
    # DESIGN §5: owner from config, else the git remote, else the *repo* folder name, even
    # when .routes.yaml sits in a subfolder of the repository.
    repo = tmp_path / "gitops"
    infra = repo / "infra"
    write_route(infra / "routes", "shop")
    (infra / ".routes.yaml").write_text("descriptors: [routes]\n")
    git_repo(repo, remote=None)
    code, out, err = routes(infra, "plan", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["owner"] == "gitops"
    plain = tmp_path / "plain"
    write_route(plain / "routes", "shop")
    code, out, err = routes(plain, "plan", "routes", "--format", "json")
    assert (code, json.loads(out)["owner"]) == (0, "plain")
