"""Pure retry policy: delay schedule, Retry-After parsing, the shared rate controller and the
run-wide retry budget. Clock, sleep and RNG are injected; nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Protocol, TypeVar

import structlog

from provisioner.errors import EntryError, RetryableError
from provisioner.settings import Backoff

__all__ = [
    "Clock",
    "RateController",
    "Retrier",
    "RetryBudget",
    "Sleep",
    "backoff_delay",
    "is_retryable",
    "parse_retry_after",
    "retry_delay",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_BELOW_GOODPUT: Final = 0.95  # after a throttle: just under what the server let through
_MIN_RATE: Final = 0.5  # requests/s; the controller never goes below this
_SLACK: Final = 0.001  # seconds: a start this close to its slot goes now (the rate still holds)


class Rng(Protocol):
    def uniform(self, a: float, b: float, /) -> float: ...


def backoff_delay(attempt: int, policy: Backoff, rng: Rng) -> float:
    """Full-jitter exponential delay before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
    ceiling = min(policy.cap, policy.base * (2 ** max(0, attempt - 1)))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(error: RetryableError, attempt: int, policy: Backoff, rng: Rng) -> float:
    """The wait before the next attempt: the server's Retry-After (capped) or full jitter."""
    if error.retry_after is not None:
        return min(error.retry_after, policy.retry_after_cap)
    return backoff_delay(attempt, policy, rng)


def is_retryable(error: EntryError) -> bool:
    return isinstance(error, RetryableError)


@dataclass(slots=True)
class RetryBudget:
    """Run-wide retry token bucket, in the manner of the AWS SDK "standard" retry mode.

    A retry costs ``retry_cost`` (``timeout_cost`` for timeouts and dropped connections);
    a first-attempt success puts one token back, a successful retry puts its cost back.
    Throttled answers cost nothing here: the rate controller already slows down for them.
    When the bucket cannot pay, retries stop run-wide instead of multiplying an outage.
    """

    capacity: float = 500.0
    retry_cost: float = 5.0
    timeout_cost: float = 10.0
    tokens: float = -1.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def cost(self, error: RetryableError) -> float:
        if error.throttled:
            return 0.0
        return self.timeout_cost if error.status is None else self.retry_cost

    def try_spend(self, error: RetryableError) -> float | None:
        """Pay for one retry; the amount paid, or None when the budget is exhausted."""
        price = self.cost(error)
        if price > self.tokens:
            return None
        self.tokens -= price
        return price

    def refund(self, paid: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (paid if paid > 0 else 1.0))


class RateController:
    """The one pace for every request of the run: AIMD on the start rate, plus a shared pause.

    Each request ``await acquire()`` before it starts; starts are spaced ``1/rate`` apart.
    A throttled answer (429/503) lowers the rate for every worker, once per "window": only a
    request started after the last decrease can lower it again, so the answers to requests
    already in flight do not pile up decreases. The decrease halves the rate until a full
    second of successes is known, then to just under the measured goodput (what the server
    let through in the last second), or the current rate if that is lower. Clean successes
    raise it additively, about ``increase`` requests/s per second, up to ``max_rate``. A
    ``Retry-After`` pauses every worker, not only the one that got it.
    """

    def __init__(
        self,
        max_rate: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        increase: float | None = None,
    ) -> None:
        self.max_rate = max_rate
        self.rate = max_rate
        self._clock = clock
        self._sleep = sleep
        self._increase = increase if increase is not None else max(1.0, max_rate / 50)
        self._lock = asyncio.Lock()
        self._queued = 0  # callers waiting for a slot (holding or queued on the lock)
        self._first_start = float("inf")
        self._last_start = float("-inf")
        self._paused_until = float("-inf")
        self._last_decrease = float("-inf")
        self._successes: deque[float] = deque()
        self.throttles = 0

    async def acquire(self) -> float:
        """Wait for this request's start slot; returns the start time (for ``on_throttle``).
        Waiters queue on a lock, in order; with none queued a due slot is taken at once."""
        if not self._queued:
            now = self._clock()
            if not self._wait_or_take(now):
                return now
        self._queued += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock()
                    wait = self._wait_or_take(now)
                    if not wait:
                        return now
                    await self._sleep(wait)
        finally:
            self._queued -= 1

    def _wait_or_take(self, now: float) -> float:
        """Seconds until the next start slot, or 0.0 when it is due (and now taken)."""
        start = max(self._last_start + 1.0 / self.rate, self._paused_until)
        if start > now + _SLACK:  # a wait this short costs more than it spaces
            return start - now
        self._first_start = min(self._first_start, now)
        self._last_start = max(start, now)  # early starts borrow from the schedule
        return 0.0

    def goodput(self) -> float:
        """Successes in the last second."""
        now = self._clock()
        while self._successes and self._successes[0] < now - 1.0:
            self._successes.popleft()
        return float(len(self._successes))

    def on_success(self) -> None:
        self._successes.append(self._clock())
        if self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate + self._increase / max(self.rate, 1.0))

    def on_throttle(self, retry_after: float | None, started: float | None = None) -> bool:
        """Slow down after a 429/503 to a request started at ``started``; True if lowered."""
        now = self._clock()
        self.throttles += 1
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        if started is not None and started <= self._last_decrease:
            return False  # sent before the last decrease: already accounted for
        if now - self._first_start >= 1.0:  # a full second of goodput is known
            self.rate = min(self.rate, max(self.goodput(), _MIN_RATE)) * _BELOW_GOODPUT
        else:
            self.rate *= 0.5
        self.rate = max(_MIN_RATE, self.rate)
        self._last_decrease = now
        return True


class Retrier:
    """The one retry loop's wait: backoff (or Retry-After), the ``retry_scheduled`` event,
    the sleep. ``call`` retries an idempotent call (a listing page, a GET) with it; the
    worker pool waits with ``wait`` between the attempts of an entry."""

    def __init__(
        self,
        policy: Backoff,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: Rng | None = None,
        rate_of: Callable[[], float] | None = None,
    ) -> None:
        self._policy = policy
        self._sleep = sleep
        self._rng: Rng = rng or random.Random()
        self._rate_of = rate_of

    async def wait(self, exc: RetryableError, attempt: int, **fields: object) -> None:
        """Log the retry of ``attempt`` (with ``fields``) and sleep before the next one."""
        delay = retry_delay(exc, attempt, self._policy, self._rng)
        if self._rate_of is not None:
            fields["rate"] = round(self._rate_of(), 2)
        log.info(
            "retry_scheduled",
            attempt=attempt,
            reason=exc.code or (f"HTTP {exc.status}" if exc.status else exc.message),
            http_status=exc.status,
            delay_s=round(delay, 3),
            **fields,
        )
        await self._sleep(delay)

    async def call(self, op: Callable[[], Awaitable[T]], *, kind: str) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await op()
            except RetryableError as exc:
                if attempt >= self._policy.max_attempts:
                    raise
                await self.wait(exc, attempt, kind=kind)
