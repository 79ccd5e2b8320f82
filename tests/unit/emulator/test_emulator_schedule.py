"""The emulator's moving limit (``--limit-schedule``): steps on the injected clock, the bucket
following the limit in force, one bucket per org shared by every caller of that org."""

from __future__ import annotations

import argparse

import pytest

from provisioner.emulator import FaultPlan, add_emulator_arguments, plan_from_args
from provisioner.emulator._faults import RateLimiter, parse_limit_schedule
from provisioner.errors import ConfigError
from tests.emulator_caller import FakeClock, serving

CONNECTIONS = "/connections"
SCHEDULE = ((0.0, 4.0), (10.0, 1.0), (20.0, 8.0))


def drain(limiter: RateLimiter, key: str = "org") -> int:
    """Tokens taken until the bucket refuses (the clock stands still)."""
    taken = 0
    while limiter.acquire(key) == 0.0:
        taken += 1
    return taken


def test_the_limit_follows_the_schedule_from_the_first_request() -> None:
    clock = FakeClock(start=500.0)  # the schedule counts from the first request, not from 0
    limiter = RateLimiter(schedule=SCHEDULE, burst=None, clock=clock)
    assert drain(limiter) == 4  # a new bucket starts full: one second of the limit
    clock.advance(1.0)
    assert drain(limiter) == 4
    clock.advance(10.0)  # t=11: the limit is 1/s, the bucket holds one second of it
    assert drain(limiter) == 1
    clock.advance(0.5)
    assert limiter.acquire("org") == pytest.approx(0.5)  # half a token short at 1/s
    clock.advance(9.5)  # t=21: 8/s
    assert drain(limiter) == 8
    assert [limiter.limit_at(t) for t in (0.0, 9.9, 10.0, 19.9, 20.0, 99.0)] == [
        4.0,
        4.0,
        1.0,
        1.0,
        8.0,
        8.0,
    ]


def test_refill_spans_steps_at_each_steps_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(schedule=((0.0, 10.0), (1.0, 2.0)), burst=100.0, clock=clock)
    assert limiter.acquire("org") == 0.0
    for _ in range(99):
        limiter.acquire("org")
    clock.advance(1.5)  # 0.0-1.0 at 10/s, 1.0-1.5 at 2/s: 11 tokens
    assert drain(limiter) == 11


def test_a_fixed_burst_holds_across_steps() -> None:
    clock = FakeClock()
    limiter = RateLimiter(schedule=SCHEDULE, burst=2.0, clock=clock)
    assert drain(limiter) == 2
    clock.advance(30.0)
    assert drain(limiter) == 2


async def test_the_served_limit_moves_on_the_emulators_clock() -> None:
    clock = FakeClock()
    plan = FaultPlan(limit_schedule=((0.0, 2.0), (5.0, 1.0)), retry_after=False)
    async with serving(plan, clock=clock) as (emu, caller):
        token = await caller.access_token()
        statuses = [(await caller.flow("GET", CONNECTIONS, token=token)).status for _ in range(3)]
        assert statuses == [200, 200, 429]
        clock.advance(6.0)  # t=6: 1/s, a bucket of one
        statuses = [(await caller.flow("GET", CONNECTIONS, token=token)).status for _ in range(2)]
        assert statuses == [200, 429]
        assert emu.stats.throttled == 2


def test_parse_limit_schedule() -> None:
    assert parse_limit_schedule("0:50, 10:15,20:80") == ((0.0, 50.0), (10.0, 15.0), (20.0, 80.0))
    assert parse_limit_schedule("0:2.5") == ((0.0, 2.5),)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "expected SECONDS:RATE"),
        ("10:5", "first step must be at 0"),
        ("0:5,3:1,3:2", "time order"),
        ("0:5,3:-1", "rate"),
        ("0:5,7", "expected SECONDS:RATE"),
    ],
)
def test_parse_limit_schedule_rejects(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_limit_schedule(text)


def test_a_plan_takes_a_fixed_limit_or_a_schedule_not_both() -> None:
    with pytest.raises(ConfigError, match="exclude each other"):
        FaultPlan(rate_limit=5.0, limit_schedule=((0.0, 5.0),))
    assert FaultPlan(rate_limit=5.0).schedule() == ((0.0, 5.0),)
    assert FaultPlan().schedule() == ()
    assert not FaultPlan().limited


def test_limit_schedule_option() -> None:
    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    plan = plan_from_args(parser.parse_args(["--limit-schedule", "0:50,10:15,20:80"]))
    assert plan.limit_schedule == ((0.0, 50.0), (10.0, 15.0), (20.0, 80.0))
    assert plan.limited
    assert plan.rate_limit is None
