"""reconciler.integrations.github.publish: the Action's entry points read the environment."""

from __future__ import annotations

from reconciler.integrations.github.publish import publish_drift, publish_plan
from tests.integrations.github.support import FakeGitHub, _plan


def test_publish_functions_read_the_environment(fake: FakeGitHub, env: dict[str, str]) -> None:
    url = publish_plan(_plan(), None, env=env)
    assert url == fake.comments[7][0]["html_url"]
    assert publish_drift("drifted", True, target="prod", env=env) == fake.issues[0]["html_url"]
