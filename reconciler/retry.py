"""Retrying transient backend failures (DESIGN §7): exponential backoff with full jitter,
capped, never shorter than the server's ``Retry-After``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from reconciler.errors import TransientBackendError

T = TypeVar("T")

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


def retry_transient(
    call: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again on ``TransientBackendError`` up to ``attempts`` times."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransientBackendError as exc:
            if attempt >= attempts:
                raise
            sleep(backoff_delay(attempt, exc.retry_after))
    raise AssertionError("unreachable")  # pragma: no cover
