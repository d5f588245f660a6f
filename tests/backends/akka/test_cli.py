"""The Akka backend's one subprocess helper: timeouts, and secrets kept out of messages."""

from __future__ import annotations

import pytest

from reconciler.backends.akka.cli import cmd_output, format_command, redact_argv
from reconciler.errors import BackendError, TransientBackendError


def test_hung_process_is_killed_at_the_timeout() -> None:
    with pytest.raises(TransientBackendError) as caught:
        cmd_output(["sleep", "5"], timeout=0.2)
    assert caught.value.message == "`sleep 5` timed out after 0.2s"


def test_secrets_are_redacted_from_command_and_stderr() -> None:
    argv = ["sh", "-c", 'echo "denied for $2" >&2; exit 3', "sh", "--token", "s3cr3t-value"]
    with pytest.raises(BackendError) as caught:
        cmd_output(argv, timeout=10)
    message = caught.value.message
    assert "s3cr3t-value" not in message
    assert "exit code 3" in message and "denied for (sensitive value)" in message
    assert redact_argv(["akka", "--http-basic-credentials=admin=pw", "--project", "p"]) == [
        "akka",
        "--http-basic-credentials=(sensitive value)",
        "--project",
        "p",
    ]
    assert "hunter2" not in format_command(["akka", "--password", "hunter2"])
