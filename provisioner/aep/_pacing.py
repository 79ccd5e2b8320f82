"""The run's shared pace: the rate controller every request waits on (a probing start, then
cut and probe around the server's limit, a ``Retry-After`` pausing every worker). Clock and sleep
are injected; nothing here touches the network. What happens after a failed request (backoff,
the retry budget, the retry loop) is in ``_retry``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

__all__ = [
    "START_RATE",
    "Clock",
    "Pacer",
    "RateController",
    "Sleep",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_MIN_RATE: Final = 0.5  # requests/s; the controller never goes below this
_SLACK: Final = 0.001  # seconds: a start this close to its slot goes now (the rate still holds)
# the slow start
START_RATE: Final = 20.0  # requests/s before any answer has come back
_SS_GAIN: Final = 2.8  # growth per success, over the round trip: about doubling each round trip
_START_DOUBLING: Final = 0.1  # seconds: the round trip assumed until one is measured
_RTT_FLOOR: Final = 0.01  # seconds: the shortest round trip the growth counts with
_RTT_WEIGHT: Final = 0.2  # weight of a new round trip in the moving average
_IN_USE: Final = 4.0  # the rate grows only while under 4x the successes of the last ...
_IN_USE_WINDOW: Final = 0.05  # ... 50 ms, or two round trips if longer (the rate must be in use)
# cuts
_START_CUT: Final = 0.5  # the first throttle ends the slow start: the bucket hid the overshoot
_CUT: Final = 0.6  # later throttles: the rate they found was above the limit
_EST_THROTTLED: Final = 3  # a storm: this many throttled answers since the last cut ...
_EST_ANSWERS: Final = 8  # ... and this many answers since it (or _EST_SPAN seconds) ...
_EST_SPAN: Final = 1.0
_STORM_SHARE: Final = 0.25  # ... and at least a quarter of those answers throttled ...
_EST_CUT: Final = 0.9  # ... cut to at most 0.9 of what got through since that cut ...
_DEEPEST_CUT: Final = 0.25  # ... keeping at least a quarter of the rate
_TROUBLE_CUT: Final = 0.9  # a 503 that is no storm cuts the rate to 0.9, and only ...
_TROUBLE_GAP: Final = 1.0  # ... this many seconds after the last cut (503s may be random)
# probes
_PROBE_BASE: Final = 0.05  # after a cut the rate grows 5%/s at first ...
_PROBE_JERK: Final = 0.4  # ... then 40%/s faster each second without a throttle ...
_PROBE_MAX: Final = 0.7  # ... up to doubling each second (a limit that rose 4-6x)
_ADDITIVE: Final = 3.0  # requests/s per second on top: equal shares for processes sharing a limit
# past the limit that was found: a rate 1.3x the one the last cut came at, with no new
# throttle, means the limit rose (the credential's other job let go, the server recovered) ...
_BEYOND: Final = 1.3
_BEYOND_HEAD: Final = 2.0  # ... so it probes as after 2 s more without a throttle ...
_BEYOND_MAX: Final = 2.0  # ... growing up to 200%/s, compounding (about 7x in a second)


class Pacer(Protocol):
    """The run's shared pace: every request waits for a slot and reports how it went."""

    @property
    def rate(self) -> float: ...

    async def acquire(self) -> float: ...

    def on_success(self, started: float | None = None) -> None: ...

    def on_throttle(
        self, retry_after: float | None, started: float | None = None, *, status: int = 429
    ) -> bool: ...


class RateController:
    """The one pace for every request of the run: a probing start, then cut and probe.

    Each request ``await acquire()`` before it starts; starts are spaced ``1/rate`` apart.
    It is built for a limit that moves (a credential shared with other jobs, a server that
    sheds load) and for a server that sends no ``Retry-After``: a 429 is the only signal.

    - **Slow start.** The run starts at ``START_RATE`` (or ``max_rate`` if lower) and
      doubles the rate about once per round trip of its successes until the first throttled
      answer (429/503). The server's bucket was full at the start and hid the overshoot, so
      that first cut halves the rate.
    - **Cuts.** Later, a throttle cuts the rate to 0.6 of itself; in a storm (three or more
      throttled answers since the last cut, and a quarter of all answers since it) to at
      most 0.9 of what got through since the
      last cut (the server's bucket has been dry since then, so that is its limit), keeping
      at least a quarter. One cut per "window": only a request started after the last cut
      can cut again, so answers to requests already in flight do not pile up cuts. A 503
      that is no storm may be random trouble rather than a limit: it cuts to 0.9, at most
      once a second.
    - **Probes.** After a cut the rate grows 5%/s, then 40%/s faster each second without a
      throttle, at most doubling each second, plus 3 requests/s per second (the additive
      part evens out processes that share one limit): it stays near a limit that holds.
    - **Past the limit found.** Once the rate is 1.3x the rate the last cut came at and
      still no throttle comes, the limit has risen: the probe goes on as if 2 s more had
      passed without one, at up to 200%/s (compounding), so a limit that rose 4-6x is
      found within a second or two. A limit that holds throttles the probe before that level.
    - The rate never exceeds ``max_rate`` and grows only while it is in use: while under
      4x the successes of the last 50 ms (or two round trips, if longer).
    - A ``Retry-After`` pauses every worker, not only the one that got it.
    """

    def __init__(
        self,
        max_rate: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_rate = max_rate
        self.rate = min(max_rate, START_RATE)
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._queued = 0  # callers waiting for a slot (holding or queued on the lock)
        self._first_start = float("inf")
        self._last_start = float("-inf")
        self._paused_until = float("-inf")
        self._last_decrease: float | None = None  # None: still in the slow start
        self._recent: deque[float] = deque()  # the in-use window's
        self._since_cut = 0  # successes since the last cut
        self._throttled_since_cut = 0  # throttled answers since the last cut
        self._cut_at: float | None = None  # the rate the last cutting throttle came at
        self._beyond_since: float | None = None  # when the rate passed _BEYOND x _cut_at
        self._rtt: float | None = None  # moving average of the round trip (of successes)
        self.throttles = 0

    async def acquire(self) -> float:
        """Wait for this request's start slot; returns the start time (for ``on_throttle``).
        Waiters queue on a lock, in order; with none queued a due slot is taken at once."""
        if not self._queued:
            now = self._clock()
            if not self.reserve(now):
                return now
        self._queued += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock()
                    wait = self.reserve(now)
                    if not wait:
                        return now
                    await self._sleep(wait)
        finally:
            self._queued -= 1

    def reserve(self, now: float) -> float:
        """Seconds until the next start slot, or 0.0 when it is due (and now taken)."""
        start = max(self._last_start + 1.0 / self.rate, self._paused_until)
        if start > now + _SLACK:  # a wait this short costs more than it spaces
            return start - now
        self._first_start = min(self._first_start, now)
        self._last_start = max(start, now)  # early starts borrow from the schedule
        return 0.0

    def _growth(self, now: float) -> float:
        """Requests/s to add for one success."""
        if self._last_decrease is None:  # doubling once per round trip
            rtt = _START_DOUBLING if self._rtt is None else self._rtt
            return _SS_GAIN / max(rtt, _RTT_FLOOR)
        since, most = now - self._last_decrease, _PROBE_MAX
        if self._cut_at is not None and self.rate > _BEYOND * self._cut_at:
            if self._beyond_since is None:
                self._beyond_since = now
            since = max(since, _BEYOND_HEAD + now - self._beyond_since)
            most = _BEYOND_MAX
        return min(most, _PROBE_BASE + _PROBE_JERK * since) + _ADDITIVE / self.rate

    def on_success(self, started: float | None = None) -> None:
        """A success to a request started at ``started`` (the round trip sets the slow start)."""
        now = self._clock()
        if started is not None:
            rtt = now - started
            self._rtt = rtt if self._rtt is None else self._rtt + _RTT_WEIGHT * (rtt - self._rtt)
        self._since_cut += 1
        window = max(_IN_USE_WINDOW, 2 * (self._rtt or 0.0))
        recent = self._recent
        recent.append(now)
        while recent[0] < now - window:
            recent.popleft()
        in_use = max(START_RATE, _IN_USE * len(recent) / window)
        if self.rate < in_use:
            self.rate = min(self.max_rate, in_use, self.rate + self._growth(now))

    def _storm(self, since_cut: float) -> bool:
        """Many throttled answers since the last cut: the limit dropped below the rate."""
        throttled = self._throttled_since_cut
        answers = self._since_cut + throttled
        return (
            throttled >= _EST_THROTTLED
            and throttled >= _STORM_SHARE * answers
            and (since_cut >= _EST_SPAN or answers >= _EST_ANSWERS)
        )

    def on_throttle(
        self, retry_after: float | None, started: float | None = None, *, status: int = 429
    ) -> bool:
        """Slow down after a 429/503 to a request started at ``started``; True if lowered."""
        now = self._clock()
        self.throttles += 1
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        last = self._last_decrease
        self._throttled_since_cut += 1
        if started is not None and last is not None and started <= last:
            return False  # sent before the last cut: already accounted for
        if last is not None and self._storm(now - last):
            # the bucket has been dry since the last cut: it let through about its limit
            got_through = self._since_cut / (now - last) if now > last else self.rate
            rate = min(self.rate * _CUT, max(_EST_CUT * got_through, _DEEPEST_CUT * self.rate))
        elif status != 429:  # a 503 that is no storm: trouble more than a limit
            if last is not None and now - last < _TROUBLE_GAP:
                return False
            rate = self.rate * _TROUBLE_CUT
        else:
            rate = self.rate * (_START_CUT if last is None else _CUT)
        self._cut_at, self._beyond_since = self.rate, None
        self.rate = max(_MIN_RATE, rate)
        self._since_cut = self._throttled_since_cut = 0
        self._last_decrease = now
        return True
