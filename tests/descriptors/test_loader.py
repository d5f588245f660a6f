"""Loading descriptor files and folders: forms, limits, and located load problems."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.descriptors.loader import MAX_FILE_BYTES, load_blobs, load_paths
from reconciler.diagnostics import Diagnostic

FIXTURES = Path(__file__).parents[1] / "fixtures"
BAD = FIXTURES / "bad"
EXAMPLES = Path(__file__).parents[2] / "examples"

# (fixture under tests/fixtures/bad, code, line, column): each bad input, its located error.
LOAD_CASES = [
    ("syntax-error.yaml", "R001", 5, 1),
    ("duplicate-key.yaml", "R002", 6, 1),
    ("billion-laughs.yaml", "R003", 5, 4),
    ("not-utf8.yaml", "R005", 3, 15),
    ("not-a-mapping.yaml", "R006", 1, 1),
    ("Bad_Name.yaml", "R009", 1, 1),
    ("project-bad-name.yaml", "R009", 4, 9),
    ("project-bad-version.yaml", "R011", 2, 18),
    ("unsupported-tag.yaml", "R019", 1, 7),
    ("two-bare-documents.yaml", "R028", 6, 1),
    ("empty.yaml", "W105", 1, 1),
    ("other-resource.yaml", "I201", 1, 11),
]
# Codes whose inputs are made by a test below (too big, symlinks, missing paths).
BUILT_CODES = {"R004", "R007", "R008", "R029"}


def load_fixture(name: str) -> tuple[Diagnostic, ...]:
    return load_paths([BAD / name], root=FIXTURES).diagnostics


def find(diagnostics: tuple[Diagnostic, ...], code: str) -> Diagnostic:
    matching = [d for d in diagnostics if d.code == code]
    assert matching, f"no {code} in {diagnostics}"
    return matching[0]


@pytest.mark.parametrize(("fixture", "code", "line", "column"), LOAD_CASES)
def test_bad_input_gives_its_located_diagnostic(
    fixture: str, code: str, line: int, column: int
) -> None:
    result = load_paths([BAD / fixture], root=FIXTURES)
    found = find(result.diagnostics, code)
    assert (found.file, found.line, found.column) == (f"bad/{fixture}", line, column)
    assert found.message
    if found.severity == "error":
        assert result.has_errors


def test_billion_laughs_is_refused_not_expanded() -> None:
    found = find(load_fixture("billion-laughs.yaml"), "R003")
    assert "10,000" in found.message


def test_broken_route_is_left_out_but_others_load(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(
        "host: a.acme.org\nroutes:\n- prefix: /\n  route: {service: s}\n"
    )
    (tmp_path / "bad.yaml").write_text(
        "host: b.acme.org\nroutes:\n- prefix: x\n  route: {service: s}\n"
    )
    result = load_paths([tmp_path], root=tmp_path)
    assert list(result.routes) == ["good"]
    assert [d.code for d in result.diagnostics] == ["R012"]


def test_file_over_one_mib_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    found = find(load_paths([tmp_path], root=tmp_path).diagnostics, "R004")
    assert (found.file, found.line, found.column) == ("big.yaml", 1, 1)
    blob = find(load_blobs([("big.yaml", big.read_bytes())]).diagnostics, "R004")
    assert (blob.file, blob.line) == ("big.yaml", 1)


def test_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    outside, repo = tmp_path / "outside", tmp_path / "repo"
    (outside / "secret").mkdir(parents=True)
    (repo / "routes").mkdir(parents=True)
    (outside / "shop.yaml").write_text(
        "host: a.acme.org\nroutes:\n- prefix: /\n  route: {service: s}\n"
    )
    os.symlink(outside / "shop.yaml", repo / "routes" / "shop.yaml")
    os.symlink(outside / "secret", repo / "routes" / "secret")
    os.symlink(repo / "routes", repo / "routes" / "loop")  # inside the root: allowed, not looped
    result = load_paths([repo / "routes"], root=repo)
    escapes = [(d.file, d.line) for d in result.diagnostics if d.code == "R007"]
    assert escapes == [("routes/secret", 1), ("routes/shop.yaml", 1)]
    assert not result.routes
    direct = find(load_paths([repo / "routes" / "shop.yaml"], root=repo).diagnostics, "R007")
    assert (direct.file, direct.line) == ("routes/shop.yaml", 1)


def test_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "shop.yaml").write_text(
        "host: a.acme.org\nroutes:\n- prefix: /\n  route: {service: s}\n"
    )
    (tmp_path / "routes").mkdir()
    os.symlink(tmp_path / "shared" / "shop.yaml", tmp_path / "routes" / "shop.yaml")
    result = load_paths([tmp_path / "routes"], root=tmp_path)
    assert list(result.routes) == ["shop"] and not result.diagnostics


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    found = find(load_paths([tmp_path / "nope"], root=tmp_path).diagnostics, "R008")
    assert (found.file, found.line, found.severity) == ("nope", None, "error")


def test_a_path_that_cannot_be_read_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "routes").mkdir()
    os.symlink("loop.yaml", tmp_path / "routes" / "loop.yaml")
    found = find(load_paths([tmp_path / "routes"], root=tmp_path).diagnostics, "R029")
    assert (found.file, found.line, found.column) == ("routes/loop.yaml", 1, 1)
    assert "cannot be read" in found.message


def test_folders_are_read_recursively_sorted_and_skip_other_files(tmp_path: Path) -> None:
    rule = "routes:\n- prefix: /\n  route: {service: s}\n"
    for rel, host in [
        ("b.yaml", "b"),
        ("a/c.yml", "c"),
        ("a/d.yaml", "d"),
        (".hidden/e.yaml", "e"),
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"host: {host}.acme.org\n{rule}")
    (tmp_path / "notes.txt").write_text("not yaml")
    result = load_paths([tmp_path], root=tmp_path)
    assert result.files == ("a/c.yml", "a/d.yaml", "b.yaml")
    assert list(result.routes) == ["b", "c", "d"]


def test_display_paths_are_relative_to_display_base_or_absolute(tmp_path: Path) -> None:
    (tmp_path / "repo" / "routes").mkdir(parents=True)
    (tmp_path / "repo" / "routes" / "x.yaml").write_text("host: [\n")
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("host: [\n")
    result = load_paths(
        [tmp_path / "repo" / "routes", elsewhere],
        root=tmp_path / "repo",
        display_base=tmp_path / "repo" / "routes",
    )
    assert result.files == tuple(sorted([elsewhere.as_posix(), "x.yaml"]))
    assert {d.file for d in result.diagnostics} == set(result.files)


def test_project_documents_are_routes_named_by_metadata() -> None:
    result = load_paths([EXAMPLES / "akka-project"], root=EXAMPLES / "akka-project")
    assert list(result.routes) == ["partner-api", "storefront"]
    assert {d.severity for d in result.diagnostics} == {"info"}
    storefront = result.routes["storefront"]
    assert (storefront.source.file, storefront.source.line) == ("project.yaml", 18)
    assert storefront.spec.host == "store.acme.org"


def test_shop_example_is_clean() -> None:
    result = load_paths([EXAMPLES / "shop" / "routes"], root=EXAMPLES / "shop")
    assert result.diagnostics == ()
    assert list(result.routes) == ["admin", "live", "partners", "shop"]
    shop = result.routes["shop"].spec
    assert [(p.prefix, p.service) for p in shop.paths][:2] == [
        ("/carts", "shopping-cart"),
        ("/orders", "order-service"),
    ]
    assert result.routes["live"].spec.path("/track").websockets  # type: ignore[union-attr]


def test_blobs_load_like_files() -> None:
    folder = EXAMPLES / "shop" / "routes"
    from_files = load_paths([folder], root=EXAMPLES / "shop")
    blobs = [(f"routes/{p.name}", p.read_bytes()) for p in sorted(folder.iterdir())]
    from_blobs = load_blobs(blobs)
    assert from_blobs.files == from_files.files
    assert from_blobs.digest == from_files.digest
    assert dict(from_blobs.routes) == dict(from_files.routes)


def test_digest_follows_content_not_where_the_files_are_read_from() -> None:
    # Saved plans compare it: the working tree seen from any folder, or a git commit's
    # blobs, give the same digest for the same files.
    one = load_blobs([("a.yaml", b"# x\n")]).digest
    assert one.startswith("sha256:")
    assert load_blobs([("a.yaml", b"# y\n")]).digest != one
    assert load_blobs([("../routes/a.yaml", b"# x\n")]).digest == one
    assert load_blobs([("a.yaml", b"# x\n"), ("b.yaml", b"# x\n")]).digest != one
    assert (
        load_blobs([("a.yaml", b"# x\n# y\n")]).digest
        != load_blobs([("a.yaml", b"# x\n"), ("b.yaml", b"# y\n")]).digest
    )


def test_anchors_and_merge_keys_within_limit_work() -> None:
    text = b"""\
resource: Route
resourceVersion: v1
metadata: {name: one}
spec: &spec
  host: one.acme.org
  routes: &rules
  - prefix: /a
    route: {service: a}
---
resource: Route
resourceVersion: v1
metadata: {name: two}
spec:
  host: two.acme.org
  routes:
  - <<: {route: {service: b}}
    prefix: /b
"""
    result = load_blobs([("project.yaml", text)])
    assert result.diagnostics == ()
    assert [(r.source.line, r.spec.paths[0].service) for r in result.routes.values()] == [
        (1, "a"),
        (10, "b"),
    ]


def test_diagnostics_are_sorted_by_file_and_line() -> None:
    result = load_paths([BAD], root=FIXTURES)
    keys = [(d.file or "", d.line or 0, d.column or 0) for d in result.diagnostics]
    assert keys == sorted(keys)
    assert len(result.files) > 20


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["FIFO", "socket"])
@pytest.mark.parametrize("named", [True, False], ids=["named", "in-a-folder"])
def test_a_fifo_or_socket_is_refused_unopened_with_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, named: bool
) -> None:
    import socket

    monkeypatch.chdir(tmp_path)  # a relative socket path stays under the 108-byte limit
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "shop.yaml").write_text(
        "host: shop.acme.org\nroutes:\n- prefix: /\n  route: {service: s}\n"
    )
    listener = socket.socket(socket.AF_UNIX)
    if kind == "FIFO":
        os.mkfifo("routes/odd.yaml")
    else:
        listener.bind("routes/odd.yaml")
    try:
        path = tmp_path / "routes" / ("odd.yaml" if named else "")
        result = load_paths([path], root=tmp_path)
    finally:
        listener.close()
    found = find(result.diagnostics, "R029")
    assert (found.file, found.line, found.column) == ("routes/odd.yaml", 1, 1)
    assert found.message.startswith(f"routes/odd.yaml cannot be read (a {kind}, not a file)")
    assert result.has_errors and list(result.routes) == ([] if named else ["shop"])
