"""aep._retry: delay schedule, Retry-After parsing, retry budget, and the one retry loop
(``Retrier.run``, and ``call`` on it); the rate controller is in tests/unit/aep/test_pacing.py."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.typing import EventDict

from provisioner.aep._retry import (
    Attempts,
    Retrier,
    RetryBudget,
    backoff_delay,
    is_retryable,
    parse_retry_after,
    retry_delay,
)
from provisioner.errors import PermanentError, RetryableError
from provisioner.settings import Backoff
from tests.helpers import FakeClock


class TopRng:
    """Full jitter's worst case: always the top of the range; records every range asked for."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float, /) -> float:
        self.ranges.append((a, b))
        return b


# --- backoff_delay ---------------------------------------------------------------------------


def test_backoff_delay_doubles_per_attempt_from_base() -> None:
    rng = TopRng()
    policy = Backoff(base=0.5, cap=100.0)
    delays = [backoff_delay(attempt, policy, rng) for attempt in (1, 2, 3, 4)]
    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_backoff_delay_is_full_jitter_from_zero() -> None:
    rng = TopRng()
    backoff_delay(3, Backoff(base=1.0, cap=100.0), rng)
    assert rng.ranges == [(0.0, 4.0)]


def test_backoff_delay_never_exceeds_cap() -> None:
    rng = TopRng()
    policy = Backoff(base=1.0, cap=5.0)
    assert [backoff_delay(a, policy, rng) for a in (3, 4, 10, 100)] == [4.0, 5.0, 5.0, 5.0]


def test_backoff_delay_treats_attempt_zero_like_attempt_one() -> None:
    assert backoff_delay(0, Backoff(base=2.0, cap=10.0), TopRng()) == 2.0


def test_backoff_delay_zero_base_means_no_wait() -> None:
    assert backoff_delay(5, Backoff(base=0.0, cap=0.0), random.Random(1)) == 0.0


@given(
    attempt=st.integers(min_value=1, max_value=100),
    base=st.floats(min_value=0.0, max_value=10.0),
    extra=st.floats(min_value=0.0, max_value=100.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_delay_stays_between_zero_and_cap(
    attempt: int, base: float, extra: float, seed: int
) -> None:
    policy = Backoff(base=base, cap=base + extra)
    delay = backoff_delay(attempt, policy, random.Random(seed))
    assert 0.0 <= delay <= policy.cap


# --- parse_retry_after -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("1.5", 1.5), ("-3", 0.0)],
)
def test_parse_retry_after_reads_delta_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_reads_http_date_relative_to_now() -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0


def test_parse_retry_after_treats_zone_less_http_date_as_utc() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 -0000", now=now) == 10.0


def test_parse_retry_after_honours_numeric_zone_offset() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 09:28:05 +0200", now=now) == 5.0


def test_parse_retry_after_date_in_the_past_means_no_wait() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0


def test_parse_retry_after_date_defaults_to_the_current_time() -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    header = soon.strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 3500.0 < seconds <= 3600.0


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "soon", "later please", "Wed, 99 Foo 2015 07:28:00 GMT", "12 monkeys"],
)
def test_parse_retry_after_returns_none_for_missing_or_garbage(header: str | None) -> None:
    assert parse_retry_after(header) is None


@given(st.text(max_size=60))
def test_parse_retry_after_never_raises_and_is_never_negative(header: str) -> None:
    seconds = parse_retry_after(header, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert seconds is None or seconds >= 0.0


# --- retry_delay / is_retryable --------------------------------------------------------------


def test_retry_delay_uses_retry_after_when_given() -> None:
    error = RetryableError("throttled", status=429, retry_after=7.0)
    assert retry_delay(error, 1, Backoff(base=1.0, cap=2.0), TopRng()) == 7.0


def test_retry_delay_caps_retry_after() -> None:
    error = RetryableError("throttled", status=429, retry_after=3600.0)
    policy = Backoff(retry_after_cap=120.0)
    assert retry_delay(error, 1, policy, TopRng()) == 120.0


def test_retry_delay_zero_retry_after_is_honoured_not_replaced_by_backoff() -> None:
    error = RetryableError("throttled", status=429, retry_after=0.0)
    assert retry_delay(error, 3, Backoff(base=1.0, cap=10.0), TopRng()) == 0.0


def test_retry_delay_falls_back_to_jittered_backoff() -> None:
    error = RetryableError("boom", status=503)
    assert retry_delay(error, 3, Backoff(base=1.0, cap=10.0), TopRng()) == 4.0


def test_only_retryable_errors_are_retryable() -> None:
    assert is_retryable(RetryableError("x", status=503))
    assert not is_retryable(PermanentError("x", status=400))


# --- RetryBudget -----------------------------------------------------------------------------


def test_budget_starts_full() -> None:
    assert RetryBudget(capacity=50.0).tokens == 50.0


def test_budget_charges_timeouts_more_than_server_errors_and_throttles_nothing() -> None:
    budget = RetryBudget(retry_cost=5.0, timeout_cost=10.0)
    assert budget.cost(RetryableError("5xx", status=500)) == 5.0
    assert budget.cost(RetryableError("timed out", status=None)) == 10.0
    assert budget.cost(RetryableError("slow down", status=429)) == 0.0
    assert budget.cost(RetryableError("unavailable", status=503)) == 0.0


def test_budget_refuses_once_it_cannot_pay() -> None:
    budget = RetryBudget(capacity=12.0, retry_cost=5.0)
    error = RetryableError("5xx", status=500)
    assert budget.try_spend(error) == 5.0
    assert budget.try_spend(error) == 5.0
    assert budget.try_spend(error) is None
    assert budget.tokens == 2.0


def test_budget_never_refuses_throttled_retries() -> None:
    budget = RetryBudget(capacity=0.0)
    assert budget.try_spend(RetryableError("slow down", status=429)) == 0.0


def test_budget_refund_returns_the_paid_cost() -> None:
    budget = RetryBudget(capacity=20.0, retry_cost=5.0)
    paid = budget.try_spend(RetryableError("5xx", status=502))
    assert paid is not None
    budget.refund(paid)
    assert budget.tokens == 20.0


def test_budget_first_attempt_success_adds_one_token_up_to_capacity() -> None:
    budget = RetryBudget(capacity=10.0, tokens=8.5)
    budget.refund(0.0)
    assert budget.tokens == 9.5
    budget.refund(0.0)
    assert budget.tokens == 10.0


# --- Retrier ---------------------------------------------------------------------------------


class Script:
    """An operation that raises the scripted errors in order, then returns ``value``."""

    def __init__(self, *errors: Exception, value: str = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls = 0
        self.attempts: list[int] = []

    async def __call__(self, attempt: int = 0) -> str:
        self.calls += 1
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return self.value


async def test_retrier_retries_retryable_errors_then_returns() -> None:
    clock = FakeClock()
    op = Script(RetryableError("a", status=503), RetryableError("b", status=500))
    retrier = Retrier(Backoff(base=1.0, cap=10.0), sleep=clock.sleep, rng=TopRng())
    assert await retrier.call(op, kind="list") == "ok"
    assert op.calls == 3
    assert clock.sleeps == [1.0, 2.0]


async def test_retrier_does_not_retry_permanent_errors() -> None:
    clock = FakeClock()
    op = Script(PermanentError("no", status=400))
    retrier = Retrier(Backoff(), sleep=clock.sleep, rng=TopRng())
    with pytest.raises(PermanentError):
        await retrier.call(op, kind="get")
    assert op.calls == 1
    assert clock.sleeps == []


async def test_retrier_gives_up_after_max_attempts_with_the_last_error() -> None:
    clock = FakeClock()
    errors = [RetryableError(f"e{i}", status=500) for i in range(5)]
    op = Script(*errors)
    retrier = Retrier(Backoff(max_attempts=3), sleep=clock.sleep, rng=TopRng())
    with pytest.raises(RetryableError) as info:
        await retrier.call(op, kind="list")
    assert info.value is errors[2]
    assert op.calls == 3
    assert len(clock.sleeps) == 2


async def test_retrier_waits_for_retry_after() -> None:
    clock = FakeClock()
    op = Script(RetryableError("slow down", status=429, retry_after=9.0))
    retrier = Retrier(Backoff(base=1.0, cap=2.0), sleep=clock.sleep, rng=TopRng())
    await retrier.call(op, kind="list")
    assert clock.sleeps == [9.0]


async def test_retrier_logs_one_retry_scheduled_per_retry(info_logs: list[EventDict]) -> None:
    clock = FakeClock()
    op = Script(
        RetryableError("boom", status=503, code="FLOW-1103-503"),
        RetryableError("get timed out", status=None),
    )
    retrier = Retrier(Backoff(base=1.0, cap=10.0), sleep=clock.sleep, rng=TopRng())
    await retrier.call(op, kind="get")
    events = [e for e in info_logs if e["event"] == "retry_scheduled"]
    assert [(e["kind"], e["attempt"], e["delay_s"]) for e in events] == [
        ("get", 1, 1.0),
        ("get", 2, 2.0),
    ]
    assert events[0]["reason"] == "FLOW-1103-503"
    assert events[0]["http_status"] == 503
    assert events[1]["reason"] == "get timed out"
    assert events[1]["http_status"] is None


# --- Retrier.run: the loop the pool's entries go through ----------------------------------------


def flaky(count: int, status: int = 500) -> list[Exception]:
    return [RetryableError(f"e{i}", status=status) for i in range(count)]


async def test_run_hands_each_attempt_its_number_and_the_event_its_fields(
    info_logs: list[EventDict],
) -> None:
    clock = FakeClock()
    op = Script(*flaky(2))
    tries = Attempts()
    retrier = Retrier(Backoff(base=1.0, cap=10.0), sleep=clock.sleep, rng=TopRng())
    assert await retrier.run(op, tries, connection_id="c-1") == "ok"
    assert op.attempts == [1, 2, 3]
    assert (tries.count, tries.refused, tries.stopped) == (3, None, False)
    events = [e for e in info_logs if e["event"] == "retry_scheduled"]
    assert [(e["attempt"], e["connection_id"]) for e in events] == [(1, "c-1"), (2, "c-1")]


async def test_run_never_retries_a_permanent_error_and_records_it() -> None:
    clock = FakeClock()
    error = PermanentError("no", status=400)
    op = Script(error)
    tries = Attempts()
    budget = RetryBudget(capacity=10.0)
    retrier = Retrier(Backoff(), sleep=clock.sleep, rng=TopRng())
    with pytest.raises(PermanentError):
        await retrier.run(op, tries, budget=budget)
    assert op.calls == 1
    assert clock.sleeps == []
    assert tries.last is error
    assert (tries.count, tries.refused, tries.stopped) == (1, None, False)
    assert budget.tokens == 10.0


async def test_run_gives_up_after_max_attempts_and_says_so() -> None:
    clock = FakeClock()
    errors = flaky(5)
    op = Script(*errors)
    tries = Attempts()
    retrier = Retrier(Backoff(max_attempts=3), sleep=clock.sleep, rng=TopRng())
    with pytest.raises(RetryableError) as info:
        await retrier.run(op, tries, budget=RetryBudget())
    assert info.value is errors[2] is tries.last
    assert op.calls == tries.count == 3
    assert len(clock.sleeps) == 2
    assert tries.refused == "gave up after 3 attempts: e2"
    assert not tries.stopped


async def test_run_budget_refusal_records_the_reason_and_does_not_wait(
    info_logs: list[EventDict],
) -> None:
    clock = FakeClock()
    op = Script(*flaky(5))
    tries = Attempts()
    budget = RetryBudget(capacity=7.0, retry_cost=5.0)
    retrier = Retrier(Backoff(base=1.0, cap=10.0), sleep=clock.sleep, rng=TopRng())
    with pytest.raises(RetryableError):
        await retrier.run(op, tries, budget=budget)
    assert op.calls == 2  # the first retry paid 5; the second could not pay
    assert clock.sleeps == [1.0]
    assert tries.paid == 5.0
    assert budget.tokens == 2.0
    assert tries.refused == "retry budget exhausted (too many failures run-wide): e1"
    exhausted = [e for e in info_logs if e["event"] == "retry_budget_exhausted"]
    assert [e["attempt"] for e in exhausted] == [2]


async def test_run_refunds_what_the_retries_paid_on_success() -> None:
    clock = FakeClock()
    op = Script(RetryableError("timed out", status=None), *flaky(1))
    tries = Attempts()
    budget = RetryBudget(capacity=100.0, retry_cost=5.0, timeout_cost=10.0, tokens=50.0)
    retrier = Retrier(Backoff(), sleep=clock.sleep, rng=TopRng())
    assert await retrier.run(op, tries, budget=budget) == "ok"
    assert tries.paid == 15.0
    assert budget.tokens == 50.0


async def test_run_first_attempt_success_adds_a_token() -> None:
    budget = RetryBudget(capacity=100.0, tokens=50.0)
    await Retrier(Backoff()).run(Script(), Attempts(), budget=budget)
    assert budget.tokens == 51.0


async def test_run_stop_during_the_wait_ends_it_with_no_further_attempt() -> None:
    stopped = False
    sleeps: list[float] = []

    async def sleep_then_stop(seconds: float) -> None:
        nonlocal stopped
        sleeps.append(seconds)
        stopped = True

    errors = flaky(3)
    op = Script(*errors)
    tries = Attempts()
    retrier = Retrier(Backoff(base=1.0, cap=10.0), sleep=sleep_then_stop, rng=TopRng())
    with pytest.raises(RetryableError) as info:
        await retrier.run(op, tries, stopping=lambda: stopped)
    assert op.calls == 1
    assert sleeps == [1.0]
    assert info.value is errors[0] is tries.last
    assert tries.stopped
    assert tries.refused is None


async def test_run_while_stopping_neither_waits_nor_pays() -> None:
    clock = FakeClock()
    op = Script(*flaky(3))
    tries = Attempts()
    budget = RetryBudget(capacity=10.0)
    retrier = Retrier(Backoff(), sleep=clock.sleep, rng=TopRng())
    with pytest.raises(RetryableError):
        await retrier.run(op, tries, stopping=lambda: True, budget=budget)
    assert op.calls == 1
    assert clock.sleeps == []
    assert budget.tokens == 10.0
    assert tries.stopped
    assert tries.refused is None
