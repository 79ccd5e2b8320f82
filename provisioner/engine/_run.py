"""The run skeleton, written once: lock, state, rate controller, client, authentication,
pool, per-entry records, report, graceful stop. ``apply``, ``plan`` and ``rollback`` (and
any later command) plug in as a :class:`Strategy`.

The skeleton's order::

    bind run_id -> [run_lock] -> [open_state] -> strategy.prepare -> observer.start
      -> FlowClient -> authenticate -> strategy.act (list, decide, run.send(jobs))
      -> observer.close -> strategy.outcome
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

import structlog
from structlog.contextvars import bound_contextvars

from provisioner.aep import ClientConfig, FlowClient, RateController, RetryBudget, Sleep
from provisioner.engine._domain import EntryKey, Job
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._pool import Pool, PoolConfig, Provisioner
from provisioner.engine._state import State, open_state, run_lock
from provisioner.errors import EntryError, LockedError
from provisioner.reports import Outcome, Report, Result
from provisioner.settings import Settings

__all__ = [
    "ReadOnly",
    "Run",
    "StateUse",
    "Strategy",
    "new_run_id",
    "pool_config",
    "skipped",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")


class StateUse(StrEnum):
    """How a strategy uses the state file."""

    NONE = "none"  # never opened (a command that needs no manifest)
    READ = "read"  # opened without the run lock (``plan``)
    WRITE = "write"  # under the run lock, kept up to date per entry (``apply``, ``rollback``)


class Strategy(Protocol[T]):
    """What one command does inside the skeleton. ``T`` is what its run returns."""

    @property
    def state_use(self) -> StateUse: ...

    @property
    def log_context(self) -> Mapping[str, str]:
        """Extra fields bound to every log event of the run (besides ``run_id``)."""

    def prepare(self, run: Run[T]) -> Sequence[Job]:
        """Before any request (the state is open, if used): every entry the run reports on,
        in report order. Its length is the total the observer is told."""

    async def act(self, run: Run[T]) -> None:
        """With an authenticated client: list, decide, ``run.record`` what needs no request
        and ``await run.send(jobs, provisioner)`` the rest."""

    def unreachable(self, run: Run[T], exc: EntryError) -> None:
        """Authentication failed, so nothing was sent: record it per entry, or re-raise."""

    def remember(self, run: Run[T], result: Result) -> None:
        """An entry ended: keep the state up to date (``run.state``)."""

    def outcome(self, run: Run[T]) -> T:
        """After the lock and the client are released: what the run returns."""


class ReadOnly:
    """Defaults for a strategy that sends no write (``plan``; ``explore``, which may set
    ``state_use = StateUse.NONE``): the state is read without the lock, a failed
    authentication stops the run, and no entry ends through the pool."""

    state_use = StateUse.READ
    log_context: Mapping[str, str] = MappingProxyType({})

    def unreachable(self, run: Run[Any], exc: EntryError) -> None:
        raise exc

    def remember(self, run: Run[Any], result: Result) -> None:
        """Nothing to keep: a read-only run records no outcome in the state."""


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def pool_config(settings: Settings) -> PoolConfig:
    return PoolConfig(
        concurrency=settings.limits.concurrency,
        backoff=settings.backoff,
        entry_deadline=settings.timeouts.entry,
        grace=settings.timeouts.grace,
    )


def skipped(job: Job, why: str) -> Result:
    return Result(name=job.name, sandbox=job.sandbox, status=Outcome.SKIPPED, error=why)


class Run(Generic[T]):
    """One run of a strategy. ``stop()`` (from a signal handler) ends it gracefully: no new
    entry starts, in-flight ones finish within the grace period, the report is written."""

    def __init__(
        self,
        strategy: Strategy[T],
        settings: Settings,
        *,
        observer: RunObserver | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.strategy = strategy
        self.settings = settings
        self.run_id = new_run_id()
        self.pacer = RateController(settings.limits.rate)
        self.results: dict[EntryKey, Result] = {}
        self.entries: tuple[Job, ...] = ()
        self.interrupted = False
        self.requests: dict[str, int] = {}
        self.statuses: dict[int, int] = {}  # HTTP answers by status (the client's own counts)
        self.started_at = self.finished_at = datetime.now(UTC)
        self._observer = observer or NullObserver()
        self._sleep = sleep
        self._rng = rng
        self._pool: Pool | None = None
        self._state: State | None = None
        self._client: FlowClient | None = None
        self._log = log

    @property
    def started_sending(self) -> bool:
        """True once writes may have been sent (the pool started): a second signal then
        cancels them at once, and the report is still written."""
        return self._pool is not None

    @property
    def state(self) -> State:
        if self._state is None:
            raise RuntimeError("the state is not open (outside the run, or StateUse.NONE)")
        return self._state

    @property
    def client(self) -> FlowClient:
        if self._client is None:
            raise RuntimeError("the client is not open (outside Strategy.act)")
        return self._client

    def stop(self, *, now: bool = False) -> None:
        self.interrupted = True
        if self._pool is not None:
            self._pool.stop(now=now)

    async def execute(self) -> T:
        self.started_at = datetime.now(UTC)
        # Bound once: an event per entry then costs no logger set-up. Events go through the
        # structlog configuration in force when the run starts.
        self._log = log.bind()
        use = self.strategy.state_use
        with (
            bound_contextvars(run_id=self.run_id, **self.strategy.log_context),
            ExitStack() as stack,
        ):
            if use is StateUse.WRITE:
                await self._take_lock(stack)
            if use is not StateUse.NONE:
                self._state = stack.enter_context(open_state(self.settings))
            try:
                self.entries = tuple(self.strategy.prepare(self))
                self._observer.start(len(self.entries))
                await self._connected()
            finally:
                self._observer.close()
                self._state = None
        self.finished_at = datetime.now(UTC)
        return self.strategy.outcome(self)

    async def _take_lock(self, stack: ExitStack) -> None:
        """The run lock, taken in a worker thread: a ``--wait-lock`` wait keeps the event loop
        free, so SIGINT/SIGTERM still reach the run, and a stop ends the wait at its next try
        (LockedError: nothing was sent)."""

        def sleep(delay: float) -> None:
            if self.interrupted:
                raise LockedError("stopped while waiting for the run lock; nothing was sent")
            time.sleep(delay)

        lock = run_lock(self.settings, sleep=sleep)
        await asyncio.to_thread(lock.__enter__)
        stack.push(lock)

    async def _connected(self) -> None:
        async with FlowClient(ClientConfig.of(self.settings), pacer=self.pacer) as client:
            self._client = client
            try:
                try:
                    await client.authenticate()
                except EntryError as exc:
                    self.strategy.unreachable(self, exc)
                    return
                await self.strategy.act(self)
            finally:
                self.requests = dict(client.requests)
                self.statuses = dict(client.statuses)
                self._client = None

    async def send(self, jobs: Sequence[Job], provisioner: Provisioner) -> None:
        """Run ``jobs`` through the worker pool (writes go out from here on); each result is
        recorded as it ends. Nothing starts after a stop."""
        if self.interrupted:
            return
        self._pool = Pool(
            provisioner,
            pool_config(self.settings),
            on_result=self.record,
            budget=RetryBudget(),
            sleep=self._sleep,
            rng=self._rng,
            rate_of=lambda: self.pacer.rate,
        )
        await self._pool.run(jobs)

    def record(self, result: Result) -> None:
        """An entry ended: keep it for the report, let the strategy remember it, log it."""
        self.results[EntryKey.of(result)] = result
        self.strategy.remember(self, result)
        self._log.info(
            "entry_finished",
            entry=result.name,
            status=result.status.value,
            connection_id=result.connection_id,
            attempts=result.attempts,
            http_status=result.http_status,
            duration_ms=result.duration_ms,
            error=result.error,
            verified=result.verified,
            request_id=result.request_id,
        )
        self._observer.entry_finished(result)
        self._observer.rate_changed(self.pacer.rate)

    def report(self, manifest: str) -> Report:
        """The report of every entry in order; an entry that never ended was interrupted."""
        results = tuple(
            self.results.get(job.key) or skipped(job, "interrupted") for job in self.entries
        )
        return Report(
            run_id=self.run_id,
            manifest=manifest,
            started_at=self.started_at,
            finished_at=self.finished_at,
            results=results,
            http_statuses=dict(self.statuses),
        )
