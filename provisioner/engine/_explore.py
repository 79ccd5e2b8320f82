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

from provisioner.aep import (
    ExploredTable,
    FlowClient,
    Sleep,
    explore_columns,
    explore_tables,
)
from provisioner.engine._discover import list_inventory, lookup_name
from provisioner.engine._domain import Action, EntryKey, Job, JobKind, ambiguous_message, decide
from provisioner.engine._entries import RunOptions, known_entries, resolve_jobs
from provisioner.engine._observer import RunObserver
from provisioner.engine._pool import Provisioned
from provisioner.engine._provision import reachable
from provisioner.engine._run import ReadOnly, Run
from provisioner.engine._state import StateEntry
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

__all__ = ["ExploreOptions", "ExploreRun", "ExploreStrategy"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExploreOptions:
    """Which entries (``--only``) and whether to read each table's columns (``--columns``)."""

    only: tuple[str, ...] = ()
    columns: bool = False


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
        self.found: dict[EntryKey, Exploration] = {}
        self._tables: dict[EntryKey, tuple[ExploredTable, ...]] = {}
        self._read: dict[tuple[EntryKey, str], TableInfo] = {}

    async def provision(self, job: Job, attempt: int) -> Provisioned:
        key = job.key
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
        key = job.key
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
            return self.found[job.key]
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
        done = (job.key, table.path)
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


def _as_result(found: Exploration) -> Result:
    """An entry that ended before the pool, as the run records it (log, progress)."""
    return Result(
        name=found.name,
        sandbox=found.sandbox,
        status=Outcome.FAILED,
        connection_id=found.connection_id,
        error=found.error,
        error_code=found.error_code,
    )


def _from_result(result: Result) -> Exploration:
    """An entry the pool ended without the explorer's word (gave up, deadline, stop)."""
    return Exploration(
        name=result.name,
        sandbox=result.sandbox,
        status=ExploreStatus.FAILED,
        connection_id=result.connection_id,
        error=result.error or "not explored",
        error_code=result.error_code,
    )


class ExploreStrategy(ReadOnly):
    """``explore`` in the run skeleton: reads the state (without the lock) and the API, sends
    no write; its run returns every selected entry's Exploration, in manifest order."""

    def __init__(self, manifest: Manifest, options: ExploreOptions) -> None:
        self.manifest = manifest
        self.options = options
        self._chosen: list[Job] = []
        self._known: dict[EntryKey, StateEntry] = {}
        self._ended: dict[EntryKey, Exploration] = {}  # before the pool: no connection, ...
        self._explorer: _Explorer | None = None

    def prepare(self, run: Run[list[Exploration]]) -> Sequence[Job]:
        only = self.options.only
        jobs = resolve_jobs(self.manifest, run.settings.default_sandbox, RunOptions(only=only))
        self._chosen = [j for j in jobs if not only or j.name in only]
        self._known = known_entries(run.state, run.settings, self._chosen)
        return self._chosen

    async def act(self, run: Run[list[Exploration]]) -> None:
        if run.interrupted:  # stopped before it started: nothing is asked
            return
        ids = {j.key: i for j in self._chosen if (i := _recorded_id(self._known.get(j.key)))}
        unknown = [j for j in self._chosen if j.key not in ids]
        if unknown:
            ids.update(await self._listed(run, unknown))
        work = [
            dataclasses.replace(j, kind=JobKind.EXPLORE, connection_id=ids[j.key])
            for j in self._chosen
            if j.key in ids
        ]
        self._explorer = _Explorer(
            run.client, columns=self.options.columns, slots=run.settings.limits.concurrency
        )
        log.info("explore_started", entries=len(work), columns=self.options.columns)
        await run.send(work, self._explorer)

    async def _listed(self, run: Run[list[Exploration]], jobs: list[Job]) -> dict[EntryKey, str]:
        """The connection ids the listing shows for ``jobs`` (those it shows exactly one of);
        the others end here."""
        try:
            inventory = await list_inventory(run.client, {j.sandbox for j in jobs})
        except EntryError as exc:
            log.error("listing_failed", error=exc.message, http_status=exc.status)
            error = f"could not read the existing connections: {exc.message}"
            for job in jobs:
                self._end(run, _ended(job, ExploreStatus.FAILED, error, error_code=exc.code))
            return {}
        ids: dict[EntryKey, str] = {}
        for job in jobs:
            decision = decide(inventory.named(job.key))
            if decision.action is Action.CREATE:
                error = "no connection has this name (run apply first)"
                self._end(run, _ended(job, ExploreStatus.NO_CONNECTION, error))
            elif decision.action is Action.AMBIGUOUS:
                self._end(run, _ended(job, ExploreStatus.FAILED, ambiguous_message(decision)))
            else:
                ids[job.key] = decision.ids[0]
        return ids

    def _end(self, run: Run[list[Exploration]], found: Exploration) -> None:
        self._ended[EntryKey.of(found)] = found
        run.record(_as_result(found))

    def outcome(self, run: Run[list[Exploration]]) -> list[Exploration]:
        return [self._exploration(run, job) for job in self._chosen]

    def _exploration(self, run: Run[list[Exploration]], job: Job) -> Exploration:
        ended = self._ended.get(job.key)
        if ended is not None:
            return ended
        result = run.results.get(job.key)
        if result is None:
            return _ended(job, ExploreStatus.FAILED, "interrupted")
        found = self._explorer.found.get(job.key) if self._explorer else None
        if found is None or result.status is Outcome.SKIPPED:
            return _from_result(result)
        return found


class ExploreRun(Run[list[Exploration]]):
    """One ``explore`` in the run skeleton. ``stop()`` (from a signal handler) ends it
    gracefully: entries not explored by then are reported ``failed``, ``interrupted``."""

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
        super().__init__(
            ExploreStrategy(manifest, options), settings, observer=observer, sleep=sleep, rng=rng
        )
