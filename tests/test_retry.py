"""Transient backend failures are retried with capped, jittered backoff that honours
Retry-After; the reads that make a plan retry them too."""

from __future__ import annotations

import pytest

from reconciler.errors import BackendError, TransientBackendError
from reconciler.retry import (
    RetryPolicy,
    backoff_delay,
    parse_retry_after,
    retry_transient,
    run_with_retries,
)

NOW = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date


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


# Retry-After header value -> seconds to wait (None: no usable value), at NOW
RETRY_AFTERS = [
    ("120", 120.0),
    (" 3 ", 3.0),
    ("0", 0.0),
    ("1.5", 1.5),
    ("-3", None),
    ("inf", None),
    ("", None),
    (None, None),
    ("soon", None),
    ("Sun, 06 Nov 1994 08:51:37 GMT", 120.0),  # IMF-fixdate
    ("Sunday, 06-Nov-94 08:51:37 GMT", 120.0),  # obsolete RFC 850 form
    ("Sun Nov  6 08:51:37 1994", 120.0),  # obsolete asctime form: GMT without saying so
    ("Sun, 06 Nov 1994 08:00:00 GMT", 0.0),  # a date in the past: retry now
]


@pytest.mark.parametrize(("header", "seconds"), RETRY_AFTERS)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_a_policy_without_jitter_waits_the_whole_backoff() -> None:
    policy = RetryPolicy(base=1.0, cap=30.0, jitter=False)
    assert [policy.delay(a, None) for a in (1, 2, 3, 4, 6)] == [1.0, 2.0, 4.0, 8.0, 30.0]
    assert policy.delay(2, 7.0) == 7.0 and policy.delay(4, 1.0) == 8.0


def test_the_loop_numbers_attempts_reports_retries_and_honours_retry_after() -> None:
    sleeps: list[float] = []
    heard: list[tuple[int, str, float]] = []
    policy = RetryPolicy(attempts=3, rng=lambda low, high: high, sleep=sleeps.append)

    def attempt(number: int) -> int:
        if number < 3:
            raise TransientBackendError(f"503 #{number}", retry_after=4.0 if number == 2 else None)
        return number

    def on_retry(number: int, error: TransientBackendError, pause: float) -> None:
        heard.append((number, error.message, pause))

    assert run_with_retries(attempt, policy, retry_on=TransientBackendError, on_retry=on_retry) == 3
    assert heard == [(1, "503 #1", 0.5), (2, "503 #2", 4.0)]
    assert sleeps == [0.5, 4.0]


def test_the_loop_retries_only_what_it_is_told_to() -> None:
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise TransientBackendError("503")

    with pytest.raises(TransientBackendError):
        run_with_retries(attempt, RetryPolicy(sleep=lambda _: None), retry_on=KeyError)
    assert calls == [1]
