"""aep._pacing.RateController: start slots, the slow start, cuts and probes; and the whole
controller against a simulated server whose limit moves (tests/unit/aep/pacing_sim.py)."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.aep import RateController
from provisioner.aep._pacing import START_RATE
from provisioner.emulator._faults import LimitSchedule
from tests.helpers import FakeClock
from tests.unit.aep.pacing_sim import mean_limit, simulate


def paced(rate: float, clock: FakeClock, *, max_rate: float | None = None) -> RateController:
    pace = RateController(max_rate or rate, clock=clock, sleep=clock.sleep)
    pace.rate = rate
    return pace


# --- start slots ------------------------------------------------------------------------------


async def test_first_start_is_immediate() -> None:
    clock = FakeClock()
    await paced(4.0, clock).acquire()
    assert clock.sleeps == []


async def test_starts_are_spaced_one_over_rate_apart() -> None:
    clock = FakeClock()
    pace = paced(4.0, clock)
    for _ in range(4):
        await pace.acquire()
    assert clock.sleeps == [0.25, 0.25, 0.25]
    assert clock.now == 0.75


async def test_concurrent_acquirers_are_spaced_too() -> None:
    clock = FakeClock()
    pace = paced(4.0, clock)
    started: list[float] = []

    async def start() -> None:
        await pace.acquire()
        started.append(clock.now)

    await asyncio.gather(*(start() for _ in range(5)))
    assert started == [0.0, 0.25, 0.5, 0.75, 1.0]


async def test_a_newcomer_queues_behind_callers_already_waiting_for_a_slot() -> None:
    """A caller that finds a slot due takes it at once, unless others wait: then it queues."""
    clock = FakeClock()
    released = asyncio.Event()

    async def sleep(seconds: float) -> None:  # suspends until released, then time moves on
        await released.wait()
        clock.now += seconds

    pace = RateController(4.0, clock=clock, sleep=sleep)
    order: list[str] = []

    async def start(tag: str) -> None:
        await pace.acquire()
        order.append(tag)

    await pace.acquire()  # the slot at 0.0; the next is due at 0.25
    waiting = [asyncio.create_task(start(tag)) for tag in ("first", "second")]
    await asyncio.sleep(0)
    clock.now = 0.3  # a slot is due when the newcomer arrives, but two callers wait for it
    waiting.append(asyncio.create_task(start("newcomer")))
    await asyncio.sleep(0)
    assert order == []
    released.set()
    await asyncio.gather(*waiting)
    assert order == ["first", "second", "newcomer"]


async def test_no_wait_when_requests_are_already_spread_out() -> None:
    clock = FakeClock()
    pace = paced(4.0, clock)
    await pace.acquire()
    clock.now += 10.0
    await pace.acquire()
    assert clock.sleeps == []


async def test_retry_after_pauses_every_worker_until_it_passes() -> None:
    clock = FakeClock(start=100.0)
    pace = paced(1000.0, clock)
    pace.on_throttle(5.0)
    started: list[float] = []

    async def start() -> None:
        await pace.acquire()
        started.append(clock.now)

    await asyncio.gather(*(start() for _ in range(3)))
    assert min(started) >= 105.0
    assert sum(clock.sleeps) == pytest.approx(max(started) - 100.0)


async def test_shorter_retry_after_does_not_shorten_an_existing_pause() -> None:
    clock = FakeClock()
    pace = paced(1000.0, clock)
    pace.on_throttle(5.0)
    pace.on_throttle(1.0)
    await pace.acquire()
    assert clock.now >= 5.0


async def test_acquire_returns_the_start_time_of_the_request() -> None:
    clock = FakeClock(start=50.0)
    pace = paced(4.0, clock)
    assert await pace.acquire() == 50.0
    assert await pace.acquire() == 50.25


async def test_starts_within_a_millisecond_of_their_slot_do_not_sleep_but_the_rate_holds() -> None:
    clock = FakeClock()
    pace = paced(10_000.0, clock)
    for _ in range(10):  # a burst at one instant: slots 0.1 ms apart, all within the slack
        await pace.acquire()
    assert clock.sleeps == []
    for _ in range(1000):
        await pace.acquire()
    # 1,010 starts at 10,000/s: the last slot is at 0.1009 s; the slack lends at most 1 ms
    assert 0.1009 - 0.001 - 1e-9 <= clock.now <= 0.1009 + 1e-9


# --- the slow start ---------------------------------------------------------------------------


def test_a_run_starts_at_the_start_rate_or_below_it() -> None:
    clock = FakeClock()
    assert RateController(400.0, clock=clock).rate == START_RATE
    assert RateController(4.0, clock=clock).rate == 4.0


def test_slow_start_doubles_the_rate_about_once_per_round_trip() -> None:
    clock = FakeClock()
    pace = RateController(10_000.0, clock=clock)
    rate = pace.rate
    for _ in range(int(rate * 0.05)):  # one round trip (50 ms) worth of answers
        started = clock.now
        clock.now += 0.05
        pace.on_success(started)
        clock.now = started
    assert 1.8 * rate <= pace.rate <= 3.0 * rate


def test_slow_start_never_passes_max_rate() -> None:
    clock = FakeClock()
    pace = RateController(30.0, clock=clock)
    for _ in range(100):
        pace.on_success(clock.now)
    assert pace.rate == 30.0


def test_rate_stays_within_twice_the_last_seconds_successes() -> None:
    """A run bound by its concurrency, not by the pace, does not run the rate up to the sky
    (it would take many throttles to come down from there when a limit appears)."""
    clock = FakeClock()
    pace = RateController(100_000.0, clock=clock)
    clock.now = 0.0
    pace.reserve(0.0)
    for i in range(400):  # 100 answers a second for four seconds
        clock.now = i / 100
        pace.on_success(clock.now - 0.01)
    assert pace.rate <= 4 * 100 * 1.25  # 4x the last 50 ms (5-6 answers) of successes


# --- cuts -------------------------------------------------------------------------------------


def test_the_first_throttle_ends_the_slow_start_by_halving_the_rate() -> None:
    clock = FakeClock()
    pace = paced(400.0, clock)
    assert pace.on_throttle(None, 0.0) is True
    assert pace.rate == 200.0
    assert pace.throttles == 1


def test_a_lone_throttle_cuts_the_rate_to_six_tenths() -> None:
    """One throttle after a quiet spell: a probe ran into the limit (no storm measure)."""
    clock = FakeClock()
    pace = paced(100.0, clock)
    pace.on_throttle(None)
    clock.now = 0.5
    assert pace.on_throttle(None, 0.4) is True
    assert pace.rate == pytest.approx(30.0)


def test_a_cut_in_a_storm_goes_no_higher_than_nine_tenths_of_what_got_through() -> None:
    clock = FakeClock()
    pace = paced(100.0, clock)
    pace.on_throttle(None)  # rate 50
    pace.rate = 40.0
    for i in range(40):  # 40 successes in 2 s: the server let through 20/s
        clock.now = i * 0.05
        pace.on_success()
    clock.now = 2.0
    for _ in range(14):  # a storm: throttled answers (to requests sent before the cut) ...
        pace.on_throttle(None, 0.0)
    before = pace.rate
    pace.on_throttle(None, 1.9)  # ... and this one (15 of 55 answers throttled) cuts
    assert 0.25 * before < 0.9 * 20 < 0.6 * before
    assert pace.rate == pytest.approx(0.9 * 20)


def test_answers_to_requests_sent_before_a_cut_do_not_cut_again() -> None:
    clock = FakeClock()
    pace = paced(16.0, clock)
    in_flight = [0.0, 0.0625, 0.125]
    clock.now = 0.5
    assert pace.on_throttle(None, in_flight[0]) is True
    assert pace.on_throttle(None, in_flight[1]) is False
    assert pace.on_throttle(None, in_flight[2]) is False
    assert pace.rate == 8.0
    assert pace.throttles == 3


def test_throttle_without_a_start_time_always_cuts() -> None:
    clock = FakeClock()
    pace = paced(16.0, clock)
    assert pace.on_throttle(None) is True
    assert pace.on_throttle(None) is True
    assert pace.rate == pytest.approx(16.0 * 0.5 * 0.6)


def test_a_503_that_is_no_storm_cuts_gently_and_at_most_once_a_second() -> None:
    """503s may be random trouble rather than a limit: a lone one cuts to 0.9, not 0.6."""
    clock = FakeClock()
    pace = paced(100.0, clock)
    pace.on_throttle(None, 0.0)  # a 429 ends the slow start: 50/s
    clock.now = 2.0
    assert pace.on_throttle(None, 1.9, status=503) is True
    assert pace.rate == pytest.approx(45.0)
    clock.now = 2.5
    assert pace.on_throttle(None, 2.4, status=503) is False
    clock.now = 3.1
    assert pace.on_throttle(None, 3.0, status=503) is True
    assert pace.rate == pytest.approx(40.5)


def test_random_503s_do_not_bring_the_rate_down() -> None:
    """One request in ten answered 503 at random, no limit: the rate stays in the hundreds."""
    sim = simulate(((0.0, 1e9),), duration=20.0, error_rate=0.1, concurrency=16, max_rate=1e5)
    assert sim.goodput(0, 10.0, 20.0) >= 200


def test_rate_never_drops_below_the_floor() -> None:
    clock = FakeClock()
    pace = paced(10.0, clock)
    for _ in range(100):
        pace.on_throttle(None)
        clock.now += 0.5
    assert pace.rate == 0.5


# --- probing after a cut ----------------------------------------------------------------------


def growth_over(pace: RateController, clock: FakeClock, seconds: float) -> float:
    """The rate after ``seconds`` of successes at the pace's own rate, over the rate before."""
    before = pace.rate
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1.0 / pace.rate
        pace.on_success()
    return pace.rate / before


def test_after_a_cut_the_rate_grows_slowly_then_faster_and_faster() -> None:
    clock = FakeClock()
    pace = paced(10_000.0, clock)
    pace.on_throttle(None)
    pace.rate = 50.0
    first = growth_over(pace, clock, 1.0)
    second = growth_over(pace, clock, 1.0)
    fourth = (growth_over(pace, clock, 1.0), growth_over(pace, clock, 1.0))[1]
    assert 1.0 < first < 1.4  # just above a limit that holds
    assert first < second < fourth
    assert fourth > 1.8  # about doubling each second: a limit that rose is found in seconds


def test_successes_never_raise_the_rate_above_max() -> None:
    clock = FakeClock()
    pace = paced(10.0, clock)
    pace.on_throttle(None)
    for _ in range(200):
        clock.now += 0.1
        pace.on_success()
    assert pace.rate == 10.0


async def test_lowered_rate_widens_the_spacing_between_starts() -> None:
    clock = FakeClock()
    pace = paced(10.0, clock)
    pace.on_throttle(None)
    await pace.acquire()
    await pace.acquire()
    assert clock.sleeps == [pytest.approx(0.2)]


# --- against a simulated server (no Retry-After) ----------------------------------------------

STEADY: LimitSchedule = ((0.0, 50.0),)
MOVING: dict[str, LimitSchedule] = {
    "50-15-80": ((0.0, 50.0), (10.0, 15.0), (20.0, 80.0)),
    "80-20-60": ((0.0, 80.0), (10.0, 20.0), (20.0, 60.0)),
    "30-120-40": ((0.0, 30.0), (10.0, 120.0), (20.0, 40.0)),
    "40-10-60-30": ((0.0, 40.0), (7.0, 10.0), (14.0, 60.0), (21.0, 30.0)),
    "25-125": ((0.0, 25.0), (15.0, 125.0)),
}


@pytest.mark.parametrize(("latency", "most_429"), [(0.0, 0.03), (0.03, 0.05)])
def test_a_steady_limit_is_met_with_few_429s(latency: float, most_429: float) -> None:
    """The goal is stated without latency; with 30 ms round trips, the requests in flight
    when a probe finds the limit are throttled too (about rate x round trip of them)."""
    sim = simulate(STEADY, duration=30.0, latency=latency)
    assert 0.95 <= sim.goodput(0, 0.0, 30.0) / 50.0 <= 1.05
    assert sim.share_429() <= most_429


@pytest.mark.parametrize("name", sorted(MOVING))
def test_a_moving_limit_is_tracked_with_few_429s(name: str) -> None:
    schedule = MOVING[name]
    sim = simulate(schedule, duration=30.0)
    assert sim.goodput(0, 0.0, 30.0) >= 0.95 * mean_limit(schedule, 30.0)
    assert sim.share_429() <= 0.03


@pytest.mark.parametrize("latency", [0.0, 0.002, 0.005])
@pytest.mark.parametrize("name", sorted(MOVING))
def test_a_moving_limit_is_met_as_the_bench_counts_it(name: str, latency: float) -> None:
    """The bench's measure: successes less the first second's full bucket, over what the
    limit allowed; at a few round trips, as the phase of the probes against the steps moves."""
    schedule = MOVING[name]
    sim = simulate(schedule, duration=30.0, latency=latency)
    got = sim.goodput(0, 0.0, 30.0) * 30.0 - schedule[0][1]
    assert got >= 0.95 * mean_limit(schedule, 30.0) * 30.0


def test_past_the_level_of_the_last_throttle_the_probe_speeds_up() -> None:
    """No throttle at 1.3x the rate the last one came at: the limit rose, so the probe goes
    faster there than just below that level, at the same time since the cut."""
    grown = []
    for rate in (120.0, 140.0):  # the last throttle came at 100: under and over 1.3x that
        clock = FakeClock()
        pace = paced(100.0, clock, max_rate=10_000.0)
        pace.on_throttle(None)
        pace.rate = rate
        grown.append(growth_over(pace, clock, 0.5))
    below, beyond = grown
    assert below < 1.2  # half a second after a cut: some percent
    assert beyond > 1.4  # past the limit found: as after a long calm


def test_a_cut_past_the_limit_found_makes_the_probe_slow_again() -> None:
    """The new limit is found (a throttle at the boosted rate): from there on the probe is
    slow again, and the next boost needs 1.3x the rate of that throttle."""
    clock = FakeClock()
    pace = paced(100.0, clock, max_rate=10_000.0)
    pace.on_throttle(None)  # the limit was found at 100
    pace.rate = 140.0
    assert growth_over(pace, clock, 0.5) > 1.4  # past it: the limit rose
    clock.now += 1.0
    pace.on_throttle(None)  # found again, higher: the rate is cut to 0.6 of itself
    found = pace.rate / 0.6
    pace.rate = 1.2 * found  # above the old level, below 1.3x the new one
    assert growth_over(pace, clock, 0.5) < 1.2


def test_a_limit_that_rises_five_times_is_reached_within_seconds_without_running_away() -> None:
    schedule = MOVING["50-15-80"]
    sim = simulate(schedule, duration=30.0)
    rates = sim.rates[0]
    assert max(rate for at, rate in rates if 12.0 <= at < 20.0) < 2 * 15
    assert sim.goodput(0, 21.0, 25.0) >= 0.8 * 80  # the climb takes a second or two ...
    assert sim.goodput(0, 25.0, 30.0) <= 1.05 * 80  # ... and settles on the new limit
    assert sum(22.0 <= at < 30.0 for at in sim.throttled[0]) <= 0.03 * 8 * 80


@pytest.mark.parametrize("offset", [0.0, 1.0])
@pytest.mark.parametrize("schedule", [STEADY, MOVING["50-15-80"]])
def test_two_processes_share_one_limit(schedule: LimitSchedule, offset: float) -> None:
    sim = simulate(schedule, duration=30.0, processes=2, offsets=(0.0, offset))
    limit = mean_limit(schedule, 30.0)
    shares = [sim.goodput(proc, 0.0, 30.0) / limit for proc in (0, 1)]
    assert sum(shares) >= 0.9
    assert min(shares) >= 0.35
    assert sim.share_429() <= 0.05


def test_the_start_probes_and_settles_within_a_second() -> None:
    """The server's full bucket hides the slow start's overshoot; once it runs dry, a few cuts
    (each to what got through since the one before) bring the rate down to the limit."""
    sim = simulate(((0.0, 40.0),), duration=5.0, max_rate=400.0)
    assert len([at for at in sim.throttled[0] if at < 1.0]) <= 8
    assert not [at for at in sim.throttled[0] if 1.0 <= at < 2.0]
    assert 0.85 * 40 <= sim.goodput(0, 1.0, 5.0) <= 1.05 * 40


def test_a_cut_after_many_throttled_answers_follows_what_got_through() -> None:
    clock = FakeClock()
    pace = paced(400.0, clock)
    pace.on_throttle(None, 0.0)  # the first: 200/s
    for i in range(18):  # answers to requests started before that cut
        clock.now = 0.01 + i * 0.0025
        pace.on_throttle(None, 0.0)  # started before the cut: counted, no cut
    for _ in range(4):
        pace.on_success()
    clock.now = 0.05
    assert pace.on_throttle(None, 0.04) is True
    assert pace.rate == pytest.approx(0.9 * 4 / 0.05)  # 4 in 50 ms: the server takes 80/s
