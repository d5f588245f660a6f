"""``routes apply``'s report: every route with what became of it, deletes counted as deletes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import SHOP, routes


def test_the_report_lists_each_route_with_its_outcome(tmp_path: Path) -> None:
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "routes").mkdir()
    for name in ("shop", "cart", "old"):
        (tmp_path / "routes" / f"{name}.yaml").write_text(SHOP.replace("ecommerce", name))
    code, out, _ = routes(tmp_path, "apply", "--auto-approve")
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("Apply complete: 3 applied,")

    (tmp_path / "routes" / "old.yaml").unlink()
    (tmp_path / "routes" / "cart.yaml").write_text(SHOP.replace("ecommerce", "carts"))
    (tmp_path / "routes" / "new.yaml").write_text(SHOP.replace("ecommerce", "new"))
    code, out, _ = routes(tmp_path, "apply", "--auto-approve", "--prune")
    assert code == 0
    report = out.strip().splitlines()
    assert '  route "new" (create): created' in report
    assert '  route "cart" (update): updated' in report
    assert '  route "old" (delete): deleted' in report
    assert report[-1] == (
        "Apply complete: 2 applied, 0 already applied, 0 failed, 0 not attempted, 1 deleted."
    )

    (tmp_path / "routes" / "cart.yaml").write_text(SHOP.replace("ecommerce", "cart"))
    code, out, _ = routes(tmp_path, "apply", "--auto-approve", "--format", "json")
    assert code == 0
    result = json.loads(out)
    assert [(r["route"], r["result"]) for r in result["results"]] == [("cart", "updated")]
    assert result["counts"]["updated"] == 1 and result["counts"]["deleted"] == 0
