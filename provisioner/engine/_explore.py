"""``explore``: the tables each selected entry's connection shows (and, with ``--columns``,
each table's columns), through the same pool, pacing and retries as ``apply``; sends no write.

An entry's connection comes from the state (the id the last run recorded), else from the
listing (the connection named like the entry), as ``plan`` finds it. A recorded id that
Platform no longer knows (404) is looked up by name once more. When Platform cannot list a
connection's tables, the same ``/test`` that ``apply --verify`` asks tells an unreachable
database from any other error.

At most ``--concurrency`` requests are in flight: the pool runs that many entries, and every
explore request of the run (a listing of tables, one table's columns, a test) waits for one
of that many slots. An entry retried by the pool keeps the columns it already read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from structlog.contextvars import bound_contextvars

from provisioner.aep import (
    ExploredTable,
    FlowClient,
    RateController,
    RetryBudget,
    Sleep,
    explore_columns,
    explore_tables,
)
from provisioner.engine._apply import (
    Key,
    RunOptions,
    known_entries,
    new_run_id,
    pool_config,
    resolve_jobs,
)
from provisioner.engine._discover import Action, decide, list_inventory, lookup_name
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._pool import Job, JobKind, Pool, Provisioned
from provisioner.engine._provision import ambiguous_message, reachable
from provisioner.engine._state import StateEntry, StateStore
from provisioner.errors import EntryError, PermanentError
from provisioner.manifest import Manifest
from provisioner.reports import (
    ColumnInfo,
    Exploration,
    ExploreStatus,
    Outcome,
    Result,
    TableInfo,
)
from provisioner.settings import Settings

__all__ = ["ExploreOptions", "ExploreRun"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExploreOptions:
    """Which entries (``--only``) and whether to read each table's columns (``--columns``)."""

    only: tuple[str, ...] = ()
    columns: bool = False


def _key(job: Job) -> Key:
    return (job.sandbox, job.name)


def _ended(
    job: Job,
    status: ExploreStatus,
    error: str,
    *,
    connection_id: str | None = None,
    error_code: str | None = None,
) -> Exploration:
    """An entry that was not explored, and why."""
    return Exploration(
        name=job.name,
        sandbox=job.sandbox,
        status=status,
        connection_id=connection_id,
        error=error,
        error_code=error_code,
    )


class _Explorer:
    """The pool's Provisioner for explore: one attempt at one entry's tables (and columns).

    What it found is kept in ``found``; an entry that ends here (explored, unreachable, gone)
    is answered ``Provisioned``, so the pool retries only what is worth retrying.
    """

    def __init__(self, client: FlowClient, *, columns: bool, slots: int) -> None:
        self._client = client
        self._columns = columns
        self._gate = asyncio.Semaphore(slots)
        self.found: dict[Key, Exploration] = {}
        self._tables: dict[Key, tuple[ExploredTable, ...]] = {}
        self._read: dict[tuple[Key, str], TableInfo] = {}

    async def provision(self, job: Job, attempt: int) -> Provisioned:
        key = _key(job)
        connection_id = job.connection_id or ""
        try:
            tables = await self._list(job, connection_id)
        except PermanentError as exc:
            self.found[key] = await self._not_explored(job, connection_id, exc)
            return Provisioned(
                status=Outcome.FAILED, connection_id=connection_id, http_status=exc.status
            )
        infos = await self._infos(job, connection_id, tables)
        unread = sum(info.error is not None for info in infos)
        status = ExploreStatus.FAILED if unread else ExploreStatus.EXPLORED
        self.found[key] = Exploration(
            name=job.name,
            sandbox=job.sandbox,
            status=status,
            connection_id=connection_id,
            tables=infos,
            error=f"the columns of {unread} table(s) could not be read" if unread else None,
        )
        outcome = Outcome.FAILED if unread else Outcome.EXISTING
        return Provisioned(status=outcome, connection_id=connection_id, http_status=200)

    async def _list(self, job: Job, connection_id: str) -> tuple[ExploredTable, ...]:
        key = _key(job)
        if key not in self._tables:
            async with self._gate:
                found = await explore_tables(self._client, connection_id, sandbox=job.sandbox)
            self._tables[key] = found
            log.debug("tables_listed", connection_id=connection_id, tables=len(found))
        return self._tables[key]

    async def _not_explored(self, job: Job, connection_id: str, exc: PermanentError) -> Exploration:
        if exc.status == 404:
            return await self._moved(job, connection_id, exc)
        async with self._gate:
            reach = await reachable(self._client, connection_id, sandbox=job.sandbox)
        status, error = ExploreStatus.FAILED, exc.message
        if reach is False:
            status, error = ExploreStatus.UNREACHABLE, f"database unreachable: {exc.message}"
        return _ended(job, status, error, connection_id=connection_id, error_code=exc.code)

    async def _moved(self, job: Job, connection_id: str, exc: PermanentError) -> Exploration:
        """The recorded connection is gone: explore the one now named like the entry, if any."""
        async with self._gate:
            found = await lookup_name(self._client, sandbox=job.sandbox, name=job.name)
        others = [c.id for c in found if c.id != connection_id]
        if len(found) == 1 and others:
            log.info("connection_moved", connection_id=connection_id, now=others[0])
            moved = dataclasses.replace(job, connection_id=others[0])
            await self.provision(moved, 1)
            return self.found[_key(job)]
        error = f"connection {connection_id} is gone ({exc.message}) and none is named so"
        return _ended(job, ExploreStatus.NO_CONNECTION, error, error_code=exc.code)

    async def _infos(
        self, job: Job, connection_id: str, tables: Sequence[ExploredTable]
    ) -> tuple[TableInfo, ...]:
        if not self._columns:
            return tuple(TableInfo(name=t.name, path=t.path) for t in tables)
        # gather, not a TaskGroup: every read ends (and is kept for the next attempt) before a
        # retryable failure goes up to the pool as itself, not inside an ExceptionGroup.
        ended = await asyncio.gather(
            *(self._info(job, connection_id, t) for t in tables), return_exceptions=True
        )
        infos: list[TableInfo] = []
        for item in ended:
            if isinstance(item, BaseException):
                raise item
            infos.append(item)
        return tuple(infos)

    async def _info(self, job: Job, connection_id: str, table: ExploredTable) -> TableInfo:
        done = (_key(job), table.path)
        if done in self._read:
            return self._read[done]
        if not table.can_fetch_schema:
            info = TableInfo(name=table.name, path=table.path, error="no schema to fetch")
        else:
            try:
                async with self._gate:
                    found = await explore_columns(
                        self._client, connection_id, sandbox=job.sandbox, path=table.path
                    )
            except PermanentError as exc:
                info = TableInfo(name=table.name, path=table.path, error=exc.message)
            else:
                columns = tuple(
                    ColumnInfo(name=c.name, type=c.type, xdm_type=c.xdm_type) for c in found
                )
                info = TableInfo(name=table.name, path=table.path, columns=columns)
        self._read[done] = info
        return info


def _recorded_id(known: StateEntry | None) -> str | None:
    if known is None or known.outcome in (Outcome.DELETED, Outcome.SKIPPED):
        return None
    return known.connection_id


class ExploreRun:
    """One ``explore``. ``stop()`` (from a signal handler) ends it gracefully: entries not
    explored by then are reported ``failed`` with the reason ``interrupted``."""

    def __init__(
        self,
        manifest: Manifest,
        settings: Settings,
        options: ExploreOptions,
        *,
        observer: RunObserver | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.manifest = manifest
        self.settings = settings
        self.options = options
        self.run_id = new_run_id()
        self.pacer = RateController(settings.limits.rate)
        self.interrupted = False
        self.requests: dict[str, int] = {}
        self._observer = observer or NullObserver()
        self._sleep = sleep
        self._rng = rng
        self._pool: Pool | None = None
        self._found: dict[Key, Exploration] = {}

    @property
    def started_sending(self) -> bool:
        """True once the pool runs: a second signal then cancels in-flight entries at once."""
        return self._pool is not None

    def stop(self, *, now: bool = False) -> None:
        self.interrupted = True
        if self._pool is not None:
            self._pool.stop(now=now)

    async def execute(self) -> list[Exploration]:
        """Every selected entry's exploration, in manifest order."""
        jobs = resolve_jobs(
            self.manifest, self.settings.default_sandbox, RunOptions(only=self.options.only)
        )
        chosen = [j for j in jobs if not self.options.only or j.name in self.options.only]
        with StateStore.open(self.settings.state_path) as state:
            known = known_entries(state, self.settings, chosen)
        with bound_contextvars(run_id=self.run_id):
            self._observer.start(len(chosen))
            try:
                await self._run(chosen, known)
            finally:
                self._observer.close()
        return [
            self._found.get(_key(j)) or _ended(j, ExploreStatus.FAILED, "interrupted")
            for j in chosen
        ]

    async def _run(self, chosen: list[Job], known: dict[Key, StateEntry]) -> None:
        if self.interrupted:  # stopped before it started: nothing is asked
            return
        async with FlowClient(self.settings, pacer=self.pacer) as client:
            await client.authenticate()
            work = await self._connections(client, chosen, known)
            if self.interrupted:
                return
            explorer = _Explorer(
                client, columns=self.options.columns, slots=self.settings.limits.concurrency
            )
            self._pool = Pool(
                explorer,
                pool_config(self.settings),
                on_result=lambda result: self._record(result, explorer),
                budget=RetryBudget(),
                sleep=self._sleep,
                rng=self._rng,
                rate_of=lambda: self.pacer.rate,
            )
            log.info("explore_started", entries=len(work), columns=self.options.columns)
            await self._pool.run(work)
            self.requests = dict(client.requests)

    async def _connections(
        self, client: FlowClient, chosen: list[Job], known: dict[Key, StateEntry]
    ) -> list[Job]:
        """The chosen entries with their connection ids: the state's, else the listing's.
        Entries without one (or with several, or unlisted in an outage) end here."""
        ids = {_key(j): i for j in chosen if (i := _recorded_id(known.get(_key(j)))) is not None}
        unknown = [j for j in chosen if _key(j) not in ids]
        if unknown:
            ids.update(await self._listed(client, unknown))
        return [
            dataclasses.replace(j, kind=JobKind.EXPLORE, connection_id=ids[_key(j)])
            for j in chosen
            if _key(j) in ids
        ]

    async def _listed(self, client: FlowClient, jobs: list[Job]) -> dict[Key, str]:
        """The connection ids the listing shows for ``jobs`` (those it shows exactly one of)."""
        try:
            inventory = await list_inventory(client, {j.sandbox for j in jobs})
        except EntryError as exc:
            log.error("listing_failed", error=exc.message, http_status=exc.status)
            error = f"could not read the existing connections: {exc.message}"
            for job in jobs:
                self._finish(_ended(job, ExploreStatus.FAILED, error, error_code=exc.code))
            return {}
        ids: dict[Key, str] = {}
        for job in jobs:
            decision = decide(inventory.named(job.sandbox, job.name))
            if decision.action is Action.CREATE:
                error = "no connection has this name (run apply first)"
                self._finish(_ended(job, ExploreStatus.NO_CONNECTION, error))
            elif decision.action is Action.AMBIGUOUS:
                self._finish(_ended(job, ExploreStatus.FAILED, ambiguous_message(decision)))
            else:
                ids[_key(job)] = decision.ids[0]
        return ids

    def _record(self, result: Result, explorer: _Explorer) -> None:
        """The pool's result for an entry; what the explorer found says more, when it ended."""
        key = (result.sandbox, result.name)
        found = explorer.found.get(key)
        if found is None or result.status is Outcome.SKIPPED:
            found = Exploration(
                name=result.name,
                sandbox=result.sandbox,
                status=ExploreStatus.FAILED,
                connection_id=result.connection_id,
                error=result.error or "not explored",
                error_code=result.error_code,
            )
        self._finish(found, result)

    def _finish(self, found: Exploration, result: Result | None = None) -> None:
        self._found[(found.sandbox, found.name)] = found
        log.info(
            "entry_explored",
            entry=found.name,
            status=found.status.value,
            connection_id=found.connection_id,
            tables=len(found.tables),
            error=found.error,
        )
        if result is None:
            result = Result(
                name=found.name,
                sandbox=found.sandbox,
                status=Outcome.FAILED,
                connection_id=found.connection_id,
                error=found.error,
            )
        self._observer.entry_finished(result)
        self._observer.rate_changed(self.pacer.rate)
