"""The emulator's live state: issued tokens, request counters, the store and the fault dice.

One ``EmulatorState`` per application, reachable as ``app[EMULATOR_STATE]``; tests use it to
revoke tokens, mark connections in use and read the counters.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from provisioner.emulator._faults import FaultDice, FaultPlan, RateLimiter, RequestKind
from provisioner.emulator._lag import ListingLag
from provisioner.emulator._store import ConnectionRecord, Store

__all__ = [
    "EMULATOR_STATE",
    "EmulatorState",
    "EmulatorStats",
    "IssuedToken",
    "TokenRegistry",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    """What a bearer token stands for."""

    client_id: str
    expires_at: float  # on the emulator's clock


class TokenRegistry:
    """Tokens issued by the IMS endpoint, each bound to a client id, expiring on the clock."""

    def __init__(self, *, ttl: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, client_id: str) -> str:
        """A new opaque token for ``client_id``, valid for ``ttl`` seconds from now."""
        now = self._clock()
        self._tokens = {k: v for k, v in self._tokens.items() if v.expires_at > now}
        token = "emu-" + secrets.token_urlsafe(32)
        self._tokens[token] = IssuedToken(client_id=client_id, expires_at=now + self._ttl)
        return token

    def lookup(self, token: str) -> IssuedToken | None:
        """The token's binding, or None when unknown, revoked or expired."""
        issued = self._tokens.get(token)
        if issued is None or issued.expires_at <= self._clock():
            return None
        return issued

    def revoke_all(self) -> int:
        """Forget every token; return how many were live or not yet purged."""
        count = len(self._tokens)
        self._tokens.clear()
        return count


@dataclass(slots=True)
class EmulatorStats:
    """Counters for tests and benchmarks.

    Attributes:
        requests: requests received, by kind (counted on arrival, whatever the answer).
        statuses: responses by HTTP status (dropped responses are not counted here).
        responses: responses by (kind, status).
        tokens_issued: IMS tokens issued.
        injected_errors: 500/503 answers drawn by ``error_rate``.
        resets: creates committed and then answered by dropping the connection.
    """

    requests: Counter[RequestKind] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    responses: Counter[tuple[RequestKind, int]] = field(default_factory=Counter)
    tokens_issued: int = 0
    injected_errors: int = 0
    resets: int = 0

    @property
    def throttled(self) -> int:
        """How many requests were answered 429."""
        return self.statuses[429]

    @property
    def total(self) -> int:
        """How many requests of any known kind were received."""
        return sum(self.requests.values())

    def record(self, kind: RequestKind | None, status: int) -> None:
        """Count one response."""
        self.statuses[status] += 1
        if kind is not None:
            self.responses[kind, status] += 1

    def clear(self) -> None:
        """Zero every counter (e.g. between the phases of a test)."""
        self.requests.clear()
        self.statuses.clear()
        self.responses.clear()
        self.tokens_issued = self.injected_errors = self.resets = 0


class EmulatorState:
    """Everything one emulator application holds between requests."""

    def __init__(
        self,
        *,
        plan: FaultPlan,
        store: Store,
        clock: Callable[[], float],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.store = store
        self.clock = clock  # monotonic seconds: token expiry, rate limit
        self.wall = wall  # epoch seconds: createdAt/updatedAt
        # How latency is served; tests may swap in a recording fake.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.stats = EmulatorStats()
        self.tokens = TokenRegistry(ttl=plan.token_ttl, clock=clock)
        self.dice = FaultDice(seed=plan.seed)
        self.listing = ListingLag(lag=plan.list_lag, store=store, clock=clock)
        self.limiter: RateLimiter | None = None
        if plan.limited:
            self.limiter = RateLimiter(schedule=plan.schedule(), burst=plan.rate_burst, clock=clock)

    def wall_ms(self) -> int:
        """Epoch milliseconds for createdAt/updatedAt."""
        return int(self.wall() * 1000)

    def revoke_tokens(self) -> int:
        """Invalidate every token issued so far (the next Flow call gets 401013)."""
        return self.tokens.revoke_all()

    def mark_in_use(self, connection_id: str, in_use: bool = True) -> bool:
        """Pretend a flow uses the connection, so that DELETE answers FLOW-1418-400."""
        return self.store.set_in_use(connection_id, in_use)

    def connections(
        self, org: str | None = None, sandbox: str | None = None
    ) -> list[ConnectionRecord]:
        """The connections that exist now (deleted ones that listings still show left out),
        oldest first. For tests."""
        return [
            record
            for record in self.store.connections(org, sandbox)
            if not self.listing.is_gone(record.id)
        ]


EMULATOR_STATE: Final = web.AppKey("emulator_state", EmulatorState)
