"""What happens after a failed request: the delay before the next attempt (full-jitter
backoff or the server's ``Retry-After``), the run-wide retry budget, and the one retry loop
(``Retrier.run``) that the worker pool's entries and the client's idempotent reads both go
through. Sleep and RNG are injected; nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

import structlog

from provisioner.aep._pacing import Sleep
from provisioner.errors import EntryError, PermanentError, RetryableError
from provisioner.settings import Backoff

__all__ = [
    "Attempts",
    "Retrier",
    "RetryBudget",
    "backoff_delay",
    "is_retryable",
    "parse_retry_after",
    "retry_delay",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")


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


@dataclass(slots=True, kw_only=True)
class Attempts:
    """One operation's attempts so far, filled in by ``Retrier.run`` as it goes (so that a
    caller whose deadline cancels the loop still knows how far it got).

    ``paid`` is what its retries took from the budget; ``refused`` says why no further attempt
    was made (attempts or budget used up); ``stopped`` that a stop ended it instead."""

    count: int = 0
    paid: float = 0.0
    last: EntryError | None = None
    refused: str | None = None
    stopped: bool = False


def _never() -> bool:
    return False


class Retrier:
    """The one retry loop (``run``) and its wait: backoff (or Retry-After), the
    ``retry_scheduled`` event, the sleep. The worker pool runs each entry's attempts through
    ``run``; ``call`` retries an idempotent call (a listing page, a GET, the token)."""

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

    async def _wait(self, exc: RetryableError, attempt: int, **fields: object) -> None:
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

    async def run(
        self,
        op: Callable[[int], Awaitable[T]],
        tries: Attempts,
        *,
        stopping: Callable[[], bool] = _never,
        budget: RetryBudget | None = None,
        **fields: object,
    ) -> T:
        """Await ``op(attempt)`` until it succeeds, counting on ``tries``.

        A ``PermanentError`` propagates at once. A ``RetryableError`` is retried after
        a wait (``fields`` go into its event) unless ``stopping()`` is true (before or after
        the wait: ``tries.stopped``), the policy's attempts are used up or ``budget`` cannot pay
        for the retry (``tries.refused`` says which); then it propagates. The error that ended
        the loop is ``tries.last``. A success refunds to ``budget`` what the retries paid."""
        while True:
            tries.count += 1
            try:
                done = await op(tries.count)
            except PermanentError as exc:
                tries.last = exc
                raise
            except RetryableError as exc:
                tries.last = exc
                if not await self._again(exc, tries, stopping, budget, fields):
                    raise
                continue
            if budget is not None:
                budget.refund(tries.paid)
            return done

    async def call(self, op: Callable[[], Awaitable[T]], *, kind: str) -> T:
        """``op`` (idempotent) retried up to the policy's attempts; the last error propagates."""
        return await self.run(lambda _attempt: op(), Attempts(), kind=kind)

    async def _again(
        self,
        exc: RetryableError,
        tries: Attempts,
        stopping: Callable[[], bool],
        budget: RetryBudget | None,
        fields: dict[str, object],
    ) -> bool:
        """Wait before the next attempt, or False (with why on ``tries``) if there is none."""
        if stopping():
            tries.stopped = True
            return False
        tries.refused = self._refusal(exc, tries, budget)
        if tries.refused is not None:
            return False
        await self._wait(exc, tries.count, **fields)
        tries.stopped = stopping()
        return not tries.stopped

    def _refusal(
        self, exc: RetryableError, tries: Attempts, budget: RetryBudget | None
    ) -> str | None:
        """Why no further attempt is made, or None to retry (paid for, if there is a budget)."""
        if tries.count >= self._policy.max_attempts:
            return f"gave up after {tries.count} attempts: {exc.message}"
        if budget is None:
            return None
        paid = budget.try_spend(exc)
        if paid is None:
            log.warning("retry_budget_exhausted", attempt=tries.count)
            return f"retry budget exhausted (too many failures run-wide): {exc.message}"
        tries.paid += paid
        return None
