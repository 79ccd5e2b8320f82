"""A discrete-event simulation of RateControllers against the emulator's token bucket.

Time is a number the simulation moves; nothing sleeps. Each simulated process has one
RateController on the simulated clock and endless work (a throttled request's entry goes back
to the queue, as the run's retry loop does); the server is the emulator's own ``RateLimiter``
with a limit schedule, all processes sharing one org's bucket. A request reaches the server
half its latency after it starts and its answer comes back the other half later.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from enum import IntEnum

from provisioner.aep import RateController
from provisioner.emulator._faults import LimitSchedule, RateLimiter

__all__ = ["SimClock", "Simulated", "mean_limit", "simulate"]


class SimClock:
    """The simulation's clock: read by the controllers and the server alike."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - the simulation never waits
        raise AssertionError("the simulation moves time itself")


class _Event(IntEnum):  # same instant: answers first, then arrivals, then starts
    ANSWER = 0
    ARRIVE = 1
    START = 2


@dataclass(slots=True)
class Simulated:
    """What each process got: times of accepted and throttled answers, and its rates."""

    accepted: list[list[float]]
    throttled: list[list[float]]
    rates: list[list[tuple[float, float]]] = field(default_factory=list)

    def goodput(self, proc: int, since: float, until: float) -> float:
        return sum(since <= t < until for t in self.accepted[proc]) / (until - since)

    def share_429(self, proc: int | None = None) -> float:
        procs = range(len(self.accepted)) if proc is None else [proc]
        bad = sum(len(self.throttled[p]) for p in procs)
        return bad / (bad + sum(len(self.accepted[p]) for p in procs))


def mean_limit(schedule: LimitSchedule, until: float) -> float:
    """The limit on offer, averaged over [0, until)."""
    total = 0.0
    for i, (at, rate) in enumerate(schedule):
        end = min(until, schedule[i + 1][0]) if i + 1 < len(schedule) else until
        total += max(0.0, end - at) * rate
    return total / until


@dataclass(slots=True)
class _Sim:
    clock: SimClock
    server: RateLimiter
    pacers: list[RateController]
    out: Simulated
    concurrency: int
    latency: float
    in_flight: list[int]
    blocked: list[bool]
    events: list[tuple[float, int, int, int, float, bool]] = field(default_factory=list)
    seq: int = 0
    error_rate: float = 0.0  # share of requests answered 503 whatever the limit
    dice: random.Random = field(default_factory=lambda: random.Random(19))
    troubled: dict[float, bool] = field(default_factory=dict)  # starts answered a random 503

    def push(
        self, at: float, kind: _Event, proc: int, started: float = 0.0, ok: bool = False
    ) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, proc, started, ok))

    def start(self, at: float, proc: int) -> None:
        if self.in_flight[proc] >= self.concurrency:
            self.blocked[proc] = True
            return
        wait = self.pacers[proc].reserve(at)
        if wait:
            self.push(at + wait, _Event.START, proc)
            return
        self.in_flight[proc] += 1
        self.push(at + self.latency / 2, _Event.ARRIVE, proc, started=at)
        self.push(at, _Event.START, proc)

    def answer(self, at: float, proc: int, started: float, ok: bool) -> None:
        pacer = self.pacers[proc]
        self.in_flight[proc] -= 1
        if ok:
            self.out.accepted[proc].append(at)
            pacer.on_success(started)
        else:
            self.out.throttled[proc].append(at)
            status = 503 if self.troubled.pop(started, False) else 429
            pacer.on_throttle(None, started, status=status)
        self.out.rates[proc].append((at, pacer.rate))
        if self.blocked[proc]:
            self.blocked[proc] = False
            self.push(at, _Event.START, proc)


def simulate(
    schedule: LimitSchedule,
    *,
    duration: float,
    processes: int = 1,
    latency: float = 0.0,
    concurrency: int = 32,
    max_rate: float = 400.0,
    offsets: tuple[float, ...] = (),
    error_rate: float = 0.0,
) -> Simulated:
    """Run ``processes`` controllers against one bucket for ``duration`` seconds; with
    ``error_rate``, that share of requests is answered 503 at random (seeded)."""
    clock = SimClock()
    sim = _Sim(
        clock=clock,
        server=RateLimiter(schedule=schedule, burst=None, clock=clock),
        pacers=[RateController(max_rate, clock=clock, sleep=clock.sleep) for _ in range(processes)],
        out=Simulated(
            accepted=[[] for _ in range(processes)],
            throttled=[[] for _ in range(processes)],
            rates=[[] for _ in range(processes)],
        ),
        concurrency=concurrency,
        latency=latency,
        in_flight=[0] * processes,
        blocked=[False] * processes,
        error_rate=error_rate,
    )
    for proc in range(processes):
        sim.push(offsets[proc] if proc < len(offsets) else 0.0, _Event.START, proc)
    while sim.events:
        at, kind, _, proc, started, ok = heapq.heappop(sim.events)
        if at >= duration:
            break
        clock.now = at
        if kind is _Event.START:
            sim.start(at, proc)
        elif kind is _Event.ARRIVE:
            ok = sim.server.acquire("org") == 0.0
            if ok and sim.dice.random() < sim.error_rate:
                ok, sim.troubled[started] = False, True
            sim.push(at + latency / 2, _Event.ANSWER, proc, started, ok)
        else:
            sim.answer(at, proc, started, ok)
    return sim.out
