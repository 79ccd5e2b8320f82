"""One run of ``apply``: manifest + state + listing + pool + report. ``plan`` shares the
decision step (``decide_jobs``) and sends no write."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from structlog.contextvars import bound_contextvars

from provisioner.aep import Connection, FlowClient, RateController, RetryBudget, Sleep
from provisioner.engine._discover import Action, list_inventory
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._pool import Job, JobKind, Pool, PoolConfig
from provisioner.engine._reconcile import Planned, Reconciler, decide_jobs
from provisioner.engine._state import RunLock, StateEntry, StateStore
from provisioner.errors import ConfigError, ProvisionError
from provisioner.manifest import Manifest, effective_sandbox
from provisioner.reports import Outcome, Report, Result
from provisioner.settings import Settings

__all__ = [
    "ApplyRun",
    "Planned",
    "RunOptions",
    "decide_jobs",
    "fingerprints",
    "known_entries",
    "new_run_id",
    "orphan_jobs",
    "pool_config",
    "resolve_jobs",
]

log = structlog.get_logger(__name__)

Key = tuple[str, str]  # (sandbox, name): names are unique per manifest, orphans per sandbox


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """Which entries to act on (``--only``, ``--retry-failed``) and the extras (``--prune``,
    ``--verify``)."""

    only: tuple[str, ...] = ()
    retry_failed: bool = False
    prune: bool = False
    verify: bool = False

    def wants(self, name: str, known: StateEntry | None) -> bool:
        """Whether the entry is part of this run. ``--retry-failed`` takes every entry not yet
        known to be done: last outcome failed or skipped, or never attempted (no row: e.g. a
        ``kill -9`` came before its outcome was committed)."""
        if self.only and name not in self.only:
            return False
        if self.retry_failed:
            return known is None or known.outcome in (Outcome.FAILED, Outcome.SKIPPED)
        return True


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def resolve_jobs(
    manifest: Manifest, default_sandbox: str, options: RunOptions | None = None
) -> list[Job]:
    """The manifest's entries as jobs, each in its sandbox; ConfigError for an ``--only`` name
    the manifest does not have (a typo must not silently act on nothing)."""
    jobs = [
        Job.of(spec, effective_sandbox(spec, manifest, default_sandbox))
        for spec in manifest.databases
    ]
    unknown = sorted(set(options.only) - {job.name for job in jobs}) if options else []
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ConfigError(f"--only: no entry named {names} in {manifest.path}")
    return jobs


def known_entries(
    state: StateStore, settings: Settings, jobs: Sequence[Job]
) -> dict[Key, StateEntry]:
    """State rows for the jobs (each in its own sandbox's target)."""
    known: dict[Key, StateEntry] = {}
    for sandbox in {job.sandbox for job in jobs}:
        rows = state.entries(settings.target(sandbox))
        known.update(((sandbox, name), row) for name, row in rows.items())
    return known


def fingerprints(state: StateStore, jobs: Sequence[Job]) -> dict[Key, str]:
    """Each job's fingerprint under the state's key (for drift: ``plan`` shows ``update``)."""
    return {(j.sandbox, j.name): state.fingerprint(j.spec) for j in jobs if j.spec is not None}


def orphan_jobs(
    state: StateStore, settings: Settings, jobs: Sequence[Job], options: RunOptions
) -> list[Job]:
    """Connections this tool created whose entries left the manifest: delete jobs."""
    if options.retry_failed:
        return []
    keep = {(settings.target(j.sandbox), j.name) for j in jobs}
    return [
        Job(
            name=entry.name,
            sandbox=target.rsplit("|", 1)[1],
            kind=JobKind.DELETE,
            connection_id=entry.connection_id,
        )
        for target, entry in state.orphans(settings.target_base, keep)
        if not options.only or entry.name in options.only
    ]


def pool_config(settings: Settings) -> PoolConfig:
    return PoolConfig(
        concurrency=settings.limits.concurrency,
        backoff=settings.backoff,
        entry_deadline=settings.timeouts.entry,
        grace=settings.timeouts.grace,
    )


class ApplyRun:
    """The main job. ``stop()`` (from a signal handler) ends it gracefully."""

    def __init__(
        self,
        manifest: Manifest,
        settings: Settings,
        options: RunOptions,
        *,
        observer: RunObserver | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.manifest = manifest
        self.settings = settings
        self.options = options
        self.run_id = new_run_id()
        self.pacer = RateController(settings.limits.rate)
        self.results: dict[Key, Result] = {}
        self.not_selected: set[Key] = set()  # left out by --only / --retry-failed
        self.interrupted = False
        self.requests: dict[str, int] = {}
        self.statuses: dict[int, int] = {}  # HTTP answers by status (the client's own counts)
        self._observer = observer or NullObserver()
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._pool: Pool | None = None
        self._state: StateStore | None = None
        self._fingerprints: dict[Key, str] = {}
        self._intents: dict[Key, str | None] = {}  # creates sent earlier, outcome unrecorded
        self._log = log

    @property
    def report_path(self) -> Path:
        default = self.manifest.path.parent / "reports" / f"{self.run_id}.json"
        return self.settings.report_path or default

    @property
    def started_sending(self) -> bool:
        """True once creates may have been sent (the pool started): a second signal then
        cancels them at once, and the report is still written."""
        return self._pool is not None

    def stop(self, *, now: bool = False) -> None:
        self.interrupted = True
        if self._pool is not None:
            self._pool.stop(now=now)

    async def execute(self) -> Report:
        started = datetime.now(UTC)
        # Bound once: an event per entry then costs no logger set-up. Events go through the
        # structlog configuration in force when the run starts.
        self._log = log.bind()
        jobs = resolve_jobs(self.manifest, self.settings.default_sandbox, self.options)
        orphans: list[Job] = []
        with (
            bound_contextvars(run_id=self.run_id),
            RunLock(self.settings.state_path),
            StateStore.open(self.settings.state_path) as state,
        ):
            self._state = state
            try:
                if self.options.prune:
                    orphans = orphan_jobs(state, self.settings, jobs, self.options)
                await self._run(jobs, orphans, state)
            finally:
                self._observer.close()
                self._state = None
        selected = [j for j in [*jobs, *orphans] if _key(j) not in self.not_selected]
        for job in selected:
            self.results.setdefault(_key(job), _skipped(job, "interrupted"))
        return Report(
            run_id=self.run_id,
            manifest=str(self.manifest.path),
            started_at=started,
            finished_at=datetime.now(UTC),
            results=tuple(self.results[_key(job)] for job in selected),
            not_selected=len(self.not_selected),
            http_statuses=dict(self.statuses),
        )

    async def _run(self, jobs: list[Job], orphans: list[Job], state: StateStore) -> None:
        known = known_entries(state, self.settings, jobs)
        chosen = [job for job in jobs if self.options.wants(job.name, known.get(_key(job)))]
        self.not_selected = {_key(job) for job in jobs} - {_key(job) for job in chosen}
        self._observer.start(len(chosen) + len(orphans))
        self._fingerprints = fingerprints(state, chosen)
        for sandbox in {j.sandbox for j in chosen}:
            for name, fp in state.intents(self.settings.target(sandbox)).items():
                self._intents[(sandbox, name)] = fp
        async with FlowClient(self.settings, pacer=self.pacer) as client:
            self.statuses = client.statuses
            try:
                await client.authenticate()
                inventory = await list_inventory(client, {j.sandbox for j in chosen})
            except ProvisionError as exc:  # an outage before anything was sent: say so per entry
                log.error("listing_failed", error=exc.message, http_status=exc.status)
                for job in chosen:
                    self._record(_not_listed(job, exc))
                return
            reconciler = Reconciler.for_run(
                client,
                self.settings,
                verify=self.options.verify,
                sleep=self._sleep,
                clock=self._clock,
                rng=self._rng,
            )
            work = await self._start(
                reconciler, decide_jobs(chosen, inventory, known, self._fingerprints), known
            )
            if self.interrupted:
                return
            self._pool = Pool(
                reconciler.provisioner,
                pool_config(self.settings),
                on_result=self._record,
                budget=RetryBudget(),
                sleep=self._sleep,
                rng=self._rng,
                rate_of=lambda: self.pacer.rate,
            )
            self._intend(state, work)
            log.info(
                "work_started",
                create=sum(j.kind is JobKind.CREATE for j in work),
                update=sum(j.kind is JobKind.UPDATE for j in work),
                delete=len(orphans),
                done_already=len(self.results),
            )
            try:
                await self._pool.run([*work, *orphans])
            finally:
                self._drop_unmade_intents(state, work)
            await self._read_back(reconciler, work)
            self.requests = dict(client.requests)

    async def _start(
        self, reconciler: Reconciler, planned: list[Planned], known: dict[Key, StateEntry]
    ) -> list[Job]:
        """What the listing (and the settle window, reads by id, convergence) leaves to send;
        entries already there are recorded."""
        planned = await reconciler.wait_for_unrecorded(
            planned, self._intents, known, self._fingerprints, stopping=lambda: self.interrupted
        )
        for item in planned:
            if item.decision.action is Action.EXISTS:
                self._check_intent(item.job, item.copies)
        settled = await reconciler.settle(planned, known)
        for result in settled.ended:
            self._record(result)
        return settled.work

    async def _read_back(self, reconciler: Reconciler, work: list[Job]) -> None:
        """Before the run ends: one listing pass per sandbox confirms that each name this run
        created has one connection; extra copies are converged."""
        if self.interrupted:
            return
        created = [
            _key(job)
            for job in work
            if (r := self.results.get(_key(job))) is not None and r.status is Outcome.CREATED
        ]
        try:
            changed = await reconciler.read_back(self.results, created)
        except ProvisionError as exc:
            log.warning("read_back_failed", error=exc.message, http_status=exc.status)
            return
        for result in changed:
            self.results[_key_of(result)] = result
            self._remember(result)
            self._log.info(
                "entry_converged",
                entry=result.name,
                status=result.status.value,
                connection_id=result.connection_id,
                removed_duplicates=list(result.removed_duplicates),
                error=result.error,
            )

    def _check_intent(self, job: Job, copies: tuple[Connection, ...]) -> None:
        """An intent makes a found connection ours only if our client created it (when the
        API says who did): a name another tool took meanwhile is never pruned as ours."""
        key = _key(job)
        if key not in self._intents or not copies:
            return
        creator = copies[0].created_client
        if creator is not None and creator != self.settings.credentials.client_id:
            del self._intents[key]

    def _intend(self, state: StateStore, work: list[Job]) -> None:
        state.intend(
            (
                (self.settings.target(job.sandbox), job.name, self._fingerprints.get(_key(job)))
                for job in work
                if job.kind is JobKind.CREATE
            ),
            run_id=self.run_id,
        )

    def _drop_unmade_intents(self, state: StateStore, work: list[Job]) -> None:
        """Intents of creates that were never sent, or that the API refused outright."""
        ended = (self.results.get(_key(job)) for job in work if job.kind is JobKind.CREATE)
        state.drop_intents(
            (self.settings.target(result.sandbox), result.name)
            for result in ended
            if result is not None and _surely_not_created(result)
        )

    def _remember(self, result: Result) -> None:
        if self._state is None or result.status is Outcome.SKIPPED:
            return
        key = (result.sandbox, result.name)
        target = self.settings.target(result.sandbox)
        if result.status is Outcome.DELETED:
            self._state.forget(target, result.name)
            return
        fingerprint = None
        ours = result.status is Outcome.EXISTING and key in self._intents
        if result.status in (Outcome.CREATED, Outcome.UPDATED):
            fingerprint = self._fingerprints.get(key)
        elif ours:  # an earlier run's create, whose answer was lost with its process
            fingerprint = self._intents[key]
        self._state.record(target, result, run_id=self.run_id, fingerprint=fingerprint, ours=ours)

    def _record(self, result: Result) -> None:
        self.results[(result.sandbox, result.name)] = result
        self._remember(result)
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


def _key(job: Job) -> Key:
    return (job.sandbox, job.name)


def _key_of(result: Result) -> Key:
    return (result.sandbox, result.name)


def _surely_not_created(result: Result) -> bool:
    """Never sent, or refused with a definite 4xx (not 408/429): no connection was made."""
    if result.status not in (Outcome.FAILED, Outcome.SKIPPED):
        return False
    status = result.http_status
    return result.attempts == 0 or (
        status is not None and 400 <= status < 500 and status not in (408, 429)
    )


def _not_listed(job: Job, exc: ProvisionError) -> Result:
    return Result(
        name=job.name,
        sandbox=job.sandbox,
        status=Outcome.FAILED,
        http_status=exc.status,
        error=f"could not read the existing connections, so nothing was sent: {exc.message}",
        error_code=exc.code,
        request_id=exc.request_id,
    )


def _skipped(job: Job, why: str) -> Result:
    return Result(name=job.name, sandbox=job.sandbox, status=Outcome.SKIPPED, error=why)
