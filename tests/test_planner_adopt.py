"""Adoption (``--adopt GLOB``) and renames in the planner: one tiny scenario per case.

Adoption is explicit: an unmanaged live route is taken over only when ``--adopt`` names it,
and only when no other owner manages it. A route created where a route that is no longer
described already serves the same host and paths reads as a rename.
"""

from __future__ import annotations

from typing import Any

from reconciler.render.text import render_plan_text
from tests.test_planner import OURS, SHOP, THEIRS, live_route, paths, plan_for, shop

BARE: dict[str, str] = {}  # a live route no routes owner manages
FOREIGN = {"team": "web"}  # a route some other tool labelled


def _only(plan: Any) -> Any:
    (change,) = plan.changes
    return change


def test_an_unmanaged_route_is_never_adopted_without_the_flag() -> None:
    plan = plan_for({"shop": SHOP}, [live_route("shop", SHOP, BARE)])
    assert plan.changes == ()
    assert [d.code for d in plan.diagnostics] == ["P001"]
    assert "--adopt shop" in plan.diagnostics[0].message


def test_adopting_an_equal_route_only_adds_this_owners_labels() -> None:
    plan = plan_for({"shop": SHOP}, [live_route("shop", SHOP, FOREIGN)], adopt=("shop",))
    change = _only(plan)
    assert (change.action, change.operations, change.risks) == ("adopt", (), ())
    assert change.labels == {**FOREIGN, **OURS}  # the route's own labels stay
    assert change.live_fingerprint == change.after_fingerprint
    assert plan.summary() == {"add": 0, "change": 0, "destroy": 0, "unchanged": 0, "adopt": 1}
    assert plan.unmanaged == () and plan.diagnostics == ()
    text = render_plan_text(plan.to_dict())
    assert (
        '  # route "shop" will be adopted by owner "acme/gitops" (its spec already matches)' in text
    )
    assert '      + label "routes/owner" = "acme/gitops"' in text
    assert text.endswith("Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy.")


def test_adopting_a_differing_route_shows_the_diff_it_also_applies() -> None:
    live = shop(routes=paths(("/carts", "carts"), ("/debug", "debug")))
    plan = plan_for({"shop": SHOP}, [live_route("shop", live, BARE)], adopt=("shop-*", "sh*"))
    change = _only(plan)
    assert change.action == "adopt"
    assert [op.op for op in change.operations] == ["add-path", "remove-path"]
    assert change.risks == ("path-removed",)
    text = render_plan_text(plan.to_dict())
    assert "will be adopted by owner" in text and "and updated in-place" in text
    assert '      - path "/debug" -> debug' in text
    # "shop-*" matched nothing it could adopt: said, not silent.
    assert [(d.code, d.severity) for d in plan.diagnostics] == [("P021", "warning")]
    assert '"shop-*"' in plan.diagnostics[0].message


def test_a_route_of_another_owner_is_never_adopted() -> None:
    plan = plan_for({"shop": SHOP}, [live_route("shop", SHOP, THEIRS)], adopt=("*",))
    assert plan.changes == ()
    assert [d.code for d in plan.diagnostics] == ["P001", "P021"]
    assert "team/other" in plan.diagnostics[0].message


def test_adoption_needs_a_descriptor_and_leaves_the_others_unmanaged() -> None:
    live = [live_route("shop", SHOP, BARE), live_route("blog", shop(host="blog.acme.org"), BARE)]
    plan = plan_for({"shop": SHOP}, live, adopt=("*",))
    assert {c.route: c.action for c in plan.changes} == {"shop": "adopt"}
    assert [u["route"] for u in plan.unmanaged] == ["blog"]


def test_an_adoption_is_ordered_between_creates_and_deletes() -> None:
    live = [live_route("shop", SHOP, BARE), live_route("old", shop(host="old.acme.org"))]
    desired = {"shop": SHOP, "new": shop(host="b.acme.org")}
    plan = plan_for(desired, live, adopt=("shop",), prune=True)
    assert [c.action for c in plan.changes] == ["create", "adopt", "delete"]


def test_without_labels_there_is_nothing_to_adopt_with() -> None:
    plan = plan_for({"shop": SHOP}, [live_route("shop", SHOP, BARE)], labels_supported=False)
    assert "add shop to `scope`" in plan.diagnostics[0].message


# ------------------------------------------------------------------------------- renames

RENAMED = {"www": shop(host="www.example.com", routes=paths(("/", "web")))}


def test_a_renamed_route_kept_without_prune_warns_that_both_serve() -> None:
    plan = plan_for({"www-new": RENAMED["www"]}, [live_route("www", RENAMED["www"])], prune=False)
    assert {c.route: c.action for c in plan.changes} == {"www-new": "create"}
    codes = [(d.code, d.severity) for d in plan.diagnostics]
    assert codes == [("P010", "info"), ("P013", "warning")]
    renamed = plan.diagnostics[1]
    assert renamed.file == "routes/www-new.yaml" and renamed.route == "www-new"
    assert 'looks like route "www" was renamed to "www-new"' in renamed.message
    assert 'both will serve host "www.example.com" at "/"' in renamed.message
    assert "--prune" in renamed.message


def test_a_delete_and_a_create_with_one_spec_read_as_a_rename() -> None:
    plan = plan_for({"www-new": RENAMED["www"]}, [live_route("www", RENAMED["www"])], prune=True)
    assert {c.route: c.action for c in plan.changes} == {"www-new": "create", "www": "delete"}
    (note,) = plan.diagnostics
    assert (note.code, note.severity) == ("P012", "info")
    assert note.message.startswith('looks like route "www" was renamed to "www-new"')
    assert "Note: [P012]" in render_plan_text(plan.to_dict())


def test_routes_on_other_hosts_or_paths_are_no_rename() -> None:
    other_host = shop(host="else.example.com", routes=paths(("/", "web")))
    other_path = shop(host="www.example.com", routes=paths(("/api", "web")))
    live = [live_route("a", other_host), live_route("b", other_path)]
    plan = plan_for({"www-new": RENAMED["www"]}, live)
    assert [d.code for d in plan.diagnostics] == ["P010", "P010"]


def test_an_unmanaged_route_is_no_rename_source() -> None:
    plan = plan_for({"www-new": RENAMED["www"]}, [live_route("www", RENAMED["www"], BARE)])
    assert plan.diagnostics == ()
