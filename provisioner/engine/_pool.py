"""Worker pool: N workers drain a queue under one TaskGroup; retries with backoff; per-entry
deadline; graceful stop. Expected per-entry failures become Results; bugs propagate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

import structlog
from structlog.contextvars import bind_contextvars

from provisioner.aep import Attempts, Retrier, RetryBudget, Sleep
from provisioner.engine._deadline import EntryDeadline
from provisioner.engine._domain import EntryKey, Job
from provisioner.errors import PermanentError, RetryableError
from provisioner.reports import Outcome, Result
from provisioner.settings import Backoff

__all__ = ["Pool", "PoolConfig", "Provisioned", "Provisioner"]

log = structlog.get_logger(__name__)


class Provisioned(NamedTuple):
    """One attempt's success (a tuple: made once per entry, cheaply)."""

    status: Outcome
    connection_id: str | None
    http_status: int | None = None
    verified: bool | None = None
    request_id: str | None = None


class Provisioner(Protocol):
    """What the pool drives: one attempt at one job."""

    async def provision(self, job: Job, attempt: int) -> Provisioned: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolConfig:
    concurrency: int
    backoff: Backoff = field(default_factory=Backoff)
    entry_deadline: float = 600.0
    grace: float = 15.0


def _ended(job: Job, tries: Attempts, started: float, status: Outcome, error: str) -> Result:
    """A job that ended without success (failed or skipped), with its last error's details."""
    last = tries.last
    return Result(
        name=job.name,
        sandbox=job.sandbox,
        status=status,
        connection_id=job.connection_id,
        attempts=tries.count,
        http_status=last.status if last else None,
        error=error,
        error_code=last.code if last else None,
        request_id=last.request_id if last else None,
        duration_ms=_ms_since(started),
    )


def _failed(job: Job, tries: Attempts, started: float, message: str) -> Result:
    return _ended(job, tries, started, Outcome.FAILED, message)


def _skipped(job: Job, tries: Attempts, started: float) -> Result:
    return _ended(job, tries, started, Outcome.SKIPPED, "interrupted")


class Pool:
    """Runs jobs through a Provisioner with at most ``concurrency`` in flight."""

    def __init__(
        self,
        provisioner: Provisioner,
        config: PoolConfig,
        *,
        on_result: Callable[[Result], None],
        budget: RetryBudget | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        rate_of: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._provisioner = provisioner
        self._config = config
        self._on_result = on_result
        self._budget = budget or RetryBudget()
        self._retrier = Retrier(config.backoff, sleep=sleep, rng=rng, rate_of=rate_of)
        self._stopping = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._active = 0
        self._done: set[EntryKey] = set()
        self._workers: list[asyncio.Task[None]] = []

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self, *, now: bool = False) -> None:
        """Start no new entry; in-flight ones get ``grace`` seconds, then are cancelled
        (at once with ``now``). Their results are recorded either way."""
        if not self._stopping:
            log.warning("stop_requested", grace_s=0 if now else self._config.grace)
        self._stopping = True
        self._wake.set()
        if now:
            for worker in self._workers:
                worker.cancel()

    async def run(self, jobs: Sequence[Job]) -> None:
        queue = deque(jobs)  # filled once, drained by the workers: no waiting on it
        self._active = min(self._config.concurrency, len(jobs))
        if self._active:
            async with asyncio.TaskGroup() as tg:
                workers = [tg.create_task(self._worker(queue)) for _ in range(self._active)]
                self._workers = workers
                tg.create_task(self._guard(workers))
        for job in jobs:
            if job.key not in self._done:
                self._emit(_skipped(job, Attempts(), time.monotonic()))

    async def _guard(self, workers: list[asyncio.Task[None]]) -> None:
        """After a stop, give in-flight entries ``grace`` seconds, then cancel them."""
        await self._wake.wait()
        if self._idle.is_set():
            return
        try:
            async with asyncio.timeout(self._config.grace):
                await self._idle.wait()
        except TimeoutError:
            log.warning("grace_expired", cancelled=sum(not w.done() for w in workers))
            for worker in workers:
                worker.cancel()

    async def _worker(self, queue: deque[Job]) -> None:
        """Entries from the queue to their ends, each within its deadline, until the queue is
        empty or the pool stops. A deadline that passes fails its entry and the worker goes
        on; any other cancellation (a stop) skips the entry and ends the worker. Each entry's
        log context is bound in the worker's own context (a task's copy), where the next
        entry replaces it: nothing to unbind."""
        deadline = EntryDeadline(self._config.entry_deadline)
        try:
            while not self._stopping:
                try:
                    job = queue.popleft()
                except IndexError:
                    return
                started, tries = time.monotonic(), Attempts()
                bind_contextvars(entry=job.name, sandbox=job.sandbox)
                deadline.start()
                try:
                    result = await self._attempts(job, tries, started)
                except asyncio.CancelledError:
                    if not deadline.expired():
                        self._emit(_skipped(job, tries, started))
                        raise
                    result = _failed(job, tries, started, self._deadline_message(tries))
                else:
                    deadline.end()
                self._emit(result)
        finally:
            deadline.close()
            self._active -= 1
            if self._active == 0:
                self._idle.set()
                self._wake.set()

    def _emit(self, result: Result) -> None:
        self._done.add(EntryKey.of(result))
        self._on_result(result)

    def _deadline_message(self, tries: Attempts) -> str:
        message = (
            f"deadline of {self._config.entry_deadline:g}s passed after {tries.count} attempt(s)"
        )
        if tries.last is not None:
            message += f"; last error: {tries.last.message}"
        return message

    async def _attempts(self, job: Job, tries: Attempts, started: float) -> Result:
        """The job's attempts (``Retrier.run``), ended as a Result: failed with the error, or
        why retrying stopped; skipped when the pool stopped instead."""
        attempt = partial(self._provisioner.provision, job)
        try:
            done = await self._retrier.run(
                attempt, tries, stopping=lambda: self._stopping, budget=self._budget
            )
        except PermanentError as exc:
            return _failed(job, tries, started, exc.message)
        except RetryableError as exc:
            if tries.stopped:
                return _skipped(job, tries, started)
            return _failed(job, tries, started, tries.refused or exc.message)
        return Result(
            name=job.name,
            sandbox=job.sandbox,
            status=done.status,
            connection_id=done.connection_id,
            attempts=tries.count,
            http_status=done.http_status,
            duration_ms=_ms_since(started),
            verified=done.verified,
            request_id=done.request_id,
        )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
