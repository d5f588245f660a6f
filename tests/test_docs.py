"""What the repository's own documentation promises a reader: no pointer into a design
document that is not shipped, and every plan JSON field described where readers look."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
READER_FACING = [
    REPO / "README.md",
    REPO / "action.yml",
    *sorted((REPO / "docs").rglob("*")),
    *sorted((REPO / "examples").rglob("*")),
    *sorted((REPO / "schemas").glob("*")),
]


@pytest.mark.parametrize("path", [p for p in READER_FACING if p.is_file()], ids=str)
def test_no_reader_is_sent_to_the_design_document(path: Path) -> None:
    text = path.read_text(errors="replace")
    assert not re.search(r"DESIGN\s*(§|section|\.md)", text), f"{path} points into DESIGN"


def test_every_plan_json_field_is_described_in_the_docs() -> None:
    schema = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    doc = (REPO / "docs" / "plan-json.md").read_text()
    nested = ("source", "options")  # described field by field
    fields = [key for key in schema["properties"] if key not in nested]
    fields += list(schema["$defs"]["change"]["properties"])
    fields += [
        f"{key}.{inner}" for key in nested for inner in schema["properties"][key]["properties"]
    ]
    fields += list(schema["properties"]["summary"]["properties"])
    missing = [name for name in fields if f"`{name}`" not in doc]
    assert missing == []
    for action in schema["$defs"]["change"]["properties"]["action"]["enum"]:
        assert f"`{action}`" in doc
    assert "docs/plan-json.md" in (REPO / "README.md").read_text()


def test_readme_describes_the_config_and_the_api() -> None:
    readme = (REPO / "README.md").read_text()
    config = json.loads((REPO / "schemas" / "routes-config.schema.json").read_text())
    assert [key for key in config["properties"] if f"\n{key}:" not in readme] == []
    for endpoint in ("GET /healthz", "GET /v1/routes", "/v1/routes/{name}", "/v1/hostnames"):
        assert endpoint in readme
