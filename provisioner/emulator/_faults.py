"""Fault knobs of the emulator: the frozen FaultPlan, a per-org token bucket and seeded dice.

Everything here is pure (no aiohttp): the clock and the RNG seed are injected.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from provisioner.errors import ConfigError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_TOKEN_TTL",
    "FaultDice",
    "FaultPlan",
    "LimitSchedule",
    "RateLimiter",
    "Region",
    "RequestKind",
    "parse_limit_schedule",
]

DEFAULT_HOST: Final = "127.0.0.1"  # where the emulator listens unless told otherwise

DEFAULT_TOKEN_TTL: Final = 86399  # seconds, what IMS answers for server-to-server tokens


class Region(StrEnum):
    """Where the emulated org's Platform is hosted: it decides the Oracle auth form offered."""

    AZURE = "azure"  # specName ConnectionString
    AWS = "aws"  # specName Basic Authentication


class RequestKind(StrEnum):
    """What a request does; the unit of per-kind latency and of the request counters."""

    TOKEN = "token"
    CREATE = "create"
    LIST = "list"
    GET = "get"
    PATCH = "patch"
    DELETE = "delete"
    TEST = "test"
    EXPLORE = "explore"
    SPEC = "spec"


def _check_share(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"emulator: {name}: expected a share between 0 and 1, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"emulator: {name}: expected a number >= 0, got {value!r}")


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ConfigError(f"emulator: {name}: expected a number > 0, got {value!r}")


def _check_optional_text(name: str, value: str | None) -> None:
    if value is not None and not value:
        raise ConfigError(f"emulator: {name}: expected a non-empty string, got {value!r}")


LimitSchedule = tuple[tuple[float, float], ...]
"""(from second, requests/s) steps, the first from 0, in time order."""


def _check_schedule(schedule: LimitSchedule) -> LimitSchedule:
    steps = tuple((float(at), float(rate)) for at, rate in schedule)
    if not steps:
        return steps
    if steps[0][0] != 0.0:
        raise ConfigError(f"emulator: limit_schedule: the first step must be at 0, got {steps[0]}")
    for (at, _), (later, _) in itertools.pairwise(steps):
        if later <= at:
            raise ConfigError(
                f"emulator: limit_schedule: steps must be in time order, got {later!r} after {at!r}"
            )
    for at, rate in steps:
        _check_non_negative("limit_schedule time", at)
        _check_positive("limit_schedule rate", rate)
    return steps


def parse_limit_schedule(text: str) -> LimitSchedule:
    """``0:50,10:15,20:80`` -> ((0, 50), (10, 15), (20, 80)): requests/s from second t on.

    Raises:
        ConfigError: text that is not such a list, or steps the plan rejects.
    """
    steps: list[tuple[float, float]] = []
    for part in text.split(","):
        at, sep, rate = part.strip().partition(":")
        try:
            steps.append((float(at), float(rate)))
        except ValueError:
            raise ConfigError(
                f"emulator: limit_schedule: expected SECONDS:RATE[,SECONDS:RATE...], got {text!r}"
            ) from None
        if not sep:
            raise ConfigError(f"emulator: limit_schedule: expected SECONDS:RATE, got {part!r}")
    return _check_schedule(tuple(steps))


def _kind_latency(latency: Mapping[str, float]) -> Mapping[str, float]:
    out: dict[str, float] = {}
    for key, value in latency.items():
        try:
            kind = RequestKind(key)
        except ValueError:
            known = ", ".join(k.value for k in RequestKind)
            raise ConfigError(
                f"emulator: latency: unknown request kind {key!r} (known: {known})"
            ) from None
        _check_non_negative(f"latency[{key}]", value)
        out[kind] = float(value)
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """How the emulator misbehaves. The default plan is a well-behaved, lenient service.

    Attributes:
        latency_ms: delay added to every request (IMS included).
        latency: per-kind delay in ms (keys: RequestKind values); replaces ``latency_ms``
            for that kind.
        rate_limit: Flow requests per second allowed per org (token bucket); None = no limit.
        limit_schedule: a limit that moves instead: (from second, requests/s) steps, the
            seconds counted from the first rate-limited request; excludes ``rate_limit``.
        rate_burst: bucket size; default ``max(1, limit)`` (one second's worth of the limit
            in force, so a step down also shrinks the bucket).
        retry_after: send ``Retry-After`` on 429.
        error_rate: share of Flow requests answered 500/503 before anything is done.
        reset_rate: share of creates committed and then answered by dropping the connection.
        token_ttl: seconds an IMS token lives (``expires_in``).
        client_id, client_secret, org: when set, IMS and the gateway accept only these.
        unreachable_hosts: hosts whose ``/test`` answers false and whose explore answers an
            error (as do ``*.unreachable``).
        seed: seeds the dice for error_rate and reset_rate.
        region: azure offers (and accepts) only the connection-string auth form, aws only
            Basic Authentication.
        list_lag: seconds a new connection stays out of ``GET /connections`` listings (and a
            deleted one stays in them); reads by id are never behind.
        in_use_names: connections created under these names are used by a flow: deleting
            one answers FLOW-1418-400 (a rollback's refusal, rehearsed).
    """

    latency_ms: float = 0.0
    latency: Mapping[str, float] = field(default_factory=dict, hash=False)
    rate_limit: float | None = None
    limit_schedule: LimitSchedule = ()
    rate_burst: float | None = None
    retry_after: bool = True
    error_rate: float = 0.0
    reset_rate: float = 0.0
    token_ttl: int = DEFAULT_TOKEN_TTL
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)  # never in a log line
    org: str | None = None
    unreachable_hosts: frozenset[str] = frozenset()
    seed: int | None = None
    region: Region = Region.AZURE
    list_lag: float = 0.0
    in_use_names: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _check_non_negative("latency_ms", self.latency_ms)
        _check_non_negative("list_lag", self.list_lag)
        object.__setattr__(self, "latency", _kind_latency(self.latency))
        _check_positive("rate_limit", self.rate_limit)
        object.__setattr__(self, "limit_schedule", _check_schedule(self.limit_schedule))
        if self.rate_limit is not None and self.limit_schedule:
            raise ConfigError("emulator: rate_limit and limit_schedule exclude each other")
        _check_positive("rate_burst", self.rate_burst)
        if self.rate_burst is not None and self.rate_burst < 1:
            raise ConfigError(f"emulator: rate_burst: expected >= 1, got {self.rate_burst!r}")
        _check_share("error_rate", self.error_rate)
        _check_share("reset_rate", self.reset_rate)
        if isinstance(self.token_ttl, bool) or self.token_ttl < 1:
            raise ConfigError(f"emulator: token_ttl: expected seconds >= 1, got {self.token_ttl!r}")
        _check_optional_text("client_id", self.client_id)
        _check_optional_text("client_secret", self.client_secret)
        _check_optional_text("org", self.org)
        object.__setattr__(self, "unreachable_hosts", frozenset(self.unreachable_hosts))
        object.__setattr__(self, "in_use_names", frozenset(self.in_use_names))
        try:
            object.__setattr__(self, "region", Region(self.region))
        except ValueError:
            known = ", ".join(r.value for r in Region)
            raise ConfigError(
                f"emulator: region: expected one of {known}, got {self.region!r}"
            ) from None

    @property
    def limited(self) -> bool:
        """Whether Flow requests are rate limited at all."""
        return self.rate_limit is not None or bool(self.limit_schedule)

    def schedule(self) -> LimitSchedule:
        """The limit as steps: the schedule, or the fixed limit from 0 on (empty: no limit)."""
        if self.rate_limit is not None:
            return ((0.0, self.rate_limit),)
        return self.limit_schedule

    def delay_for(self, kind: RequestKind | None) -> float:
        """Seconds to wait before answering a request of this kind."""
        ms = self.latency.get(kind, self.latency_ms) if kind is not None else self.latency_ms
        return ms / 1000.0

    def is_unreachable(self, host: str) -> bool:
        """Whether a connection to this host cannot reach its database (``/test`` false,
        explore an error)."""
        lowered = host.lower()
        return lowered in self.unreachable_hosts or lowered.endswith(".unreachable")


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """One token bucket per key (the org), refilled at the limit in force.

    The limit follows ``schedule`` ((from second, requests/s) steps), its seconds counted from
    the limiter's first request. The bucket holds ``burst`` tokens at most, or one second's
    worth of the limit in force when ``burst`` is None; a new bucket starts full.
    """

    def __init__(
        self,
        *,
        schedule: LimitSchedule,
        burst: float | None,
        clock: Callable[[], float],
    ) -> None:
        self._steps = schedule
        self._burst = burst
        self._clock = clock
        self._origin: float | None = None
        self._buckets: dict[str, _Bucket] = {}

    def limit_at(self, elapsed: float) -> float:
        """The limit in force ``elapsed`` seconds after the first request."""
        rate = self._steps[0][1]
        for at, step in self._steps:
            if at > elapsed:
                break
            rate = step
        return rate

    def _capacity(self, elapsed: float) -> float:
        return self._burst if self._burst is not None else max(1.0, self.limit_at(elapsed))

    def _refill(self, since: float, until: float) -> float:
        """Tokens the limit adds between two elapsed times (across steps)."""
        total = 0.0
        for i, (at, rate) in enumerate(self._steps):
            end = self._steps[i + 1][0] if i + 1 < len(self._steps) else float("inf")
            lo, hi = max(since, at), min(until, end)
            if hi > lo:
                total += (hi - lo) * rate
        return total

    def acquire(self, key: str) -> float:
        """Take a token; return 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        if self._origin is None:
            self._origin = now
        elapsed = now - self._origin
        capacity = self._capacity(elapsed)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=capacity, stamp=elapsed)
        since = min(bucket.stamp, elapsed)
        bucket.tokens = min(capacity, bucket.tokens + self._refill(since, elapsed))
        bucket.stamp = elapsed
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.limit_at(elapsed)


class FaultDice:
    """Seeded decisions for injected faults; a zero rate never consumes randomness."""

    def __init__(self, *, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def server_error(self, rate: float) -> int | None:
        """500 or 503 with probability ``rate``, else None."""
        if rate <= 0.0 or self._rng.random() >= rate:
            return None
        return self._rng.choice((500, 503))

    def reset(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return rate > 0.0 and self._rng.random() < rate
