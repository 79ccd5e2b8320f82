"""One run of ``apply`` (and ``plan``): manifest + state + listing + pool + report."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from structlog.contextvars import bound_contextvars

from provisioner.backoff import RateController, RetryBudget, Sleep
from provisioner.client import FlowClient
from provisioner.discover import Action, Decision, Inventory, decide, list_inventory, lookup_name
from provisioner.errors import PermanentError, RetryableError
from provisioner.manifest import Manifest
from provisioner.pool import Job, Pool, PoolConfig, Provisioned
from provisioner.progress import NullObserver, RunObserver
from provisioner.report import Outcome, Report, Result
from provisioner.request import connection_body
from provisioner.settings import Settings
from provisioner.state import RunLock, StateEntry, StateStore

__all__ = [
    "ApplyRun",
    "ConnectionProvisioner",
    "Selection",
    "ambiguous_message",
    "known_entries",
    "new_run_id",
    "resolve_jobs",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """``--only`` names and ``--retry-failed``."""

    only: tuple[str, ...] = ()
    retry_failed: bool = False

    def wants(self, job: Job, known: StateEntry | None) -> bool:
        if self.only and job.name not in self.only:
            return False
        if self.retry_failed:
            return known is not None and known.outcome in (Outcome.FAILED, Outcome.SKIPPED)
        return True


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def resolve_jobs(manifest: Manifest, default_sandbox: str) -> list[Job]:
    fallback = manifest.sandbox or default_sandbox
    return [Job(spec=spec, sandbox=spec.sandbox or fallback) for spec in manifest.databases]


class ConnectionProvisioner:
    """One attempt at one entry: create it, or find the create an earlier attempt may have made."""

    def __init__(self, client: FlowClient) -> None:
        self._client = client
        self._uncertain: set[str] = set()

    async def provision(self, job: Job, attempt: int) -> Provisioned:
        if job.name in self._uncertain:
            found = await lookup_name(self._client, sandbox=job.sandbox, name=job.name)
            decision = decide(found)
            if decision.action is Action.AMBIGUOUS:
                raise PermanentError(ambiguous_message(decision))
            if decision.action is Action.EXISTS:
                log.info("create_found_after_lost_answer", connection_id=decision.ids[0])
                return Provisioned(status=Outcome.CREATED, connection_id=decision.ids[0])
            self._uncertain.discard(job.name)
        try:
            created = await self._client.create_connection(
                connection_body(job), sandbox=job.sandbox
            )
        except RetryableError as exc:
            if exc.sent and exc.status != 429:
                self._uncertain.add(job.name)  # it may have landed: look before sending again
            raise
        log.debug("entry_created", connection_id=created.id, attempt=attempt)
        return Provisioned(
            status=Outcome.CREATED, connection_id=created.id, http_status=created.status
        )


def ambiguous_message(decision: Decision) -> str:
    return f"{len(decision.ids)} connections already have this name: {', '.join(decision.ids)}"


def _targets(settings: Settings, jobs: Iterable[Job]) -> dict[str, str]:
    return {job.sandbox: settings.target(job.sandbox) for job in jobs}


def known_entries(
    state: StateStore, settings: Settings, jobs: Sequence[Job]
) -> dict[str, StateEntry]:
    """State rows for the jobs, by name (each job's own target)."""
    known: dict[str, StateEntry] = {}
    for sandbox, target in _targets(settings, jobs).items():
        rows = state.entries(target)
        known.update(
            (j.name, rows[j.name]) for j in jobs if j.sandbox == sandbox and j.name in rows
        )
    return known


class ApplyRun:
    """The main job. ``stop()`` (from a signal handler) ends it gracefully."""

    def __init__(
        self,
        manifest: Manifest,
        settings: Settings,
        selection: Selection,
        *,
        observer: RunObserver | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.manifest = manifest
        self.settings = settings
        self.selection = selection
        self.run_id = new_run_id()
        self.pacer = RateController(settings.limits.rate)
        self.results: dict[str, Result] = {}
        self.inventory: Inventory | None = None
        self.interrupted = False
        self.requests: dict[str, int] = {}
        self._observer = observer or NullObserver()
        self._sleep = sleep
        self._rng = rng
        self._pool: Pool | None = None
        self._state: StateStore | None = None
        self._fingerprints: dict[str, str] = {}

    @property
    def report_path(self) -> Path:
        default = self.manifest.path.parent / "reports" / f"{self.run_id}.json"
        return self.settings.report_path or default

    def stop(self) -> None:
        self.interrupted = True
        if self._pool is not None:
            self._pool.stop()

    async def execute(self) -> Report:
        started = datetime.now(UTC)
        jobs = resolve_jobs(self.manifest, self.settings.default_sandbox)
        with (
            bound_contextvars(run_id=self.run_id),
            RunLock(self.settings.state_path),
            StateStore.open(self.settings.state_path) as state,
        ):
            self._state = state
            try:
                await self._run(jobs, state)
            finally:
                self._observer.close()
                self._state = None
        for job in jobs:
            if job.name not in self.results:
                self.results[job.name] = _skipped(job, "interrupted")
        return Report(
            run_id=self.run_id,
            manifest=str(self.manifest.path),
            started_at=started,
            finished_at=datetime.now(UTC),
            results=tuple(self.results[j.name] for j in jobs),
        )

    async def _run(self, jobs: list[Job], state: StateStore) -> None:
        known = known_entries(state, self.settings, jobs)
        chosen = [j for j in jobs if self.selection.wants(j, known.get(j.name))]
        self._observer.start(len(jobs))
        for job in jobs:
            if job not in chosen:
                self._record(_skipped(job, "not selected by --only/--retry-failed"))
        self._fingerprints = {j.name: state.fingerprint(j.spec) for j in chosen}
        async with FlowClient(self.settings, pacer=self.pacer) as client:
            await client.authenticate()
            self.inventory = await list_inventory(client, {j.sandbox for j in chosen})
            to_create = self._settle_known(chosen, self.inventory)
            if self.interrupted:
                return
            self._pool = Pool(
                ConnectionProvisioner(client),
                self._pool_config(),
                on_result=self._record,
                budget=RetryBudget(),
                sleep=self._sleep,
                rng=self._rng,
                rate_of=lambda: self.pacer.rate,
            )
            await self._pool.run(to_create)
            self.requests = dict(client.requests)

    def _pool_config(self) -> PoolConfig:
        s = self.settings
        return PoolConfig(
            concurrency=s.limits.concurrency,
            backoff=s.backoff,
            entry_deadline=s.timeouts.entry,
            grace=s.timeouts.grace,
        )

    def _settle_known(self, chosen: list[Job], inventory: Inventory) -> list[Job]:
        """Entries already there end ``existing`` (or ``failed`` when ambiguous); the rest
        are returned, to be created."""
        to_create: list[Job] = []
        for job in chosen:
            decision = decide(inventory.named(job.sandbox, job.name))
            if decision.action is Action.CREATE:
                to_create.append(job)
            elif decision.action is Action.EXISTS:
                self._record(_existing(job, decision))
            else:
                self._record(_failed_ambiguous(job, decision))
        return to_create

    def _record(self, result: Result) -> None:
        self.results[result.name] = result
        if self._state is not None and result.status is not Outcome.SKIPPED:
            target = self.settings.target(result.sandbox)
            fingerprint = self._fingerprints.get(result.name) if result.ok else None
            self._state.record(target, result, run_id=self.run_id, fingerprint=fingerprint)
        log.info(
            "entry_finished",
            entry=result.name,
            status=result.status.value,
            connection_id=result.connection_id,
            attempts=result.attempts,
            http_status=result.http_status,
            duration_ms=result.duration_ms,
            error=result.error,
        )
        self._observer.entry_finished(result)
        self._observer.rate_changed(self.pacer.rate)


def _skipped(job: Job, why: str) -> Result:
    return Result(name=job.name, sandbox=job.sandbox, status=Outcome.SKIPPED, error=why)


def _existing(job: Job, decision: Decision) -> Result:
    return Result(
        name=job.name,
        sandbox=job.sandbox,
        status=Outcome.EXISTING,
        connection_id=decision.connection_id,
    )


def _failed_ambiguous(job: Job, decision: Decision) -> Result:
    return Result(
        name=job.name, sandbox=job.sandbox, status=Outcome.FAILED, error=ambiguous_message(decision)
    )
