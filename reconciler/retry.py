"""The one retry policy: every writer, reader and the GitHub client retry here.

A transient failure is tried again up to ``attempts`` times in all, after an exponential
backoff with full jitter, capped, and never shorter than the server's ``Retry-After``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import TypeVar

from reconciler.errors import TransientBackendError

T = TypeVar("T")
E = TypeVar("E", bound=Exception)

ATTEMPTS = 5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0


def backoff_delay(
    attempt: int,
    retry_after: float | None,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    rng: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return max(rng(0, ceiling), retry_after or 0.0)


def _no_jitter(low: float, high: float) -> float:
    return high


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a transient failure is retried; the clocks, for tests."""

    attempts: int = ATTEMPTS  # in all, the first one included
    base: float = BACKOFF_BASE  # seconds before the second attempt, at most; doubles per attempt
    cap: float = BACKOFF_CAP  # longest backoff (a Retry-After may be longer)
    jitter: bool = True  # False waits the whole backoff: for one client alone, never a herd
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    rng: Callable[[float, float], float] = field(default=random.uniform, compare=False, repr=False)
    # Wall clock: what an HTTP-date Retry-After (or a rate-limit reset) is measured against.
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt ``attempt``, told ``retry_after`` or not."""
        rng = self.rng if self.jitter else _no_jitter
        return backoff_delay(attempt, retry_after, base=self.base, cap=self.cap, rng=rng)


def parse_retry_after(header_value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` value asks for (delay-seconds or HTTP-date, RFC 9110 §10.2.3).

    ``now`` is the wall clock (seconds since the epoch) a date is measured against; a date
    in the past is 0. None when there is no header or it is neither form.
    """
    raw = (header_value or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)  # RFC 9110 says digits; a decimal is read as meant
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    from email.utils import parsedate_to_datetime  # only an HTTP-date needs it (and socket)

    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # asctime and "-0000" dates carry no zone: HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def run_with_retries(
    attempt: Callable[[int], T],
    policy: RetryPolicy,
    *,
    retry_on: type[E],
    on_retry: Callable[[int, E, float], None] | None = None,
) -> T:
    """``attempt(n)`` for n = 1, 2, ... until it returns; only a ``retry_on`` error is retried.

    ``attempt`` learns its number, so a first attempt may differ (an optimistic write) and
    later ones start over (read, then decide). The backoff honours the error's
    ``retry_after``; ``on_retry(n, error, pause)`` hears of every retry before the pause.
    The last attempt's error is raised as it is.
    """
    last = max(1, policy.attempts)
    for number in range(1, last + 1):
        try:
            return attempt(number)
        except retry_on as exc:
            if number >= last:
                raise
            pause = policy.delay(number, _retry_after_of(exc))
            if on_retry is not None:
                on_retry(number, exc, pause)
            policy.sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _retry_after_of(error: Exception) -> float | None:
    seconds = getattr(error, "retry_after", None)
    return float(seconds) if isinstance(seconds, int | float) else None


def retry_transient(
    call: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again on ``TransientBackendError`` up to ``attempts`` times."""
    policy = RetryPolicy(attempts=attempts, sleep=sleep)
    return run_with_retries(lambda _: call(), policy, retry_on=TransientBackendError)


__all__ = [
    "ATTEMPTS",
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "RetryPolicy",
    "backoff_delay",
    "parse_retry_after",
    "retry_transient",
    "run_with_retries",
]
