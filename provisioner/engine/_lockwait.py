"""Waiting for a run lock that another run holds: tries with a doubling delay, up to a limit.

Both backends' locks (a file lock for SQLite, an advisory lock for PostgreSQL) use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, TypeVar

import structlog

from provisioner.errors import LockedError

__all__ = ["LOCK_FIRST_DELAY", "LOCK_MAX_DELAY", "wait_for_lock"]

log = structlog.get_logger(__name__)

LOCK_FIRST_DELAY: Final = 0.05  # seconds between the first tries of a held lock
LOCK_MAX_DELAY: Final = 2.0


_T = TypeVar("_T")


def wait_for_lock(
    attempt: Callable[[], _T],
    wait: float,
    *,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """``attempt()`` until it stops raising LockedError, for up to ``wait`` seconds, polling
    with a doubling delay (``sleep`` and ``clock`` are injectable for tests)."""
    deadline = clock() + wait
    delay = LOCK_FIRST_DELAY
    while True:
        try:
            return attempt()
        except LockedError as exc:
            left = deadline - clock()
            if left <= 0:
                if wait > 0:
                    raise LockedError(f"{exc} (waited {wait:g} s)") from None
                raise
            if delay == LOCK_FIRST_DELAY:
                log.info("lock_waiting", held_by=str(exc), wait_s=wait)
        sleep(min(delay, left))
        delay = min(delay * 2, LOCK_MAX_DELAY)
