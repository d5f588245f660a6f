"""A renamed descriptor file, as a platform engineer meets it: the plan says it looks like a
rename, and without --prune that both routes would serve the same host and paths."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import routes

WWW = "host: www.example.com\nroutes:\n- prefix: /\n  route: {service: web}\n"


def test_a_renamed_file_is_no_silent_duplicate(tmp_path: Path) -> None:
    (tmp_path / "routes").mkdir()
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/web\n")
    (tmp_path / "routes" / "www.yaml").write_text(WWW)
    assert routes(tmp_path, "apply", "--auto-approve")[0] == 0
    (tmp_path / "routes" / "www.yaml").rename(tmp_path / "routes" / "website.yaml")

    code, out, _ = routes(tmp_path, "plan")
    assert code == 0
    assert (
        'Warning: [P013] routes/website.yaml:1:1: looks like route "www" was renamed to '
        '"website": "www" is no longer described but is kept, so both will serve host '
        '"www.example.com" at "/"; plan with --prune to delete "www"'
    ) in out

    code, out, _ = routes(tmp_path, "plan", "--prune")
    assert (
        'Note: [P012] routes/website.yaml:1:1: looks like route "www" was renamed to "website" '
        '(both serve host "www.example.com" at "/"): "website" is created before "www" is '
        "deleted"
    ) in out
    assert out.splitlines()[-1] == "Plan: 1 to add, 0 to change, 1 to destroy."
