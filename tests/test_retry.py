"""Transient backend failures are retried with capped, jittered backoff that honours
Retry-After; the reads that make a plan retry them too."""

from __future__ import annotations

import pytest

from reconciler.errors import BackendError, TransientBackendError
from reconciler.retry import backoff_delay, retry_transient


def test_backoff_is_capped_jittered_and_honours_retry_after() -> None:
    top = lambda low, high: high  # noqa: E731 - the largest delay jitter could pick
    assert [backoff_delay(a, None, rng=top) for a in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_delay(30, None, rng=top) == 20.0
    assert backoff_delay(1, 7.5, rng=top) == 7.5
    assert 0 <= backoff_delay(4, None) <= 4.0


def test_transient_failures_are_retried_then_succeed() -> None:
    calls, sleeps = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientBackendError("503", retry_after=2.0)
        return "routes"

    assert retry_transient(flaky, sleep=sleeps.append) == "routes"
    assert len(calls) == 3 and all(s >= 2.0 for s in sleeps)


def test_gives_up_after_the_attempts_and_never_retries_other_errors() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise TransientBackendError("503")

    with pytest.raises(TransientBackendError):
        retry_transient(down, attempts=4, sleep=lambda _: None)
    assert len(calls) == 4

    def broken() -> None:
        calls.append(1)
        raise BackendError("bad")

    calls.clear()
    with pytest.raises(BackendError):
        retry_transient(broken, sleep=lambda _: None)
    assert len(calls) == 1
